"""Shopper messages in ru and en; not_yours; an unlimited code stays unlimited (the
failed-attempt rate limit is tests/api/test_ratelimit.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

import tests.support.factories as factories
from bot.db import Database
from bot.db.models import DiscountType, PromoCode
from bot.promo.codes.offers import Offer
from tests.support.api import Api


def check(code: str, customer: str = "c1", total: int = 10_000) -> dict[str, Any]:
    return {"code": code, "customer_id": customer, "order": {"total": total}}


async def test_messages_follow_customer_locale_then_accept_language(
    api: Api, db: Database, clock: Any
) -> None:
    await factories.customer(db, "ru-saved", now=clock(), locale="ru")
    await factories.customer(db, "nobody", now=clock())
    code = await factories.code(db, Offer(DiscountType.PERCENT, 10, min_order=50_000), now=clock())
    _, body, _ = await api.post("/codes/validate", check(code.code, "ru-saved"),
                                headers={"Accept-Language": "en"})
    assert body["reason"] == "min_order"
    assert body["message"] == (
        "Код действует на заказ от 500\xa0₽: добавьте товаров ещё на 400\xa0₽."
    )
    _, body, _ = await api.post("/codes/validate", check(code.code, "nobody"),
                                headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert body["message"] == "The code works on orders of ₽500 or more: add ₽400 more."
    _, body, _ = await api.post("/codes/validate", check(code.code, "nobody"))
    assert body["message"].startswith("Код действует")  # the shop's default locale
    _, body, _ = await api.post("/codes/validate", check("NOSUCHCODE", "nobody"),
                                headers={"Accept-Language": "en"})
    assert (body["valid"], body["reason"]) == (False, "unknown")
    assert body["message"] == "There is no such code. Check it for typos."


async def test_personal_code_of_another_customer_is_not_yours(
    api: Api, db: Database, clock: Any
) -> None:
    owner = await factories.customer(db, "owner", now=clock())
    await factories.customer(db, "thief", now=clock(), locale="en")
    code = await factories.code(db, now=clock(), customer_id=owner.id)
    _, body, _ = await api.post("/codes/validate", check(code.code, "thief"))
    assert (body["valid"], body["reason"]) == (False, "not_yours")
    assert body["message"] == "This is another customer's personal code."
    status, body, _ = await api.post("/codes/redeem", {**check(code.code, "thief"),
                                                       "order_id": "o1"})
    assert (status, body["error"]["code"]) == (409, "not_yours")
    status, body, _ = await api.post("/codes/validate", check(code.code, "owner"))
    assert body["valid"] and body["message"].startswith("Код применён")


async def test_issued_unlimited_code_stays_unlimited(api: Api, db: Database) -> None:
    status, body, _ = await api.post("/codes", {
        "discount_type": "free_shipping", "usage_limit": None, "per_customer_limit": None})
    assert status == 201 and body["usage_limit"] is None and body["uses_left"] is None
    async with db.session() as session:
        stored = (await session.scalars(select(PromoCode))).one()
    assert (stored.usage_limit, stored.per_customer_limit) == (None, None)
