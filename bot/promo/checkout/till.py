"""The shop's till: a code scanned from the shopper's cabinet belongs to one customer, and
the till checks and redeems it for them, under the same rules as the checkout API."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select

from bot.db.hotpath import HotPath
from bot.db.models import Customer, PromoCode
from bot.db.prepared import Prepared
from bot.promo.checkout.validation import typed_code

codes = PromoCode.__table__
customers = Customer.__table__

_OWNER = Prepared(
    select(codes.c.id, customers.c.external_id)
    .select_from(codes.outerjoin(customers, customers.c.id == codes.c.customer_id))
    .where(codes.c.code == bindparam("code"))
)


@dataclass(frozen=True, slots=True)
class Scanned:
    """What the till learns from a code: whether it exists, and whose it is (None: a code
    for anyone, which the shop's checkout takes with the buyer's account)."""

    known: bool
    owner: str | None = None


async def scanned(hot: HotPath, raw_code: str) -> Scanned:
    typed = typed_code(raw_code)
    row = None if typed is None else await hot.first(_OWNER, {"code": typed})
    return Scanned(False) if row is None else Scanned(True, row.external_id)
