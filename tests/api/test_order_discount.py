"""The checkout keeps the margin: one order, one discount policy, over the shop API.

Default settings: net profit 1 500 ₽ on an average order of 5 000 ₽, 40 % safety → an
18 % ceiling; free shipping costs 300 ₽; exclusive stacking; the top tier (100 000 ₽
spent) gives 12 % and free shipping.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update

import tests.support.factories as factories
from bot.db import Database
from bot.db.models import Customer, DiscountType, PromoCode
from bot.promo.codes.offers import Offer
from tests.support.api import Api

ITEMS = [
    {"sku": "SNEAKER-42", "category": "Shoes", "price": 300_000, "quantity": 1},
    {"sku": "SOCKS-3", "category": "Sale", "price": 100_000, "quantity": 2},
]
BASKET = {"total": 500_000, "items": ITEMS}


async def _shopper(db: Database, clock: Any, net_spend: int = 0, locale: str = "en") -> int:
    customer = await factories.customer(db, "c1", now=clock(), locale=locale)
    async with db.session() as session:
        await session.execute(update(Customer).where(Customer.id == customer.id).values(
            net_spend=net_spend, orders_count=3 if net_spend else 0))
        await session.commit()
    return customer.id


async def _code(db: Database, clock: Any, offer: Offer, customer_id: int, **options: Any) -> str:
    code = await factories.code(db, offer, now=clock(), customer_id=customer_id, **options)
    return code.code


def _redeem(code: str, order_id: str = "o1", basket: Any = BASKET) -> dict[str, Any]:
    return {"code": code, "customer_id": "c1", "order_id": order_id, "order": basket}


async def test_a_second_code_on_an_order_is_refused(api: Api, db: Database, clock: Any) -> None:
    customer = await _shopper(db, clock)
    percent = await _code(db, clock, Offer(DiscountType.PERCENT, 10), customer)
    amount = await _code(db, clock, Offer(DiscountType.FIXED, 50_000), customer)
    status, body, _ = await api.post("/codes/redeem", _redeem(percent))
    assert status == 200 and body["total_discount"] == 50_000
    status, body, _ = await api.post("/codes/redeem", _redeem(amount))
    assert status == 409 and body["error"]["code"] == "order_has_code"
    assert body["error"]["message"] == (
        "This order already has a promo code, and an order can take only one.")
    # Validate says the same when it is told the order.
    check = {"code": amount, "customer_id": "c1", "order_id": "o1", "order": BASKET}
    status, body, _ = await api.post("/codes/validate", check)
    assert status == 200 and body["reason"] == "order_has_code" and not body["valid"]
    # Released, the order takes another code.
    await api.post("/codes/release", {"code": percent, "order_id": "o1"})
    status, body, _ = await api.post("/codes/redeem", _redeem(amount))
    assert status == 200 and body["discount"] == 50_000


async def test_the_top_tier_beats_a_smaller_code_and_the_code_stays(
    api: Api, db: Database, clock: Any
) -> None:
    customer = await _shopper(db, clock, net_spend=10_000_000)
    code = await _code(db, clock, Offer(DiscountType.PERCENT, 15), customer)
    check = {"code": code, "customer_id": "c1", "order": BASKET}
    status, body, _ = await api.post("/codes/validate", check)
    # 12 % (600 ₽) + free shipping (300 ₽) is worth more than 15 % (750 ₽).
    assert status == 200 and not body["valid"] and body["reason"] == "tier_better"
    assert (body["discount"], body["tier_discount"], body["total_discount"]) == (0, 60_000, 60_000)
    assert body["free_shipping"]
    assert body["lines"] == [{"sku": "SNEAKER-42", "discount": 36_000},
                             {"sku": "SOCKS-3", "discount": 24_000}]
    assert body["message"] == (
        "Your loyalty level gives more on this order: ₽600 off and free shipping. "
        "The code was not applied and stays with you.")
    status, body, _ = await api.post("/codes/redeem", _redeem(code))
    assert status == 409 and body["error"]["code"] == "tier_better"


async def test_a_larger_code_replaces_the_tier_and_says_why(
    api: Api, db: Database, clock: Any
) -> None:
    customer = await _shopper(db, clock, net_spend=500_000, locale="ru")  # 3 %
    code = await _code(db, clock, Offer(DiscountType.PERCENT, 10), customer)
    status, body, _ = await api.post("/codes/redeem", _redeem(code))
    assert status == 200
    assert (body["discount"], body["tier_discount"], body["total_discount"]) == (50_000, 0, 50_000)
    assert sum(line["discount"] for line in body["lines"]) == 50_000
    assert body["message"] == (
        "Код применён: скидка 500\xa0₽ на заказ. Он выгоднее скидки вашего уровня "
        "(скидка 150\xa0₽), а вместе они не суммируются.")


async def test_additive_stacking_adds_the_tier_up_to_the_ceiling(
    make_api: Any, db: Database, clock: Any
) -> None:
    customer = await _shopper(db, clock, net_spend=10_000_000)
    code = await _code(db, clock, Offer(DiscountType.PERCENT, 18), customer)
    async with make_api(stacking="additive") as api:
        check = {"code": code, "customer_id": "c1", "order": BASKET}
        status, body, _ = await api.post("/codes/validate", check)
        # 12 % + free shipping already take the 18 % ceiling (900 ₽): nothing is left.
        assert body["reason"] == "ceiling_reached" and body["total_discount"] == 60_000
    async with db.session() as session:
        await session.execute(update(Customer).values(net_spend=2_000_000))  # 5 %
        await session.commit()
    async with make_api(stacking="additive") as api:
        status, body, _ = await api.post("/codes/redeem", _redeem(code))
        # 5 % (250 ₽) + 18 % capped to what is left of 900 ₽ (650 ₽).
        assert status == 200
        assert (body["tier_discount"], body["discount"], body["total_discount"]) == (
            25_000, 65_000, 90_000)
        assert sum(line["discount"] for line in body["lines"]) == 90_000
        assert "An order's discount can be at most ₽900" in body["message"]
        again = await api.post("/codes/redeem", _redeem(code))
        assert again[1]["replayed"] and again[1]["total_discount"] == 90_000
        assert again[1]["lines"] == body["lines"]


async def test_a_code_with_item_conditions_needs_the_items(
    api: Api, db: Database, clock: Any
) -> None:
    customer = await _shopper(db, clock)
    code = await _code(db, clock, Offer(DiscountType.FIXED, 50_000, exclude_categories=("Sale",)),
                       customer)
    check = {"code": code, "customer_id": "c1", "order": {"total": 500_000}}
    status, body, _ = await api.post("/codes/validate", check)
    assert status == 200 and not body["valid"] and body["reason"] == "items_required"
    assert body["discount"] == 0 and "(not on: Sale)" in body["message"]
    status, body, _ = await api.post("/codes/redeem", _redeem(code, basket={"total": 500_000}))
    assert status == 409 and body["error"]["code"] == "items_required"
    status, body, _ = await api.post("/codes/redeem", _redeem(code))
    assert status == 200 and body["lines"][1] == {"sku": "SOCKS-3", "discount": 0}


async def test_a_code_works_only_once_its_message_is_delivered(
    api: Api, db: Database, clock: Any
) -> None:
    customer = await _shopper(db, clock)
    code = await _code(db, clock, Offer(DiscountType.PERCENT, 10), customer,
                       expires_on_delivery=True)
    check = {"code": code, "customer_id": "c1", "order": BASKET}
    status, body, _ = await api.post("/codes/validate", check)
    assert status == 200 and body["reason"] == "not_delivered" and not body["valid"]
    assert "starts working when our message with it reaches you" in body["message"]
    status, body, _ = await api.get("/customers/c1/offers")
    assert body["active_codes"] == []
    async with db.session() as session:  # what the sender records on delivery
        await session.execute(update(PromoCode).values(expires_at=clock() + timedelta(days=30)))
        await session.commit()
    status, body, _ = await api.post("/codes/validate", check)
    assert status == 200 and body["valid"] and body["discount"] == 50_000


async def test_the_ceiling_caps_a_fixed_code_on_a_small_order(
    api: Api, db: Database, clock: Any
) -> None:
    customer = await _shopper(db, clock)
    code = await _code(db, clock, Offer(DiscountType.FIXED, 50_000), customer)
    small = {"total": 100_000, "items": [{"sku": "CAP", "price": 100_000}]}
    status, body, _ = await api.post("/codes/redeem", _redeem(code, basket=small))
    assert status == 200 and body["discount"] == 18_000
    assert body["lines"] == [{"sku": "CAP", "discount": 18_000}]


async def test_openapi_documents_the_order_fields_with_examples(api: Api) -> None:
    _, doc, _ = await api.get("/openapi.json", key=None)
    schemas = doc["components"]["schemas"]
    for name in ("ValidateOut", "RedeemOut"):
        fields = schemas[name]["properties"]
        assert {"discount", "tier_discount", "total_discount", "lines"} <= set(fields)
        assert schemas[name]["examples"]
    assert "order_id" in schemas["ValidateIn"]["properties"] and schemas["ValidateIn"]["examples"]


async def test_codes_issued_combinable_share_an_order_under_additive(
    make_api: Any, db: Database, clock: Any
) -> None:
    await _shopper(db, clock)
    async with make_api(stacking="additive") as api:
        issued = []
        for _ in range(2):
            status, body, _ = await api.post("/codes", {
                "customer_id": "c1", "discount_type": "percent", "value": 5, "combinable": True})
            assert status == 201 and body["combinable"]
            issued.append(body["code"])
        _, offers, _ = await api.get("/customers/c1/offers")
        assert [code["combinable"] for code in offers["active_codes"]] == [True, True]
        totals = []
        for code in issued:
            status, body, _ = await api.post("/codes/redeem", _redeem(code))
            assert status == 200
            totals.append(body["total_discount"])
        assert totals == [25_000, 50_000]
