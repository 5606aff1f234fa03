"""Validation that explains itself: whether a code applies to a basket, and if not, why.

`judge` is pure, so checkout validation, redemption and the bot's `/codes` agree on
every rule. Reasons are stable machine codes; `bot.texts.wording` turns them into the
shopper's language.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import bindparam, select

from bot.db.models import CodeCustomerUsage, CodeStatus, PromoCode
from bot.db.prepared import Prepared
from bot.db.tx import Tx
from bot.promo.checkout.order_discount import OrderDiscount, Terms, compute
from bot.promo.codes.generator import looks_like_code, normalize
from bot.promo.codes.offers import Basket, Offer, calculate

codes_table = PromoCode.__table__
usage_table = CodeCustomerUsage.__table__


class Reason(StrEnum):
    OK = "ok"
    UNKNOWN = "unknown"
    REVOKED = "revoked"
    NOT_STARTED = "not_started"
    EXPIRED = "expired"
    NOT_YOURS = "not_yours"
    USED_UP = "used_up"
    ALREADY_USED = "already_used"
    NOT_DELIVERED = "not_delivered"
    MIN_ORDER = "min_order"
    ITEMS_REQUIRED = "items_required"
    ITEMS_EXCLUDED = "items_excluded"
    # Order-level rules (`within_order`, `redemption`).
    TIER_BETTER = "tier_better"
    CEILING_REACHED = "ceiling_reached"
    ORDER_HAS_CODE = "order_has_code"
    BUDGET_SPENT = "budget_spent"


class CodeLike(Protocol):
    """A promo code row: the ORM object or a Core row, whichever the caller has."""

    id: int
    code: str
    status: str
    customer_id: int | None
    campaign_id: int | None
    combinable: bool
    discount_type: str
    discount_value: int
    free_shipping: bool
    currency: str
    min_order: int
    max_discount: int | None
    include_categories: Any
    exclude_categories: Any
    include_skus: Any
    exclude_skus: Any
    gift_sku: str | None
    gift_name: str | None
    gift_cost: int
    launch_at: datetime | None
    starts_at: datetime | None
    expires_at: datetime | None
    valid_days: int | None
    usage_limit: int | None
    per_customer_limit: int | None
    used_count: int


@dataclass(frozen=True, slots=True)
class Verdict:
    reason: Reason
    code: CodeLike | None = None
    discount: int = 0
    free_shipping: bool = False
    # For MIN_ORDER: how much more the basket needs.
    missing: int = 0
    excluded_items: tuple[str, ...] = ()
    # The whole order's discount (the tier, the policy, the ceiling), once `within_order`
    # has seen it.
    order: OrderDiscount | None = None
    # What the code's gift item costs the shop, once the order has room for it.
    gift_cost: int = 0

    @property
    def valid(self) -> bool:
        return self.reason is Reason.OK

    @property
    def tier_discount(self) -> int:
        return self.order.tier.discount if self.order else 0

    @property
    def total_discount(self) -> int:
        return self.order.total if self.order else self.discount

    @property
    def lines(self) -> tuple[int, ...]:
        return self.order.lines if self.order else ()

    @property
    def cost(self) -> int:
        """What the code's part costs the shop: its discount and the free shipping it gives."""
        shipping = self.order.shipping_cost if self.order and self.free_shipping else 0
        return self.discount + shipping + self.gift_cost


def judge(
    code: CodeLike | None,
    *,
    customer_id: int | None,
    basket: Basket,
    now: datetime,
    customer_uses: int = 0,
) -> Verdict:
    """Every rule in the order a shopper would want to hear about it."""
    if code is None:
        return Verdict(Reason.UNKNOWN)
    if code.status == CodeStatus.REVOKED:
        return Verdict(Reason.REVOKED, code)
    if code.customer_id is not None and code.customer_id != customer_id:
        return Verdict(Reason.NOT_YOURS, code)
    if code.starts_at is not None and now < code.starts_at:
        return Verdict(Reason.NOT_STARTED, code)
    if code.expires_at is None and code.valid_days is not None:
        # A lifetime without a deadline: the code's lifetime starts when the bot delivers
        # its message, and until then the code does not exist for the shopper.
        return Verdict(Reason.NOT_DELIVERED, code)
    if code.expires_at is not None and now >= code.expires_at:
        return Verdict(Reason.EXPIRED, code)
    if code.usage_limit is not None and code.used_count >= code.usage_limit:
        return Verdict(Reason.USED_UP, code)
    if code.per_customer_limit is not None and customer_uses >= code.per_customer_limit:
        return Verdict(Reason.ALREADY_USED, code)
    offer = Offer.of_code(code)  # type: ignore[arg-type]
    if basket.total < offer.min_order:
        return Verdict(Reason.MIN_ORDER, code, missing=offer.min_order - basket.total)
    if offer.restricts_items and not basket.items:
        return Verdict(Reason.ITEMS_REQUIRED, code)
    calc = calculate(offer, basket)
    if calc.eligible_amount == 0 and offer.restricts_items and not offer.free_shipping:
        return Verdict(Reason.ITEMS_EXCLUDED, code, excluded_items=calc.excluded_items)
    return Verdict(
        Reason.OK,
        code,
        discount=calc.discount,
        free_shipping=calc.free_shipping,
        excluded_items=calc.excluded_items,
    )


# Prepared once: checkout runs these thousands of times a second.
_CODE_BY_STRING = Prepared(select(codes_table).where(codes_table.c.code == bindparam("code")))
_CUSTOMER_USES = Prepared(
    select(usage_table.c.used_count).where(
        usage_table.c.code_id == bindparam("code_id"),
        usage_table.c.customer_id == bindparam("customer_id"),
    )
)


def within_order(
    verdict: Verdict,
    basket: Basket,
    tier: Offer | None,
    terms: Terms,
    earlier: Sequence[Offer] = (),
) -> Verdict:
    """The code's verdict within the whole order: with the tier (and the order's earlier
    codes) under the stacking policy and the ceiling. An invalid code leaves the tier."""
    if not verdict.valid or verdict.code is None:
        return replace(verdict, order=compute(basket, tier, earlier, terms))
    order = compute(basket, tier, [*earlier, Offer.of_code(verdict.code)], terms)  # type: ignore[arg-type]
    part = order.codes[-1]
    if not part.kept and part.opens is None:
        return Verdict(Reason.TIER_BETTER, verdict.code, order=order)
    if not part.applied:
        return Verdict(Reason.CEILING_REACHED, verdict.code, order=order)
    return replace(verdict, discount=part.discount, free_shipping=part.free_shipping, order=order,
                   gift_cost=part.gift_cost)


def typed_code(raw_code: str) -> str | None:
    """The code as it is stored, from what the shopper typed; None if it cannot be one."""
    return normalize(raw_code) if looks_like_code(raw_code) else None


async def load_code(tx: Tx, raw_code: str) -> Any | None:
    """The code row by what the shopper typed (a named tuple: cheap on the hot path)."""
    code = typed_code(raw_code)
    return None if code is None else await tx.first(_CODE_BY_STRING, {"code": code})


def shared_with_limit(code: CodeLike | None) -> bool:
    """A code for anyone, used at most so often by each customer: their uses count."""
    return code is not None and code.customer_id is None and code.per_customer_limit is not None


def uses_that_count(code: CodeLike | None, uses: int | None) -> int:
    """The customer's uses of the code, read beside it, as `judge` weighs them."""
    return (uses or 0) if shared_with_limit(code) else 0


async def customer_uses(tx: Tx, code_id: int, customer_id: int | None) -> int:
    if customer_id is None:
        return 0
    uses = await tx.scalar(_CUSTOMER_USES, {"code_id": code_id, "customer_id": customer_id})
    return uses or 0
