"""The reports' intervals stay true when read every day, and weigh customers by the chance
of their group: checked on simulated campaigns whose truth is known (a fixed seed, so a
run is repeatable), against what a fixed-sample interval would have said."""

from __future__ import annotations

import math

import numpy as np

from bot.promo.campaigns.confidence import Moments, effect, sample_ratio

DAYS, PER_DAY, CAMPAIGNS = 30, 60, 100
Z95 = 1.959963984540054


def moments(ys: np.ndarray, weights: np.ndarray | None = None) -> Moments:
    w = np.ones_like(ys) if weights is None else weights
    return Moments(len(ys), float(w.sum()), float((w * w).sum()), float((w * ys).sum()),
                   float((w * w * ys).sum()), float((w * w * ys * ys).sum()))


def fixed_interval(treated: np.ndarray, control: np.ndarray) -> tuple[float, float]:
    p1, p0 = treated.mean(), control.mean()
    se = math.sqrt(p1 * (1 - p1) / len(treated) + p0 * (1 - p0) / len(control))
    return p1 - p0 - Z95 * se, p1 - p0 + Z95 * se


def daily_looks(rng: np.random.Generator, rate: float, base: float
                ) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """One campaign: each day's customers split half and half, the treated buying at
    `rate` and the holdout at `base`; the always-valid and the fixed interval of every
    day's look at everything so far."""
    treated = rng.random(DAYS * PER_DAY // 2) < rate
    control = rng.random(DAYS * PER_DAY // 2) < base
    valid, fixed = [], []
    for day in range(1, DAYS + 1):
        seen = day * PER_DAY // 2
        t, c = treated[:seen].astype(float), control[:seen].astype(float)
        found = effect(moments(t), moments(c))
        assert found is not None
        valid.append((found.low, found.high))
        fixed.append(fixed_interval(t, c))
    return valid, fixed


def test_no_effect_read_daily_for_a_month_is_rarely_called_significant() -> None:
    rng = np.random.default_rng(2026)
    called = fixed_called = 0
    for _ in range(CAMPAIGNS):
        valid, fixed = daily_looks(rng, 0.2, 0.2)
        called += any(low > 0 or high < 0 for low, high in valid)
        fixed_called += any(low > 0 or high < 0 for low, high in fixed)
    assert called <= 7, called
    # What the reports did before: a fixed interval read daily finds false winners.
    assert fixed_called >= 15, fixed_called


def test_a_true_uplift_is_covered_at_every_look() -> None:
    rng = np.random.default_rng(7)
    covered = 0
    for _ in range(CAMPAIGNS):
        valid, _fixed = daily_looks(rng, 0.3, 0.2)
        covered += all(low <= 0.1 <= high for low, high in valid)
    assert covered >= 90, covered


def test_a_split_that_moved_is_weighed_back_to_like_with_like() -> None:
    """No true effect, but the variant took 80 % of the treated while customers bought
    more (the first half) and 20 % after: counted plainly, it looks 9 points better;
    weighed by the chance each customer had, it is level with the holdout."""
    cohorts = [  # (customers, holdout chance, variant chance, buying rate)
        (1000, 0.2, 0.8 * 0.8, 0.4),
        (1000, 0.2, 0.8 * 0.2, 0.1),
    ]
    held, held_w, variant, variant_w = [], [], [], []
    for customers, holdout, chance, rate in cohorts:
        for group, weights, share in ((held, held_w, holdout), (variant, variant_w, chance)):
            size = round(customers * share)
            buyers = round(size * rate)
            group += [1.0] * buyers + [0.0] * (size - buyers)
            weights += [1 / share] * size
    plain = effect(moments(np.array(variant)), moments(np.array(held)))
    weighed = effect(moments(np.array(variant), np.array(variant_w)),
                     moments(np.array(held), np.array(held_w)))
    assert plain is not None and weighed is not None
    assert round(plain.difference, 2) == 0.09
    assert abs(weighed.difference) < 1e-9 and weighed.low < 0 < weighed.high


def test_sample_ratio() -> None:
    assert not sample_ratio([105, 395], [0.2, 0.8]).off  # type: ignore[union-attr]
    off = sample_ratio([150, 350], [0.2, 0.8])
    assert off is not None and off.off and off.expected == (100.0, 400.0)
    assert sample_ratio([10], [1.0]) is None and sample_ratio([5, 5], [0.0, 1.0]) is None


def test_a_group_where_nobody_came_back_is_not_known_exactly() -> None:
    nobody = moments(np.zeros(50))
    # Nothing varied anywhere: nothing to say yet (it used to say "0 ± 0").
    assert effect(nobody, moments(np.zeros(50))) is None
    some = moments(np.array([1.0] * 5 + [0.0] * 45))
    found = effect(some, nobody)
    assert found is not None and found.low < 0 < found.high
    # The empty group counts with the other's spread: the interval is as wide as if both
    # had varied alike.
    alike = effect(some, some)
    assert alike is not None
    assert math.isclose(found.high - found.low, alike.high - alike.low)
