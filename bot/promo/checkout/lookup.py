"""Checkout's reads on the hot path: who is buying, and does the code apply.

Each function runs over a sync connection as one `HotPath` job, so validating a
code for a shop's customer id costs one hand-off to the database, not one per query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, select

from bot.db.models import Customer
from bot.db.prepared import Prepared
from bot.promo.checkout.validation import Verdict, check
from bot.promo.codes.offers import Basket

customers = Customer.__table__


@dataclass(frozen=True, slots=True)
class Shopper:
    """What checkout needs of a customer: the id and how to speak to them."""

    id: int
    external_id: str
    locale: str | None
    timezone: str | None


_SHOPPER = Prepared(select(customers.c.id, customers.c.locale, customers.c.timezone).where(
    customers.c.external_id == bindparam("external_id")
))


def find_shopper(conn: Connection, external_id: str) -> Shopper | None:
    row = _SHOPPER.first(conn, {"external_id": external_id})
    return None if row is None else Shopper(row.id, external_id, row.locale, row.timezone)


def validate_for(
    conn: Connection, external_id: str, raw_code: str, basket: Basket, now: datetime
) -> tuple[Shopper | None, Verdict | None]:
    """The shopper and the verdict on their code; no verdict for an unknown shopper."""
    shopper = find_shopper(conn, external_id)
    if shopper is None:
        return None, None
    return shopper, check(conn, raw_code, customer_id=shopper.id, basket=basket, now=now)
