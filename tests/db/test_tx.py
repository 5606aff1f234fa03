"""The checkout on PostgreSQL's two paths gives the same answers: straight on asyncpg (what
`promobot` runs) and through SQLAlchemy's async engine (`HotPath(through_driver=False)`).

One scenario of validations, redemptions, replays, releases and refusals runs on each
path from the same empty database; every answer and every row it leaves must agree.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from bot.db import Base, Database
from bot.db.hotpath import HotPath
from bot.db.models import CodeCustomerUsage, DiscountType, OrderDiscount, PromoCode, Redemption
from bot.promo.checkout.lookup import validate_for
from bot.promo.checkout.redemption import RedeemOutcome
from bot.promo.checkout.release import release_code
from bot.promo.checkout.validation import Verdict
from bot.promo.codes.offers import Basket, Item, Offer
from tests.support import factories
from tests.support.checkout import OPEN, SHOP, redeem, terms

pytestmark = pytest.mark.skipif(not os.environ.get("PROMOBOT_TEST_DATABASE_URL"),
                                reason="the driver path is PostgreSQL's")

BASKET = Basket(500_000, (Item("A", 300_000, category="shoes"),
                          Item("B", 200_000, category="gift-cards")))
ADDITIVE = terms(stacking="additive", guardrail_net_profit_per_order=500_000,
                 guardrail_average_order_value=500_000, guardrail_safety_share=0)


def _verdict(verdict: Verdict | None) -> tuple[Any, ...] | None:
    if verdict is None:
        return None
    return (str(verdict.reason), verdict.discount, verdict.free_shipping, verdict.missing,
            verdict.excluded_items, verdict.tier_discount, verdict.total_discount,
            verdict.lines, verdict.code.id if verdict.code else None, verdict.cost,
            verdict.order.gifts if verdict.order else None,
            verdict.order.opened if verdict.order else None)


def _redeemed(outcome: RedeemOutcome) -> tuple[Any, ...]:
    return (_verdict(outcome.verdict), outcome.redemption_id, outcome.discount,
            outcome.free_shipping, outcome.replayed)


async def _scenario(db: Database, hot: HotPath, now: Any) -> list[Any]:
    """Every kind of answer the checkout gives, in an order that exercises replays,
    releases and revivals; the data is made afresh, so ids match from run to run."""
    alice, bob = [c.id for c in await factories.customers(db, 2, now=now)]
    rich = await factories.customer(db, "rich", now=now, orders_count=12, net_spend=9_000_000)
    personal = await factories.code(db, now=now, customer_id=alice)
    shared = await factories.code(db, Offer(DiscountType.FIXED, 30_000), now=now,
                                  usage_limit=5, per_customer_limit=1)
    categories = await factories.code(
        db, Offer(DiscountType.PERCENT, 20, include_categories=("gift-cards",),
                  min_order=100_000), now=now, usage_limit=None, per_customer_limit=None)
    expired = await factories.code(db, now=now - timedelta(days=60), customer_id=alice)
    shipping = await factories.code(db, Offer(DiscountType.PERCENT, 5, free_shipping=True),
                                    now=now, usage_limit=None, per_customer_limit=None)
    answers: list[Any] = []

    async def validate(customer: str, code: str, basket: Basket = BASKET,
                       order: str | None = None, shop: Any = OPEN) -> None:
        shopper, verdict = await hot.read(validate_for, customer, code, basket, shop, now, order)
        answers.append(("validate", shopper.id if shopper else None, _verdict(verdict)))

    async def use(customer: int, code: str, order: str, basket: Basket = BASKET,
                  shop: Any = OPEN) -> None:
        outcome = await redeem(hot, code, shop=shop, customer_id=customer,
                               order_external_id=order, basket=basket, now=now)
        answers.append(("redeem", _redeemed(outcome)))

    async def give_back(code: str, order: str) -> None:
        answers.append(("release", await hot.write(release_code, code, order, now)))

    for code in (personal.code, personal.code.lower(), "NO-SUCH-1", "x", expired.code,
                 shared.code, categories.code, shipping.code):
        await validate("c0", code)
    await validate("c1", personal.code)  # not theirs
    await validate("nobody", personal.code)
    await validate("c0", categories.code,
                   Basket(50_000, (Item("B", 50_000, category="gift-cards"),)))
    await validate("c0", categories.code, Basket(500_000, (Item("A", 500_000, category="shoes"),)))
    await validate("rich", shared.code, shop=ADDITIVE)
    await use(alice, personal.code, "o1")
    await use(alice, personal.code, "o1")  # the retry replays
    await use(alice, personal.code, "o2")  # used up
    await use(bob, personal.code, "o3")  # not theirs
    await use(alice, shared.code, "o1")  # the order holds a code
    await validate("c0", shared.code, order="o1")
    await give_back(personal.code, "o1")
    await give_back(personal.code, "o1")  # nothing left to give back
    await give_back("NO-SUCH-1", "o1")
    await use(alice, personal.code, "o1")  # revived
    for customer in (alice, bob, rich.id, alice):
        await use(customer, shared.code, f"s{customer}")  # the fourth: already used
    await use(bob, shared.code, f"s{bob}-again")  # one use per customer, on any order
    await use(rich.id, categories.code, "a1", shop=ADDITIVE)
    await use(rich.id, shipping.code, "a1", shop=ADDITIVE)  # joins under additive stacking
    await use(rich.id, shipping.code, "a1", shop=ADDITIVE)  # replays with the order's total
    await validate("rich", personal.code, order="a1", shop=ADDITIVE)
    await give_back(shipping.code, "a1")
    await use(rich.id, expired.code, "a2")
    # A gift item and early access: the gift's cost, its line, replays and releases.
    gift = await factories.code(db, Offer(DiscountType.GIFT, gift_sku="MUG", gift_name="Mug",
                                          gift_cost=25_000), now=now, customer_id=alice)
    vase = await factories.code(db, Offer(DiscountType.GIFT, gift_sku="VASE", gift_name="Vase",
                                          gift_cost=95_000), now=now, customer_id=alice)
    early = await factories.code(db, Offer(DiscountType.EARLY_ACCESS, value=5,
                                           include_categories=("shoes",),
                                           launch_at=now + timedelta(days=5)),
                                 now=now, usage_limit=None, per_customer_limit=None)
    await validate("c0", gift.code)
    await validate("c1", gift.code)  # not theirs
    await validate("c0", vase.code, shop=SHOP)  # above the 18 % ceiling
    await validate("rich", gift.code, shop=ADDITIVE)  # not theirs either
    await use(alice, gift.code, "g1")
    await use(alice, gift.code, "g1")  # the retry replays, gift and all
    await use(alice, vase.code, "g2", shop=SHOP)
    await use(alice, vase.code, "g3")  # within the open ceiling
    await validate("rich", early.code)
    await validate("c0", early.code, Basket(200_000, (Item("B", 200_000, category="gift-cards"),)))
    await use(rich.id, early.code, "e1")
    await use(rich.id, early.code, "e1")
    await give_back(gift.code, "g1")
    await use(alice, gift.code, "g1")  # revived
    return answers


async def _rows(db: Database) -> list[Any]:
    found = []
    async with db.read_session() as session:
        for model in (PromoCode, CodeCustomerUsage, Redemption, OrderDiscount):
            table = model.__table__
            key = list(table.primary_key.columns)
            rows = (await session.execute(select(table).order_by(*key))).all()
            found.append([tuple(v for c, v in zip(table.c, row, strict=True)
                                if c.key not in ("code", "updated_at")) for row in rows])
    return found


async def _empty(db: Database) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with db.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


async def test_the_driver_and_sqlalchemy_give_the_same_answers(db: Database, clock: Any) -> None:
    through_sqlalchemy = HotPath(str(db.engine.url), db.engine, through_driver=False)
    try:
        driver_answers = await _scenario(db, db.hot, clock())
        driver_rows = await _rows(db)
        await _empty(db)
        sqlalchemy_answers = await _scenario(db, through_sqlalchemy, clock())
        sqlalchemy_rows = await _rows(db)
    finally:
        await through_sqlalchemy.dispose()
    assert len(driver_answers) == 48
    for driver, sqlalchemy in zip(driver_answers, sqlalchemy_answers, strict=True):
        assert driver == sqlalchemy
    assert driver_rows == sqlalchemy_rows
    # The scenario reaches the answers it means to compare.
    reasons = {answer[2][0] for answer in driver_answers if answer[0] == "validate" and answer[2]}
    reasons |= {answer[1][0][0] for answer in driver_answers if answer[0] == "redeem"}
    assert reasons >= {"ok", "unknown", "expired", "not_yours", "min_order", "items_excluded",
                       "used_up", "already_used", "order_has_code", "ceiling_reached"}
    # The gift and early access reach the answers too.
    assert any(answer[2] and answer[2][10] for answer in driver_answers
               if answer[0] == "validate")
    assert any(answer[1][0][11] for answer in driver_answers if answer[0] == "redeem")
    assert any(answer[1][4] for answer in driver_answers if answer[0] == "redeem")  # replays
