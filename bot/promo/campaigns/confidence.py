"""Intervals that stay true however often they are read, and the sample-ratio check.

A manager reads `/stats` every day. A fixed-sample 95 % interval is right at one look
chosen in advance; read daily for a month, it leaves zero at some point for about a
third of campaigns that do nothing. The intervals here are *confidence sequences*: with
95 % probability they hold at every look at once, so a difference they show can be
acted on the day it shows.

Method: the asymptotic confidence sequence (AsympCS) of I. Waudby-Smith, D. Arnold,
S. Wu and A. Ramdas, "Time-uniform central limit theory and asymptotic confidence
sequences", Annals of Statistics 52 (2024), arXiv:2103.06476, with the Robbins
normal-mixture boundary: for the mean of n independent outcomes with estimated spread σ̂,
mean ± σ̂ · √(2(nρ² + 1) / (n²ρ²) · log(√(nρ² + 1) / α)), ρ tuned so that the interval is
narrowest at `TUNED_FOR` customers. As the paper does for randomized experiments, the
outcomes are weighted by the inverse of the chance each
customer had of the group they were put in (recorded at assignment): a group's mean
then estimates what everybody would have done in that group, even when the optimiser
moved the split while customers came in (Hájek's weighted mean, with its sandwich
variance). An effect is a difference of two such means, σ̂² = n × (its variance).

Written here rather than taken from a library: the boundary is one line, and neither
installable implementation fits — `confseq` (the authors' own) has no wheels and builds
only against Boost; `savvi` needs cvxpy and offers multinomial and regression tests, not
this. The sample-ratio check is scipy's chi-square test.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, Self

from scipy.stats import chisquare
from sqlalchemy import Float, case, cast, func, literal

ALPHA = 0.05
# Customers in a comparison at which the interval is tightest against the fixed-sample
# one (1.55 times as wide there; 2.0 times at a tenth as many, 1.65 at ten times).
TUNED_FOR = 1_000
# A split is called off below this p-value: strict, because the check is read at every
# look too (the usual threshold of experiment platforms).
SAMPLE_RATIO_P = 0.001


class Sums:
    """A dataclass of sums that adds up field by field: two groups' figures make the
    figures of both together."""

    __slots__ = ()

    def __add__(self, other: Self) -> Self:
        return type(self)(*(getattr(self, f.name) + getattr(other, f.name)
                            for f in fields(self)))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Moments(Sums):
    """Weighted sums of one outcome over a group: each customer's weight w is 1 / the
    chance of their group; `n` counts customers."""

    n: int = 0
    w: float = 0.0
    w2: float = 0.0
    wy: float = 0.0
    w2y: float = 0.0
    w2y2: float = 0.0

    @property
    def mean(self) -> float | None:
        return self.wy / self.w if self.w else None

    @property
    def variance_of_mean(self) -> float:
        """The sandwich variance of the weighted mean: Σ w²(y − mean)² / (Σ w)²."""
        mean = self.mean or 0.0
        spread = self.w2y2 - 2 * mean * self.w2y + mean * mean * self.w2
        # max(): the subtraction of large floats can dip just below zero.
        return max(spread, 0.0) / (self.w * self.w)


def inverse(chance: Any) -> Any:
    """SQL: a customer's weight, 1 / the chance of their group, as a float; 1 where the
    chance was not recorded (zero)."""
    return case((chance > 0, literal(1.0, Float) / cast(chance, Float)), else_=literal(1.0, Float))


def moment_sums(weight: Any, outcomes: Sequence[Any]) -> list[Any]:
    """SQL: the sums `Moments` are made of, under one weighting: Σw, Σw², then per
    outcome Σwy, Σw²y, Σw²y²."""
    sums = [func.sum(weight), func.sum(weight * weight)]
    for y in outcomes:
        sums += [func.sum(weight * y), func.sum(weight * weight * y),
                 func.sum(weight * weight * y * y)]
    return sums


def moments_of(n: int, sums: Sequence[Any]) -> list[Moments]:
    """The `Moments` of each outcome, from the values of `moment_sums` for `n` customers."""
    w, w2, *per_outcome = (float(value or 0) for value in sums)
    return [Moments(n, w, w2, *per_outcome[i:i + 3]) for i in range(0, len(per_outcome), 3)]


@dataclass(frozen=True, slots=True)
class Effect:
    """A difference with its always-valid 95 % interval."""

    difference: float
    low: float
    high: float

    @property
    def proven(self) -> bool:
        return self.low > 0

    def scaled(self, factor: float) -> Effect:
        return Effect(self.difference * factor, self.low * factor, self.high * factor)


def half_width(se: float, n: int, *, alpha: float = ALPHA, tuned_for: int = TUNED_FOR) -> float:
    """The AsympCS half-width for an estimate with standard error `se` from `n` outcomes."""
    log_alpha = -2 * math.log(alpha)
    rho2 = (log_alpha + math.log(log_alpha + 1)) / tuned_for
    scaled = n * rho2
    return se * math.sqrt(2 * (scaled + 1) / scaled * math.log(math.sqrt(scaled + 1) / alpha))


def effect(treated: Moments, control: Moments, *, bounds: tuple[float, float] | None = None
           ) -> Effect | None:
    """Treated minus control, with the always-valid interval; None until each group has
    two customers and the outcome has varied in one of them. `bounds` clips the interval
    to what the difference can be (a difference of rates lies in [-1, 1])."""
    if treated.n < 2 or control.n < 2 or treated.mean is None or control.mean is None:
        return None
    variances = variances_of_means([treated, control])
    if variances is None:
        return None
    difference = treated.mean - control.mean
    se = math.sqrt(sum(variances))
    width = half_width(se, treated.n + control.n)
    low, high = difference - width, difference + width
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return Effect(difference, low, high)


def variances_of_means(groups: Sequence[Moments]) -> list[float] | None:
    """Each group's variance of its mean; None while the outcome has varied in no group.

    A group whose customers all did the same (nobody came back yet) would claim to know
    its mean exactly (a width of zero): its spread per customer is taken as the widest
    any group shows."""
    spread = max(group.variance_of_mean * group.n for group in groups)
    if spread <= 0:
        return None
    return [group.variance_of_mean or spread / group.n for group in groups]


@dataclass(frozen=True, slots=True)
class SampleRatio:
    """The groups' sizes against what the split promised: `p_value` of the chi-square
    test; `off` when it is below `SAMPLE_RATIO_P` (customers are being lost or moved
    between groups, and the comparison cannot be trusted)."""

    observed: tuple[int, ...]
    expected: tuple[float, ...]
    p_value: float

    @property
    def off(self) -> bool:
        return self.p_value < SAMPLE_RATIO_P


def sample_ratio(observed: Sequence[int], shares: Sequence[float]) -> SampleRatio | None:
    """The chi-square goodness-of-fit of the groups' sizes to their promised shares; None
    when there is nothing to test (one group, or a group promised nothing)."""
    total, promised = sum(observed), sum(shares)
    if len(observed) < 2 or total == 0 or promised <= 0 or min(shares) <= 0:
        return None
    expected = tuple(total * share / promised for share in shares)
    result = chisquare(list(observed), list(expected))
    return SampleRatio(tuple(observed), expected, float(result.pvalue))
