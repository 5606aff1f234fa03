"""Checkout's reads on the hot path: who is buying, and does the code apply to the order.

Each function runs over a `Tx` as one `HotPath` job, so validating a code for a shop's
customer id costs one hand-off to the database, not one per query.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, select

from bot.db.models import CodeCustomerUsage, Customer, PromoCode
from bot.db.prepared import Prepared, TablePart
from bot.db.tx import Tx
from bot.promo.checkout.order_rules import judge_order
from bot.promo.checkout.terms import ShopTerms, Standing
from bot.promo.checkout.validation import (
    Verdict,
    customer_uses,
    judge,
    load_code,
    shared_with_limit,
    typed_code,
    uses_that_count,
)
from bot.promo.codes.offers import Basket, Offer

customers = Customer.__table__
codes = PromoCode.__table__
usage = CodeCustomerUsage.__table__


@dataclass(frozen=True, slots=True)
class Shopper:
    """What checkout needs of a customer: the id, how to speak to them, their tier's basis."""

    id: int
    external_id: str
    locale: str | None
    timezone: str | None
    standing: Standing


_SHOPPER = Prepared(
    select(
        customers.c.id,
        customers.c.locale,
        customers.c.timezone,
        customers.c.net_spend,
        customers.c.orders_count,
    ).where(customers.c.external_id == bindparam("external_id"))
)


CODE = TablePart(codes, "code_")


def shopper_and_code(*columns: Any, join: Callable[[Any], Any] = lambda joined: joined) -> Any:
    """The shopper by their shop's id (`external_id`), the code they typed (`code`) and how
    often they have used it, in one round trip; `columns` and `join` add what a caller reads
    with them."""
    joined = customers.outerjoin(codes, codes.c.code == bindparam("code")).outerjoin(
        usage, and_(usage.c.code_id == codes.c.id, usage.c.customer_id == customers.c.id))
    return _SHOPPER.statement.add_columns(
        *CODE.columns, usage.c.used_count.label("customer_uses"), *columns
    ).select_from(join(joined))


_SHOPPER_AND_CODE = Prepared(shopper_and_code())


def shopper_of(row: Any, external_id: str) -> Shopper:
    standing = Standing(row.net_spend or 0, row.orders_count or 0)
    return Shopper(row.id, external_id, row.locale, row.timezone, standing)


async def check(
    tx: Tx,
    raw_code: str,
    *,
    customer_id: int | None,
    basket: Basket,
    tier: Offer | None,
    shop: ShopTerms,
    now: datetime,
    order_external_id: str | None = None,
) -> Verdict:
    """Does the code apply to this order, and what does the order get?"""
    code = await load_code(tx, raw_code)
    uses = await customer_uses(tx, code.id, customer_id) if shared_with_limit(code) else 0
    return await _within_order(tx, code, uses, customer_id=customer_id, basket=basket,
                               tier=tier, shop=shop, now=now,
                               order_external_id=order_external_id)


async def _within_order(
    tx: Tx,
    code: Any | None,
    uses: int,
    *,
    customer_id: int | None,
    basket: Basket,
    tier: Offer | None,
    shop: ShopTerms,
    now: datetime,
    order_external_id: str | None,
) -> Verdict:
    verdict = judge(code, customer_id=customer_id, basket=basket, now=now, customer_uses=uses)
    judged = await judge_order(
        tx,
        verdict,
        basket=basket,
        tier=tier,
        terms=await shop.terms(tx, now),
        order_external_id=order_external_id,
    )
    return judged.verdict


async def validate_for(
    tx: Tx,
    external_id: str,
    raw_code: str,
    basket: Basket,
    shop: ShopTerms,
    now: datetime,
    order_external_id: str | None = None,
) -> tuple[Shopper | None, Verdict | None]:
    """The shopper and the verdict on their code; no verdict for an unknown shopper."""
    row = await tx.first(_SHOPPER_AND_CODE, {"external_id": external_id,
                                             "code": typed_code(raw_code)})
    if row is None:
        return None, None
    shopper, code = shopper_of(row, external_id), CODE.of(row)
    verdict = await _within_order(
        tx, code, uses_that_count(code, row.customer_uses), customer_id=shopper.id,
        basket=basket,
        tier=shop.tier(shopper.standing), shop=shop, now=now,
        order_external_id=order_external_id,
    )
    return shopper, verdict
