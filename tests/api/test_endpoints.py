"""Every endpoint's happy path, through HTTP."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

import tests.support.factories as factories
from bot.db import Database
from bot.db.models import AbandonedCart, DiscountType, LinkToken, PromoCode, Review
from bot.promo.codes.offers import Offer
from bot.promo.customers.linking import LinkOutcome, consume_link_token, token_hash
from tests.support.api import Api

ORDER = {
    "customer_id": "c1",
    "placed_at": "2026-05-30T10:00:00+03:00",
    "status": "paid",
    "total": 250_000,
    "currency": "RUB",
    "items": [{"sku": "TEA-1", "category": "tea", "price": 125_000, "quantity": 2}],
}


async def test_health_and_openapi_need_no_key(api: Api) -> None:
    status, body, _ = await api.get("/health", key=None)
    assert (status, body) == (200, {"status": "ok"})
    status, doc, _ = await api.get("/openapi.json", key=None)
    assert status == 200 and doc["openapi"].startswith("3.")


async def test_customer_upsert(api: Api) -> None:
    status, body, _ = await api.put("/customers/c1", {
        "name": "Анна", "phone": "8 (916) 123-45-67", "locale": "en-US", "marketing_opt_in": False,
    })
    assert status == 201
    assert body["phone"] == "+79161234567" and body["locale"] == "en" and body["created"]
    status, body, _ = await api.put("/customers/c1", {"email": "anna@example.com"})
    assert status == 200 and not body["created"]
    assert body["name"] == "Анна" and body["email"] == "anna@example.com"


async def test_order_upsert_is_idempotent_by_order_id(api: Api) -> None:
    await api.put("/customers/c1", {})
    status, body, _ = await api.put("/orders/o1", ORDER)
    assert status == 201 and body["orders_count"] == 1 and body["net_spend"] == 250_000
    status, body, _ = await api.put("/orders/o1", ORDER)
    assert status == 200 and not body["changed"] and body["net_spend"] == 250_000
    status, body, _ = await api.put("/orders/o1", {**ORDER, "status": "returned"})
    assert status == 200 and body["net_spend"] == 0 and body["previous_status"] == "paid"


async def test_link_token(api: Api, db: Database, clock: Any) -> None:
    await api.put("/customers/c1", {})
    status, body, _ = await api.post("/link-tokens", {"customer_id": "c1"})
    assert status == 201
    token = body["token"]
    assert body["url"] == f"https://t.me/promobot?start=link_{token}"
    assert len("link_" + token) <= 64 and len(token) >= 22
    assert body["expires_at"].startswith("2026-06-02T12:00:00")
    async with db.session() as session:
        stored = (await session.scalars(select(LinkToken))).one()
        assert stored.token_hash == token_hash(token) and token not in stored.token_hash
        first = await consume_link_token(session, "link_" + token, 42, clock())
        second = await consume_link_token(session, token, 43, clock())
        await session.commit()
    assert first.outcome is LinkOutcome.LINKED and first.customer.external_id == "c1"
    assert second.outcome is LinkOutcome.USED


async def test_validate_redeem_release(api: Api, db: Database, clock: Any) -> None:
    customer = await factories.customer(db, "c1", now=clock(), locale="en")
    code = await factories.code(db, Offer(DiscountType.PERCENT, 10, min_order=100_000),
                                now=clock(), customer_id=customer.id)
    basket = {"total": 250_000, "items": ORDER["items"]}
    check = {"code": code.code.lower(), "customer_id": "c1", "order": basket}
    status, body, _ = await api.post("/codes/validate", check)
    assert status == 200 and body["valid"] and body["discount"] == 25_000
    assert body["message"] == "Code applied: ₽250 off your order."
    redeem = {"code": code.code, "customer_id": "c1", "order_id": "o1", "order": basket}
    status, body, _ = await api.post("/codes/redeem", redeem)
    assert status == 200 and body["discount"] == 25_000 and not body["replayed"]
    first_id = body["redemption_id"]
    status, body, _ = await api.post("/codes/redeem", redeem)
    assert status == 200 and body["replayed"] and body["redemption_id"] == first_id
    status, body, _ = await api.post("/codes/release", {"code": code.code, "order_id": "o1"})
    assert (status, body) == (200, {"released": 1})
    status, body, _ = await api.post("/codes/release", {"code": code.code, "order_id": "o1"})
    assert (status, body) == (200, {"released": 0})


async def test_issue_code_and_offers(api: Api, db: Database, clock: Any) -> None:
    await api.put("/customers/c1", {"locale": "ru"})
    status, body, _ = await api.post("/codes", {
        "customer_id": "c1", "channel": "email", "discount_type": "percent", "value": 10,
        "min_order": 300_000, "valid_days": 14, "prefix": "mail",
    })
    assert status == 201, body
    assert body["code"].startswith("MAIL") and body["channel"] == "email"
    assert "10" in body["description"][0] and len(body["description"]) == 3
    status, body2, _ = await api.post("/codes", {"discount_type": "percent", "value": 40})
    assert status == 409 and body2["error"]["code"] == "guardrail"
    await api.put("/orders/o1", ORDER)
    status, offers, _ = await api.get("/customers/c1/offers")
    assert status == 200
    assert [c["code"] for c in offers["active_codes"]] == [body["code"]]
    assert offers["tier"] == {"level": 0, "percent": 0, "free_shipping": False}
    assert offers["progress"]["left"] == 500_000 - 250_000 and offers["locale"] == "ru"
    async with db.session() as session:
        stored = (await session.scalars(select(PromoCode))).one()
    assert stored.source == "api" and stored.customer_id is not None


async def test_review_once_per_order(api: Api, db: Database) -> None:
    await api.put("/customers/c1", {})
    await api.put("/orders/o1", ORDER)
    review = {"order_id": "o1", "customer_id": "c1", "rating": 5, "has_photo": True}
    status, first, _ = await api.post("/events/review", review)
    assert status == 201 and first["created"]
    status, second, _ = await api.post("/events/review", {**review, "rating": 3})
    assert status == 200 and not second["created"] and second["rating"] == 5
    assert second["review_id"] == first["review_id"]
    await api.put("/customers/c2", {})
    status, body, _ = await api.post("/events/review", {**review, "customer_id": "c2"})
    assert status == 409 and body["error"]["code"] == "order_customer_mismatch"
    status, body, _ = await api.post("/events/review", {**review, "order_id": "nope"})
    assert status == 404
    async with db.session() as session:
        assert len((await session.scalars(select(Review))).all()) == 1


async def test_cart_abandoned(api: Api, db: Database) -> None:
    await api.put("/customers/c1", {})
    cart = {"customer_id": "c1", "cart_id": "cart-1", "items": [
        {"sku": "A", "price": 1000, "quantity": 3}, {"sku": "B", "price": 500}]}
    status, body, _ = await api.post("/events/cart-abandoned", cart)
    assert (status, body) == (201, {"cart_id": "cart-1", "created": True, "total": 3500})
    status, body, _ = await api.post("/events/cart-abandoned", cart)
    assert status == 200 and not body["created"]
    async with db.session() as session:
        stored = (await session.scalars(select(AbandonedCart))).one()
    assert stored.items[0] == {"sku": "A", "category": None, "price": 1000, "quantity": 3}
