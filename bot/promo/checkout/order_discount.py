"""The order's discount: the tier and the codes on one order, under the shop's stacking
policy, kept within the margin ceiling and spread over the order's lines to the kopeck.

- `exclusive` (the default): the tier and the codes do not add up; the order gets the
  larger (what free shipping costs the shop counts in; a tie goes to the tier, so the
  shopper keeps the code).
- `additive`: the tier comes first, then each code in the order presented.

Either way the whole order (goods discounts plus the cost of free shipping and of gift
items) stays within the ceiling, `ceiling_percent` of the order total rounded down to the
kopeck: free shipping first if its cost fits at all, then each gift whole if its cost
fits, then each discount takes what room is left (so a gift shrinks the tier's discount,
as free shipping does). A gift or bare early access gives nothing off the goods, so under
`exclusive` it does not compete with the tier: it comes with it (`Offer.extra_only`).
Early access with a percent competes like any code, and where the tier wins it still
opens its goods, without its percent.
Each discount is spread over the lines it covers in proportion to what is left of them
(largest remainder), so lines sum exactly to the total and none goes below zero, as
fiscal receipts need. Pure: validate, redeem and the tests all call `compute`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from bot.db.models import DiscountType
from bot.promo.codes.guardrail import Stacking
from bot.promo.codes.offers import Basket, Offer, calculate, covers


@dataclass(frozen=True, slots=True)
class Terms:
    """The shop's rules for one order's discount."""

    stacking: Stacking
    # The usable margin ceiling in percent of the order (`guardrail.ceiling_percent`).
    ceiling_percent: Decimal
    # What free shipping costs the shop, minor units.
    shipping_cost: int

    def ceiling(self, total: int) -> int:
        """The most the order may take, in minor units."""
        amount = Decimal(total) * self.ceiling_percent / 100
        return max(int(amount.to_integral_value(rounding=ROUND_FLOOR)), 0)


@dataclass(frozen=True, slots=True)
class Part:
    """What one source (the tier or a code) gives the order."""

    # Off the goods, after the policy and the ceiling.
    discount: int
    free_shipping: bool
    # What the source alone would have given: the discount and free shipping.
    wanted: int
    wanted_free_shipping: bool
    # False when the policy set it aside (exclusive: the other side was larger).
    kept: bool = True
    # The gift item's offer when the order gets it (its cost fitted the ceiling).
    gift: Offer | None = None
    # Early access's offer: it opens its goods, whatever the policy did to its percent.
    opens: Offer | None = None

    @property
    def applied(self) -> bool:
        return self.discount > 0 or self.free_shipping or self.gift is not None or (
            self.opens is not None)

    @property
    def gift_cost(self) -> int:
        return self.gift.gift_cost if self.gift is not None else 0

    @property
    def capped(self) -> bool:
        """Kept, but the ceiling took some of it."""
        return self.kept and (
            self.discount < self.wanted or self.free_shipping < self.wanted_free_shipping
        )


_NOTHING = Part(0, False, 0, False, kept=False)


@dataclass(frozen=True, slots=True)
class OrderDiscount:
    tier: Part
    codes: tuple[Part, ...]
    # One discount per basket line, in the basket's order; empty without lines.
    lines: tuple[int, ...]
    free_shipping: bool
    shipping_cost: int
    ceiling: int
    # What the ceiling was measured on: the order's total and the percent (for telling a
    # shopper how large an order a gift needs); 0 for a settled order.
    order_total: int = 0
    ceiling_percent: Decimal = Decimal(0)

    @property
    def total(self) -> int:
        """Off the goods, tier and codes together."""
        return self.tier.discount + sum(part.discount for part in self.codes)

    @property
    def cost(self) -> int:
        """What the order's discount costs the shop: goods, free shipping, gift items."""
        gifts = sum(part.gift_cost for part in self.codes)
        return self.total + (self.shipping_cost if self.free_shipping else 0) + gifts

    def total_for(self, cost: int) -> int | None:
        """The smallest order total whose ceiling holds `cost` (None: no total does)."""
        if self.ceiling_percent <= 0:
            return None
        least = Decimal(cost) * 100 / self.ceiling_percent
        return int(least.to_integral_value(rounding=ROUND_CEILING))

    @property
    def gifts(self) -> tuple[Offer, ...]:
        """The gift items the order gets, in the order their codes came."""
        return tuple(part.gift for part in self.codes if part.gift is not None)

    @property
    def opened(self) -> tuple[Offer, ...]:
        """Early access the order's codes give."""
        return tuple(part.opens for part in self.codes if part.opens is not None)


def compute(
    basket: Basket, tier: Offer | None, codes: Sequence[Offer], terms: Terms
) -> OrderDiscount:
    """The order's discount for the tier's offer (None below the first tier) and the codes
    presented, each of which the caller has already judged valid on its own."""
    sources = [tier, *codes]
    wanted = [_wanted(offer, basket) for offer in sources]
    worth = [amount + (terms.shipping_cost if shipping else 0) for amount, shipping in wanted]
    competing = [not offer.extra_only for offer in codes]
    if terms.stacking is Stacking.EXCLUSIVE and tier is not None and any(competing):
        tier_wins = worth[0] >= sum(w for w, c in zip(worth[1:], competing, strict=True) if c)
        kept = [tier_wins] + [not tier_wins if c else True for c in competing]
    else:
        kept = [offer is not None for offer in sources]

    ceiling = terms.ceiling(basket.total)
    shipping = any(keep and fs for keep, (_, fs) in zip(kept, wanted, strict=True))
    shipping = shipping and terms.shipping_cost <= ceiling
    room = ceiling - (terms.shipping_cost if shipping else 0)
    gifts = []
    for offer in codes:
        given = offer.discount_type is DiscountType.GIFT and offer.gift_cost <= room
        room -= offer.gift_cost if given else 0
        gifts.append(offer if given else None)
    remaining = [item.amount for item in basket.items]
    shipping_given = False
    parts = []
    for index, (offer, keep, (amount, fs)) in enumerate(zip(sources, kept, wanted, strict=True)):
        extras = {} if index == 0 else {
            "gift": gifts[index - 1], "opens": offer if offer.opens else None}
        if offer is None or not keep:
            parts.append(Part(0, False, amount, fs, kept=False, **extras))
            continue
        taken = min(amount, room)
        if basket.items:
            taken = _spread(taken, remaining, [covers(offer, item) for item in basket.items])
        room -= taken
        gives_shipping = shipping and fs and not shipping_given
        shipping_given = shipping_given or gives_shipping
        parts.append(Part(taken, gives_shipping, amount, fs, **extras))
    lines = tuple(item.amount - left for item, left in zip(basket.items, remaining, strict=True))
    return OrderDiscount(
        parts[0] if tier is not None else _NOTHING,
        tuple(parts[1:]),
        lines,
        shipping,
        terms.shipping_cost,
        ceiling,
        basket.total,
        terms.ceiling_percent,
    )


def _wanted(offer: Offer | None, basket: Basket) -> tuple[int, bool]:
    if offer is None:
        return 0, False
    calculation = calculate(offer, basket)
    return calculation.discount, calculation.free_shipping


def _spread(amount: int, remaining: list[int], covered: Sequence[bool]) -> int:
    """Take `amount` off the covered lines in proportion to what is left of them (largest
    remainder, earlier lines first on ties); `remaining` is updated. Returns what was
    taken: less than asked only when the covered lines have less left."""
    weights = [left if cover else 0 for left, cover in zip(remaining, covered, strict=True)]
    pool = sum(weights)
    amount = min(amount, pool)
    if amount <= 0:
        return 0
    shares = [amount * weight // pool for weight in weights]
    short = amount - sum(shares)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(amount * weights[i] % pool), i))
    for index in by_remainder[:short]:
        shares[index] += 1
    for index, share in enumerate(shares):
        remaining[index] -= share
    return amount


def tier_offer(percent: int, free_shipping: bool) -> Offer | None:
    """The tier's discount as an offer over the whole order (None when it gives nothing)."""
    if percent > 0:
        return Offer("percent", percent, free_shipping=free_shipping)
    return Offer("free_shipping") if free_shipping else None


def settled(
    basket: Basket, tier_discount: int, codes: Sequence[tuple[Offer, int, bool]],
    shipping_cost: int, *, tier_free_shipping: bool = False,
) -> OrderDiscount:
    """An order's discount as it was redeemed (the tier's amount, each code's offer, amount
    and free shipping), spread over this basket's lines: a retried redeem's answer."""
    remaining = [item.amount for item in basket.items]
    everything = [True] * len(basket.items)
    if basket.items:
        _spread(tier_discount, remaining, everything)
    parts = []
    for offer, amount, shipping in codes:
        if basket.items:
            _spread(amount, remaining, [covers(offer, item) for item in basket.items])
        parts.append(Part(amount, shipping, amount, shipping,
                          gift=offer if offer.discount_type is DiscountType.GIFT else None,
                          opens=offer if offer.opens else None))
    lines = tuple(item.amount - left for item, left in zip(basket.items, remaining, strict=True))
    tier = Part(tier_discount, False, tier_discount, False, kept=tier_discount > 0)
    free_shipping = tier_free_shipping or any(shipping for _, _, shipping in codes)
    return OrderDiscount(tier, tuple(parts), lines, free_shipping, shipping_cost, 0)
