"""Which offer pays: the smallest whose incremental margin's interval lies above zero, not
the one that earned most; none while no interval clears zero."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from bot.promo.campaigns.analytics import (
    Figures,
    Outcomes,
    Stats,
    VariantResult,
    incremental_margin,
)
from bot.promo.campaigns.confidence import Moments

NOW = datetime(2026, 6, 1, tzinfo=UTC)
# Each list of margins stands for this many customers alike: enough for an interval
# that may be read every day to prove a clear difference.
COPIES = 20


def moments(values: list[int]) -> Moments:
    ys = [float(v) for v in values] * COPIES
    return Moments(len(ys), len(ys), len(ys), sum(ys), sum(ys), sum(y * y for y in ys))


def group(margins: list[int]) -> Figures:
    buyers = sum(1 for m in margins if m) * COPIES
    outcomes = Outcomes(moments([1 if m else 0 for m in margins]), moments(margins),
                        moments(margins))
    return Figures(audience=len(margins) * COPIES, buyers=buyers,
                   margin_sum=float(sum(margins) * COPIES), by_arm=outcomes, by_group=outcomes)


HOLDOUT = group([100, 0, 0, 0, 0, 0, 0, 0, 0, 0])


def variant(variant_id: int, percent: int, margins: list[int]) -> VariantResult:
    return VariantResult.against(variant_id, f"V{percent}", Decimal(percent), group(margins),
                                 HOLDOUT)


def stats(*variants: VariantResult) -> Stats:
    return Stats(1, NOW, NOW, 0, 0, 0, 0.3, sum((v.figures for v in variants), Figures()),
                 HOLDOUT, variants)


def test_the_smallest_proven_offer_pays_even_if_a_larger_one_earned_more() -> None:
    big = variant(1, 15, [900] * 9 + [800])
    small = variant(2, 5, [300] * 9 + [250])
    unproven = variant(3, 3, [150, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    assert big.incremental.difference > small.incremental.difference > 0
    assert unproven.incremental.low < 0
    assert stats(big, small, unproven).paying is small


def test_none_pays_without_proof() -> None:
    assert stats(variant(1, 10, [150, 0, 0, 0, 0, 0, 0, 0, 0, 0])).paying is None
    # One customer is no spread to measure.
    one = Figures(audience=1, by_arm=Outcomes(margin=Moments(1, 1, 1, 500, 500, 250_000)))
    assert incremental_margin(one, HOLDOUT) is None
