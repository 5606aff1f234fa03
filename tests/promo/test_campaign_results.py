"""Which offer pays: the smallest whose incremental margin's interval lies above zero, not
the one that earned most; none while no interval clears zero."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from bot.promo.campaigns.analytics import (
    Figures,
    Stats,
    VariantResult,
    incremental_margin,
    uplift,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def group(margins: list[int]) -> Figures:
    buyers = sum(1 for m in margins if m)
    return Figures(audience=len(margins), buyers=buyers, margin_sum=float(sum(margins)),
                   margin_squares=float(sum(m * m for m in margins)))


HOLDOUT = group([100, 0, 0, 0, 0, 0, 0, 0, 0, 0])


def variant(variant_id: int, percent: int, margins: list[int]) -> VariantResult:
    figures = group(margins)
    return VariantResult(variant_id, f"V{percent}", Decimal(percent), figures,
                         uplift(figures, HOLDOUT), incremental_margin(figures, HOLDOUT))


def stats(*variants: VariantResult) -> Stats:
    return Stats(1, NOW, NOW, 0, 0, 0, 0.3, sum((v.figures for v in variants), Figures()),
                 HOLDOUT, variants)


def test_the_smallest_proven_offer_pays_even_if_a_larger_one_earned_more() -> None:
    big = variant(1, 15, [900] * 9 + [800])
    small = variant(2, 5, [300] * 9 + [250])
    unproven = variant(3, 3, [1000, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    assert big.incremental.difference > small.incremental.difference > 0
    assert unproven.incremental.low < 0
    assert stats(big, small, unproven).paying is small


def test_none_pays_without_proof() -> None:
    assert stats(variant(1, 10, [1000, 0, 0, 0, 0, 0, 0, 0, 0, 0])).paying is None
    # One customer is no spread to measure.
    assert incremental_margin(group([500]), HOLDOUT) is None
