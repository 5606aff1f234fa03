"""Loyalty tiers: by cumulative net spend (returns subtracted) or by the order-count ladder.

Settings give tiers as `threshold:percent` with `+fs` for free shipping, thresholds in
major currency units ("5000:3" is 5 000 ₽ → 3 %); the ladder gives order counts ("3:5").
Both are parsed once per distinct setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from babel.numbers import get_currency_precision

from bot.config import Settings
from bot.db.models import Customer

SPEND = "spend"
ORDERS = "orders"
_FREE_SHIPPING = "+fs"


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


def _parse(specs: tuple[str, ...], scale: int | None) -> tuple[Tier, ...]:
    """`("5000:3", "100000:12+fs")` → tiers sorted by threshold; `scale` is the currency
    precision for money thresholds, None for order counts."""
    parsed: list[tuple[int, int, bool]] = []
    for spec in specs:
        text = spec.strip().lower().replace(" ", "")
        free_shipping = text.endswith(_FREE_SHIPPING)
        if free_shipping:
            text = text[: -len(_FREE_SHIPPING)]
        threshold_text, sep, percent_text = text.partition(":")
        try:
            if not sep:
                raise ValueError
            amount = Decimal(threshold_text)
            percent = int(percent_text)
            threshold = int(amount.scaleb(scale)) if scale is not None else int(threshold_text)
            if scale is not None and amount.scaleb(scale) != threshold:
                raise ValueError
        except (ValueError, InvalidOperation):
            raise ValueError(
                f"tier {spec!r}: expected 'threshold:percent' or 'threshold:percent+fs'"
            ) from None
        if threshold <= 0 or not 0 <= percent <= 100:
            raise ValueError(f"tier {spec!r}: threshold must be positive, percent 0..100")
        parsed.append((threshold, percent, free_shipping))
    parsed.sort()
    if len({threshold for threshold, _, _ in parsed}) != len(parsed):
        raise ValueError("two tiers have the same threshold")
    return tuple(
        Tier(index=i + 1, threshold=threshold, percent=percent, free_shipping=fs)
        for i, (threshold, percent, fs) in enumerate(parsed)
    )


@lru_cache(maxsize=32)
def parse_spend_tiers(specs: tuple[str, ...], currency: str) -> tuple[Tier, ...]:
    return _parse(specs, get_currency_precision(currency))


@lru_cache(maxsize=32)
def parse_order_ladder(specs: tuple[str, ...]) -> tuple[Tier, ...]:
    return _parse(specs, None)


def tiers(settings: Settings) -> tuple[Tier, ...]:
    """The tiers in force, by `settings.tier_basis`."""
    if settings.tier_basis == ORDERS:
        return parse_order_ladder(tuple(settings.tier_order_ladder))
    if settings.tier_basis != SPEND:
        raise ValueError(f"tier_basis must be {SPEND!r} or {ORDERS!r}")
    return parse_spend_tiers(tuple(settings.tiers), settings.currency)


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


def tier_for(value: int, settings: Settings) -> TierStatus:
    """Tier for a net spend (minor units) or an order count, whichever the settings use."""
    return status_for(value, tiers(settings), settings.tier_basis)


def customer_tier(customer: Customer, settings: Settings) -> TierStatus:
    value = customer.orders_count if settings.tier_basis == ORDERS else customer.net_spend
    return tier_for(value or 0, settings)
