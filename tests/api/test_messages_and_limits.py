"""Shopper messages in ru and en; not_yours; the failed-attempt rate limit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

import tests.support.factories as factories
from bot.api.ratelimit import FailureLimiter
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
    assert body["message"] == "The code works on orders from ₽500: add ₽400 more."
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


async def test_failed_checks_are_rate_limited_per_customer_and_key(
    make_api: Any, db: Database, clock: Any
) -> None:
    for name in ("c1", "c2", "c3"):
        await factories.customer(db, name, now=clock())
    code = await factories.code(db, now=clock(), usage_limit=None)
    async with make_api(api_failed_validations_per_minute=3) as api:
        for _ in range(3):
            status, body, _ = await api.post("/codes/validate", check("WRONGCODE1", "c1"))
            assert (status, body["valid"]) == (200, False)
        status, body, headers = await api.post("/codes/validate", check(code.code, "c1"))
        assert (status, body["error"]["code"]) == (429, "rate_limited")
        assert 1 <= int(headers["Retry-After"]) <= 60
        status, _, _ = await api.post("/codes/redeem", {**check("WRONGCODE1", "c1"),
                                                        "order_id": "o1"})
        assert status == 429
        # The key is spent too: the same limit holds per key and per customer.
        status, _, _ = await api.post("/codes/validate", check(code.code, "c2"))
        assert status == 429
        # Another key: the customer who failed is still held, another one is not.
        status, _, _ = await api.post("/codes/validate", check(code.code, "c1"),
                                      key="other-key")
        assert status == 429
        status, body, _ = await api.post("/codes/validate", check(code.code, "c2"),
                                         key="other-key")
        assert (status, body["valid"]) == (200, True)
        # Successes do not count: c2 keeps validating.
        for _ in range(5):
            assert (await api.post("/codes/validate", check(code.code, "c2"),
                                   key="other-key"))[0] == 200


def test_limiter_window_ends() -> None:
    now = [0.0]
    limiter = FailureLimiter(2, timer=lambda: now[0])
    limiter.record_failure("a")
    limiter.record_failure("a")
    now[0] = 10.2
    assert limiter.retry_after("a") == 50 and limiter.retry_after("b") is None
    now[0] = 60.0
    assert limiter.retry_after("a") is None


async def test_issued_unlimited_code_stays_unlimited(api: Api, db: Database) -> None:
    status, body, _ = await api.post("/codes", {
        "discount_type": "free_shipping", "usage_limit": None, "per_customer_limit": None})
    assert status == 201 and body["usage_limit"] is None and body["uses_left"] is None
    async with db.session() as session:
        stored = (await session.scalars(select(PromoCode))).one()
    assert (stored.usage_limit, stored.per_customer_limit) == (None, None)


async def test_each_worker_holds_its_share_of_the_failure_limit(
    make_api: Any, db: Database, clock: Any
) -> None:
    """With 3 workers counting apart, a guesser spread over them still gets 6 in all."""
    await factories.customer(db, "c1", now=clock())
    async with make_api(api_failed_validations_per_minute=6, api_workers=3) as api:
        for _ in range(2):
            assert (await api.post("/codes/validate", check("WRONGCODE1", "c1")))[0] == 200
        status, _, _ = await api.post("/codes/validate", check("WRONGCODE1", "c1"))
        assert status == 429
