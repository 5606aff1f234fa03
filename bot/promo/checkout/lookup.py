"""Checkout's reads on the hot path: who is buying, and does the code apply to the order.

Each function runs over a sync connection as one `HotPath` job, so validating a
code for a shop's customer id costs one hand-off to the database, not one per query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, select

from bot.db.models import Customer
from bot.db.prepared import Prepared
from bot.promo.checkout.order_rules import judge_order
from bot.promo.checkout.terms import ShopTerms, Standing
from bot.promo.checkout.validation import Verdict, customer_uses, judge, load_code
from bot.promo.codes.offers import Basket, Offer

customers = Customer.__table__


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


def find_shopper(conn: Connection, external_id: str) -> Shopper | None:
    row = _SHOPPER.first(conn, {"external_id": external_id})
    if row is None:
        return None
    standing = Standing(row.net_spend or 0, row.orders_count or 0)
    return Shopper(row.id, external_id, row.locale, row.timezone, standing)


def check(
    conn: Connection,
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
    code = load_code(conn, raw_code)
    uses = 0
    if code is not None and code.customer_id is None and code.per_customer_limit is not None:
        uses = customer_uses(conn, code.id, customer_id)
    verdict = judge(code, customer_id=customer_id, basket=basket, now=now, customer_uses=uses)
    return judge_order(
        conn,
        verdict,
        basket=basket,
        tier=tier,
        terms=shop.terms(conn, now),
        order_external_id=order_external_id,
    ).verdict


def validate_for(
    conn: Connection,
    external_id: str,
    raw_code: str,
    basket: Basket,
    shop: ShopTerms,
    now: datetime,
    order_external_id: str | None = None,
) -> tuple[Shopper | None, Verdict | None]:
    """The shopper and the verdict on their code; no verdict for an unknown shopper."""
    shopper = find_shopper(conn, external_id)
    if shopper is None:
        return None, None
    verdict = check(
        conn,
        raw_code,
        customer_id=shopper.id,
        basket=basket,
        tier=shop.tier(shopper.standing),
        shop=shop,
        now=now,
        order_external_id=order_external_id,
    )
    return shopper, verdict
