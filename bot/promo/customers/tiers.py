"""Loyalty tiers: by cumulative net spend (returns subtracted) or by the order-count ladder.

Settings give tiers as `threshold:percent` with `+fs` for free shipping, thresholds in
major currency units ("5000:3" is 5 000 ₽ → 3 %); the ladder gives order counts ("3:5").
Both are parsed when the settings load (`LoyaltySettings`); here their rungs are
numbered into tiers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from bot.config import LoyaltySettings
from bot.config.values import Rung
from bot.db.models import Customer

SPEND = "spend"
ORDERS = "orders"


@dataclass(frozen=True, slots=True)
class Tier:
    # 1 for the lowest tier; shown to shoppers as "level 1", "level 2", ...
    index: int
    # Minor currency units for the spend basis, a number of orders for the ladder.
    threshold: int
    percent: int
    free_shipping: bool = False

    @property
    def name(self) -> str:
        """A stable key for texts and analytics: `tier1`, `tier2`, ..."""
        return f"tier{self.index}"


@dataclass(frozen=True, slots=True)
class TierStatus:
    basis: str
    # Net spend in minor units, or the number of orders.
    value: int
    current: Tier | None
    next: Tier | None
    # Amount (minor units) or orders still needed for the next tier; 0 at the top.
    left: int
    # How far from the current tier's threshold (0 below the first) to the next one, 0..1.
    progress: float

    @property
    def percent(self) -> int:
        return self.current.percent if self.current else 0

    @property
    def free_shipping(self) -> bool:
        return bool(self.current and self.current.free_shipping)

    @property
    def is_top(self) -> bool:
        return self.current is not None and self.next is None


@lru_cache(maxsize=32)
def numbered(rungs: tuple[Rung, ...]) -> tuple[Tier, ...]:
    """Rungs (sorted by threshold, as parsed) → tiers 1, 2, ..."""
    return tuple(
        Tier(index=i + 1, threshold=rung.threshold, percent=rung.percent,
             free_shipping=rung.free_shipping)
        for i, rung in enumerate(rungs)
    )


def tiers(loyalty: LoyaltySettings) -> tuple[Tier, ...]:
    """The tiers in force, by `loyalty.basis`."""
    return numbered(loyalty.ladder)


def status_for(value: int, ladder: tuple[Tier, ...], basis: str) -> TierStatus:
    current: Tier | None = None
    upcoming: Tier | None = None
    for tier in ladder:
        if value >= tier.threshold:
            current = tier
        else:
            upcoming = tier
            break
    if upcoming is None:
        return TierStatus(basis, value, current, None, 0, 1.0 if current else 0.0)
    floor = current.threshold if current else 0
    progress = (max(value, floor) - floor) / (upcoming.threshold - floor)
    return TierStatus(
        basis, value, current, upcoming, upcoming.threshold - value, min(max(progress, 0.0), 1.0)
    )


def tier_for(value: int, loyalty: LoyaltySettings) -> TierStatus:
    """Tier for a net spend (minor units) or an order count, whichever the settings use."""
    return status_for(value, tiers(loyalty), loyalty.basis)


def customer_tier(customer: Customer, loyalty: LoyaltySettings) -> TierStatus:
    value = customer.orders_count if loyalty.basis == ORDERS else customer.net_spend
    return tier_for(value or 0, loyalty)
