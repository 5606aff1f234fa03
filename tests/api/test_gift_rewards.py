"""Non-discount rewards over the shop API: a gift item the shop adds at checkout, and
early access to goods before their launch.

Default settings: net profit 1 500 ₽ on an average order of 5 000 ₽, 40 % safety → an
18 % ceiling (900 ₽ on a 5 000 ₽ order); free shipping costs 300 ₽; exclusive stacking;
tiers 8 % at 50 000 ₽ spent, 12 % + free shipping at 100 000 ₽.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

import tests.support.factories as factories
from bot.db import Database
from bot.db.models import Customer, DiscountType, OrderDiscount, PromoCode, Redemption
from bot.promo.codes.offers import Offer
from tests.api.test_concurrency import NO_LIMIT
from tests.support.api import Api, gather

ITEMS = [
    {"sku": "SNEAKER-42", "category": "Shoes", "price": 300_000, "quantity": 1},
    {"sku": "SOCKS-3", "category": "Sale", "price": 100_000, "quantity": 2},
]
BASKET = {"total": 500_000, "items": ITEMS}
MUG = Offer(DiscountType.GIFT, gift_sku="MUG-01", gift_name="Mug with our logo",
            gift_cost=25_000)
MUG_LINE = {"sku": "MUG-01", "discount": 0, "gift": True, "name": "Mug with our logo",
            "price": 0, "quantity": 1}


async def _shopper(db: Database, clock: Any, net_spend: int = 0) -> int:
    customer = await factories.customer(db, "c1", now=clock(), locale="en")
    async with db.session() as session:
        await session.execute(update(Customer).where(Customer.id == customer.id).values(
            net_spend=net_spend, orders_count=3 if net_spend else 0))
        await session.commit()
    return customer.id


def _check(code: str, basket: Any = BASKET) -> dict[str, Any]:
    return {"code": code, "customer_id": "c1", "order": basket}


def _redeem(code: str, order_id: str = "o1", basket: Any = BASKET) -> dict[str, Any]:
    return {**_check(code, basket), "order_id": order_id}


async def _use(db: Database, code_id: int) -> Any:
    async with db.session() as session:
        return await session.scalar(select(Redemption).where(Redemption.code_id == code_id))


async def test_a_gift_comes_as_a_line_at_zero_price_and_costs_its_price(
    api: Api, db: Database, clock: Any
) -> None:
    customer = await _shopper(db, clock)
    code = await factories.code(db, MUG, now=clock(), customer_id=customer)
    status, body, _ = await api.post("/codes/validate", _check(code.code))
    assert status == 200 and body["valid"] and body["reason"] == "ok"
    assert (body["discount"], body["tier_discount"], body["total_discount"]) == (0, 0, 0)
    assert body["lines"] == [{"sku": "SNEAKER-42", "discount": 0},
                             {"sku": "SOCKS-3", "discount": 0}, MUG_LINE]
    assert body["message"] == "Code applied: we add a gift to your order: Mug with our logo."
    status, body, _ = await api.post("/codes/redeem", _redeem(code.code))
    assert status == 200 and body["lines"][-1] == MUG_LINE
    use = await _use(db, code.id)
    assert (use.discount, use.cost) == (0, 25_000)
    # A retry answers the same, gift included.
    status, again, _ = await api.post("/codes/redeem", _redeem(code.code))
    assert status == 200 and again["replayed"] and again["lines"] == body["lines"]


async def test_a_gift_joins_the_tier_within_the_ceiling(
    api: Api, db: Database, clock: Any
) -> None:
    # 8 % (400 ₽) + the mug (250 ₽) = 650 ₽ ≤ 900 ₽: both, whole.
    customer = await _shopper(db, clock, net_spend=5_000_000)
    code = await factories.code(db, MUG, now=clock(), customer_id=customer)
    status, body, _ = await api.post("/codes/redeem", _redeem(code.code))
    assert status == 200
    assert (body["discount"], body["tier_discount"], body["total_discount"]) == (0, 40_000, 40_000)
    assert body["lines"] == [{"sku": "SNEAKER-42", "discount": 24_000},
                             {"sku": "SOCKS-3", "discount": 16_000}, MUG_LINE]
    assert body["message"] == ("Code applied: we add a gift to your order: Mug with our logo. "
                               "Your loyalty level adds ₽400 off.")
    async with db.session() as session:
        order = await session.get(OrderDiscount, "o1")
    assert order.cost == 25_000


async def test_a_gift_shrinks_the_top_tier_to_stay_within_the_ceiling(
    api: Api, db: Database, clock: Any
) -> None:
    # Free shipping 300 ₽ + the mug 250 ₽ leave 350 ₽ of the 900 ₽ for the tier's 600 ₽.
    customer = await _shopper(db, clock, net_spend=10_000_000)
    code = await factories.code(db, MUG, now=clock(), customer_id=customer)
    status, body, _ = await api.post("/codes/validate", _check(code.code))
    assert status == 200 and body["valid"]
    assert (body["tier_discount"], body["total_discount"], body["free_shipping"]) == (
        35_000, 35_000, True)
    assert sum(line["discount"] for line in body["lines"]) == 35_000
    assert body["lines"][-1] == MUG_LINE
    assert body["message"] == (
        "Code applied: we add a gift to your order: Mug with our logo. Your loyalty level adds "
        "₽350 off and free shipping. One order's discounts and gifts are at most ₽900, so with "
        "the gift your loyalty level gives ₽350 instead of ₽600.")
    # 350 ₽ + 300 ₽ shipping + 250 ₽ mug: the whole ceiling, not a kopeck more.
    assert 35_000 + 30_000 + 25_000 == 90_000


async def test_a_gift_above_the_ceiling_is_refused_with_the_order_it_needs(
    api: Api, db: Database, clock: Any
) -> None:
    customer = await _shopper(db, clock)
    vase = Offer(DiscountType.GIFT, gift_sku="VASE", gift_name="Vase", gift_cost=100_000)
    code = await factories.code(db, vase, now=clock(), customer_id=customer)
    status, body, _ = await api.post("/codes/validate", _check(code.code))
    # 1 000 ₽ > 18 % of 5 000 ₽; 18 % of 5 555,56 ₽ holds it.
    assert status == 200 and not body["valid"] and body["reason"] == "ceiling_reached"
    assert body["message"] == ("The gift (Vase) comes with orders from ₽5,555.56: add ₽555.56 "
                               "more. The code stays with you.")
    assert all(not line.get("gift") for line in body["lines"])
    status, body, _ = await api.post("/codes/redeem", _redeem(code.code))
    assert status == 409 and body["error"]["code"] == "ceiling_reached"
    assert "₽5,555.56" in body["error"]["message"]
    assert await _use(db, code.id) is None
    larger = {"total": 555_556, "items": [{"sku": "COAT", "price": 555_556}]}
    status, body, _ = await api.post("/codes/redeem", _redeem(code.code, "o2", larger))
    assert status == 200 and body["lines"][-1]["sku"] == "VASE"


async def test_a_gift_code_keeps_its_conditions_and_cancel_gives_it_back(
    api: Api, db: Database, clock: Any
) -> None:
    customer = await _shopper(db, clock)
    await factories.customer(db, "c2", now=clock())
    code = await factories.code(db, Offer(DiscountType.GIFT, gift_sku="MUG-01", gift_name="Mug",
                                          gift_cost=25_000, min_order=600_000),
                                now=clock(), customer_id=customer)
    status, body, _ = await api.post("/codes/validate", _check(code.code))
    assert body["reason"] == "min_order"
    big = {"total": 600_000, "items": [{"sku": "COAT", "price": 600_000}]}
    status, body, _ = await api.post("/codes/validate", {**_check(code.code, big),
                                                         "customer_id": "c2"})
    assert body["reason"] == "not_yours"
    status, body, _ = await api.post("/codes/redeem", _redeem(code.code, "o1", big))
    assert status == 200 and body["lines"][-1]["sku"] == "MUG-01"
    order = {"customer_id": "c1", "placed_at": "2026-06-01T10:00:00+03:00", "status": "paid",
             "total": 600_000, "promo_code": code.code}
    assert (await api.put("/orders/o1", order))[0] == 201
    status, body, _ = await api.put("/orders/o1", {**order, "status": "cancelled"})
    assert status == 200 and body["released_uses"] == 1
    async with db.session() as session:
        assert (await session.get(OrderDiscount, "o1")).cost == 0
    # Given back, it works again; revoked, it does not.
    status, body, _ = await api.post("/codes/validate", _check(code.code, big))
    assert body["valid"]
    async with db.session() as session:
        await session.execute(update(PromoCode).where(PromoCode.id == code.id)
                              .values(status="revoked"))
        await session.commit()
    status, body, _ = await api.post("/codes/validate", _check(code.code, big))
    assert body["reason"] == "revoked"
    # A gift for anyone, once per customer: a second order of theirs is refused.
    shared = await factories.code(db, MUG, now=clock(), usage_limit=None, per_customer_limit=1)
    assert (await api.post("/codes/redeem", _redeem(shared.code, "o5")))[0] == 200
    status, body, _ = await api.post("/codes/redeem", _redeem(shared.code, "o6"))
    assert status == 409 and body["error"]["code"] == "already_used"
    status, body, _ = await api.post("/codes/redeem", {**_redeem(shared.code, "o7"),
                                                       "customer_id": "c2"})
    assert status == 200 and body["lines"][-1] == MUG_LINE


async def test_a_single_use_gift_code_is_given_once_under_concurrent_orders(
    make_api: Any, db: Database, clock: Any
) -> None:
    await factories.customer(db, "c1", now=clock())
    code = await factories.code(db, MUG, now=clock(), usage_limit=1, per_customer_limit=None)
    async with make_api(**NO_LIMIT) as api:
        answers = await gather(*(api.post("/codes/redeem", _redeem(code.code, f"o{i}"))
                                 for i in range(50)))
    assert Counter(status for status, _, _ in answers) == {200: 1, 409: 49}
    assert {a["error"]["code"] for s, a, _ in answers if s == 409} == {"used_up"}
    winner = next(a for s, a, _ in answers if s == 200)
    assert winner["lines"][-1] == MUG_LINE
    async with db.session() as session:
        uses = (await session.scalars(select(Redemption))).all()
        assert [use.cost for use in uses] == [25_000]
        assert sum(order.cost for order in (await session.scalars(select(OrderDiscount)))) == 25_000


async def test_early_access_opens_the_goods_before_the_launch_and_ends_at_it(
    api: Api, db: Database, clock: Any
) -> None:
    customer = await _shopper(db, clock)
    launch = clock() + timedelta(days=10)
    early = Offer(DiscountType.EARLY_ACCESS, include_categories=("Spring",), launch_at=launch)
    code = await factories.code(db, early, now=clock(), customer_id=customer)
    basket = {"total": 500_000, "items": [
        {"sku": "JACKET", "category": "Spring", "price": 400_000},
        {"sku": "SOCKS-3", "category": "Sale", "price": 100_000}]}
    status, body, _ = await api.post("/codes/validate", _check(code.code, basket))
    assert status == 200 and body["valid"] and body["total_discount"] == 0
    assert body["lines"] == [{"sku": "JACKET", "discount": 0, "early_access": True},
                             {"sku": "SOCKS-3", "discount": 0}]
    assert body["early_access"] == {"until": "2026-06-11T12:00:00Z", "categories": ["Spring"],
                                    "skus": []}
    assert body["message"] == ("Early access: Spring are yours to buy before everyone else, "
                               "until Jun 11, 2026, 3:00\u202fPM.")
    status, body, _ = await api.post("/codes/validate", _check(code.code, BASKET))
    assert body["reason"] == "items_excluded"
    assert body["message"] == ("The code opens Spring before the launch, and your cart has "
                               "none of them.")
    clock.advance(days=10)
    status, body, _ = await api.post("/codes/validate", _check(code.code, basket))
    assert body["reason"] == "expired" and body["early_access"] is None
    status, body, _ = await api.post("/codes/redeem", _redeem(code.code, "o1", basket))
    assert status == 409 and body["error"]["code"] == "expired"


async def test_early_access_with_a_percent_still_opens_where_the_tier_gives_more(
    api: Api, db: Database, clock: Any
) -> None:
    customer = await _shopper(db, clock, net_spend=10_000_000)
    early = Offer(DiscountType.EARLY_ACCESS, value=5, include_categories=("Spring",),
                  launch_at=clock() + timedelta(days=3))
    code = await factories.code(db, early, now=clock(), customer_id=customer)
    basket = {"total": 500_000, "items": [{"sku": "JACKET", "category": "Spring",
                                           "price": 500_000}]}
    status, body, _ = await api.post("/codes/redeem", _redeem(code.code, "o1", basket))
    # The tier's 12 % + free shipping beats 5 %: the tier's discount, the code's access.
    assert status == 200
    assert (body["discount"], body["tier_discount"], body["free_shipping"]) == (0, 60_000, True)
    assert body["lines"] == [{"sku": "JACKET", "discount": 60_000, "early_access": True}]
    assert body["early_access"]["categories"] == ["Spring"]


async def test_issuing_a_gift_and_early_access_over_the_api(
    api: Api, db: Database, clock: Any
) -> None:
    await _shopper(db, clock)
    status, body, _ = await api.post("/codes", {
        "customer_id": "c1", "discount_type": "gift", "valid_days": 30,
        "gift": {"sku": "MUG-01", "name": "Mug with our logo", "cost": 25_000}})
    assert status == 201, body
    assert body["gift"] == {"sku": "MUG-01", "name": "Mug with our logo", "cost": 25_000}
    assert body["description"][0] == "gift: Mug with our logo"
    status, body, _ = await api.post("/codes/validate", _check(body["code"]))
    assert body["valid"] and body["lines"][-1] == MUG_LINE
    status, body, _ = await api.post("/codes", {
        "customer_id": "c1", "discount_type": "early_access", "value": 10,
        "include_categories": ["Spring"], "launch_at": "2026-06-20T10:00:00+03:00"})
    assert status == 201, body
    assert body["expires_at"] == body["launch_at"] == "2026-06-20T07:00:00Z"
    assert body["description"][0] == ("early access to Spring until Jun 20, 2026, 10:00\u202fAM "
                                      "+ discount 10%")


async def test_the_guardrail_counts_the_gift_cost_at_issue(
    api: Api, db: Database, clock: Any
) -> None:
    await _shopper(db, clock)
    # 1 000 ₽ of an average 5 000 ₽ order: 20 % > 18 %.
    status, body, _ = await api.post("/codes", {
        "discount_type": "gift", "gift": {"sku": "VASE", "name": "Vase", "cost": 100_000}})
    assert status == 409 and body["error"]["code"] == "guardrail"
    assert "20%" in body["error"]["message"] and "18%" in body["error"]["message"]
    # With the top tier the mug (5 %) comes on top of 12 % + free shipping 6 %: 23 %.
    async with db.session() as session:
        await session.execute(update(Customer).values(net_spend=10_000_000))
        await session.commit()
    status, body, _ = await api.post("/codes", {
        "customer_id": "c1", "discount_type": "gift",
        "gift": {"sku": "MUG-01", "name": "Mug", "cost": 25_000}})
    assert status == 409 and body["error"]["code"] == "guardrail"
    assert "gift 5%" in body["error"]["message"] and "23%" in body["error"]["message"]


async def test_bad_gift_and_early_access_bodies_are_422(api: Api, db: Database,
                                                       clock: Any) -> None:
    gift = {"sku": "MUG-01", "name": "Mug", "cost": 25_000}
    bad = [
        ({"discount_type": "gift"}, "gift"),
        ({"discount_type": "percent", "value": 10, "gift": gift}, "gift"),
        ({"discount_type": "gift", "gift": {**gift, "cost": -1}}, "gift.cost"),
        ({"discount_type": "gift", "gift": {**gift, "cost": "250"}}, "gift.cost"),
        ({"discount_type": "gift", "gift": {"sku": "MUG-01", "cost": 1}}, "gift.name"),
        ({"discount_type": "gift", "gift": {**gift, "colour": "red"}}, "gift.colour"),
        ({"discount_type": "gift", "gift": gift, "value": 10}, "value"),
        ({"discount_type": "early_access", "include_categories": ["Spring"]}, "launch_at"),
        ({"discount_type": "early_access", "launch_at": "2026-06-20T10:00:00+03:00"},
         "include_categories"),
        ({"discount_type": "early_access", "include_categories": ["Spring"],
          "launch_at": "2026-05-20T10:00:00+03:00"}, "launch_at"),
        ({"discount_type": "early_access", "include_categories": ["Spring"],
          "launch_at": "2026-06-20T10:00:00"}, "launch_at"),
        ({"discount_type": "early_access", "include_categories": ["Spring"], "value": 101,
          "launch_at": "2026-06-20T10:00:00+03:00"}, "value"),
        ({"discount_type": "percent", "value": 10, "launch_at": "2026-06-20T10:00:00+03:00"},
         "launch_at"),
    ]
    for body, field in bad:
        status, answer, _ = await api.post("/codes", body)
        assert status == 422, (body, answer)
        assert field in answer["error"]["fields"], (body, answer)
    async with db.session() as session:
        assert (await session.scalars(select(PromoCode))).all() == []


async def test_openapi_documents_the_gift_and_early_access(api: Api) -> None:
    status, document, _ = await api.get("/openapi.json")
    assert status == 200
    schemas = document["components"]["schemas"]
    assert {"gift", "early_access"} <= set(
        schemas["IssueIn"]["properties"]["discount_type"]["enum"])
    assert {"gift", "name", "price", "quantity", "early_access"} <= set(
        schemas["LineOut"]["properties"])
    kinds = {example["discount_type"] for example in schemas["IssueIn"]["examples"]}
    assert {"gift", "early_access"} <= kinds
    assert any(line.get("gift") for example in schemas["ValidateOut"]["examples"]
               for line in example["lines"])


async def test_a_campaign_budget_is_charged_the_gift_cost(api: Api, db: Database,
                                                          clock: Any) -> None:
    await _shopper(db, clock)
    campaign = await factories.campaign(db, now=clock(), budget_amount=40_000)
    codes = []
    for _ in range(2):
        status, body, _ = await api.post("/codes", {
            "discount_type": "gift", "campaign_id": campaign.id,
            "gift": {"sku": "MUG-01", "name": "Mug with our logo", "cost": 25_000}})
        assert status == 201
        codes.append(body["code"])
    assert (await api.post("/codes/redeem", _redeem(codes[0], "o1")))[0] == 200
    status, body, _ = await api.get(f"/campaigns/{campaign.id}")
    assert (body["budget"]["spent_amount"], body["budget"]["amount_left"]) == (25_000, 15_000)
    # The second mug would cost 50 000 of a 40 000 budget.
    status, body, _ = await api.post("/codes/redeem", _redeem(codes[1], "o2"))
    assert status == 409 and body["error"]["code"] == "budget_spent"
    assert (await api.post("/codes/release", {"code": codes[0], "order_id": "o1"}))[0] == 200
    status, body, _ = await api.get(f"/campaigns/{campaign.id}")
    assert body["budget"]["spent_amount"] == 0
    assert (await api.post("/codes/redeem", _redeem(codes[1], "o2")))[0] == 200
