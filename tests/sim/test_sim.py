"""The shop simulator, small: one campaign's life through the campaign run, the outbox,
the sender against the fake Bot API and the shop API, its report against the truth (the
full runs over 100 seeds are `python -m tests.sim`, figures in the README)."""

from __future__ import annotations

import dataclasses

from tests.conftest import POSTGRES_URL
from tests.sim.__main__ import COVERAGE, NO_EFFECT, OPTIMISE
from tests.sim.shop import (
    covered,
    describe,
    ever_significant,
    fixed_interval_called,
    later_share,
    margin_against_oracle,
    simulate,
)


async def test_the_report_holds_the_true_uplift() -> None:
    result = await simulate(dataclasses.replace(COVERAGE, days=12), seed=3,
                            database_url=POSTGRES_URL)
    print("\n".join(describe(result)))
    (variant,) = result.stats.variants
    # Everyone who entered was assigned: about half to the holdout, the rest got a code
    # and their message, and the codes used came back through the shop API.
    assert variant.figures.audience + result.stats.holdout.audience == 12 * 20
    assert variant.figures.delivered == variant.figures.audience
    assert 0 < variant.figures.redeemed == variant.figures.buyers
    assert covered(result) == {10: True}


async def test_no_effect_read_daily_is_not_called_a_winner() -> None:
    """A campaign that changes nothing, read every day: the report never calls it, where
    the fixed-sample interval it showed before would have on one of those days."""
    result = await simulate(dataclasses.replace(NO_EFFECT, days=12, looks=19), seed=1,
                            database_url=POSTGRES_URL)
    print("\n".join(describe(result)))
    assert len(result.looks) == 19 and not ever_significant(result)
    assert fixed_interval_called(result)


async def test_the_optimiser_moves_new_recipients_to_the_most_profitable_offer() -> None:
    result = await simulate(dataclasses.replace(OPTIMISE, days=16, per_day=90), seed=1,
                            database_url=POSTGRES_URL)
    print("\n".join(describe(result)))
    assert later_share(result, 10, after_day=8) > 0.6
    assert margin_against_oracle(result) >= 0.85
    steering = result.stats.steering
    assert steering is not None and not steering.learning
