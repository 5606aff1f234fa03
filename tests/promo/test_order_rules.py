"""Order-level rules enforced inside the redeem transaction, under concurrency."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
from sqlalchemy import func, select, update

from bot.db.models import Campaign, DiscountType, OrderDiscount, PromoCode, Redemption
from bot.db.tx import SyncTx, drive
from bot.promo.campaigns import budget
from bot.promo.checkout.order_rules import budget_of
from bot.promo.checkout.release import release
from bot.promo.checkout.validation import Reason
from bot.promo.codes.offers import Basket, Item, Offer
from tests.support import factories
from tests.support.checkout import SHOP, redeem, terms

BASKET = Basket(500_000, (Item("A", 500_000),))
ADDITIVE = terms(stacking="additive")


def _order(customer: int, order: str, now: Any) -> dict[str, Any]:
    return {"customer_id": customer, "order_external_id": order, "basket": BASKET, "now": now}


async def _campaign_code(db: Any, clock: Any, offer: Offer, **budget: int) -> str:
    campaign = await factories.campaign(db, now=clock(), **budget)
    code = await factories.code(db, offer, now=clock(), campaign_id=campaign.id,
                                usage_limit=None, per_customer_limit=None)
    return code.code


async def test_two_codes_raced_onto_one_order_only_one_wins(db, clock) -> None:
    customer = (await factories.customer(db, now=clock())).id
    first, second = [
        (await factories.code(db, Offer(DiscountType.PERCENT, percent), now=clock(),
                              customer_id=customer, usage_limit=100)).code
        for percent in (10, 15)
    ]
    outcomes = await asyncio.gather(*(
        redeem(db.hot, (first, second)[i % 2], shop=SHOP, **_order(customer, "o1", clock()))
        for i in range(100)
    ))
    winners = {o.verdict.code.code for o in outcomes if o.ok}
    assert len(winners) == 1
    # The winner's retries replay its first answer; the other code is refused.
    assert {o.verdict.reason for o in outcomes if not o.ok} == {Reason.ORDER_HAS_CODE}
    async with db.read_session() as session:
        assert await session.scalar(select(func.count()).select_from(Redemption)) == 1
        held = await session.get(OrderDiscount, "o1")
        assert held.codes == 1 and held.cost == (50_000 if first in winners else 75_000)


async def test_a_uses_budget_of_ten_under_100_concurrent_redeems(db, clock) -> None:
    customers = [c.id for c in await factories.customers(db, 100, now=clock())]
    code = await _campaign_code(db, clock, Offer(DiscountType.PERCENT, 5), budget_uses=10)
    outcomes = await asyncio.gather(*(
        redeem(db.hot, code, shop=SHOP, **_order(customers[i], f"o{i}", clock()))
        for i in range(100)
    ))
    assert sum(o.ok for o in outcomes) == 10
    assert {o.verdict.reason for o in outcomes if not o.ok} == {Reason.BUDGET_SPENT}
    async with db.read_session() as session:
        campaign = await session.scalar(select(Campaign))
        assert (campaign.spent_uses, campaign.spent_amount) == (10, 10 * 25_000)
        assert (await session.scalar(select(func.sum(PromoCode.used_count)))) == 10


async def test_a_money_budget_is_never_overspent_by_a_kopeck(db, clock) -> None:
    customers = [c.id for c in await factories.customers(db, 40, now=clock())]
    # Each use costs 300 ₽; 1 000 ₽ pays for three, the fourth would overspend by 200 ₽.
    code = await _campaign_code(db, clock, Offer(DiscountType.FIXED, 30_000),
                                budget_amount=100_000)
    outcomes = await asyncio.gather(*(
        redeem(db.hot, code, shop=SHOP, **_order(customers[i], f"o{i}", clock()))
        for i in range(40)
    ))
    assert sum(o.ok for o in outcomes) == 3
    async with db.session() as session:
        campaign = await session.scalar(select(Campaign))
        assert campaign.spent_amount == 90_000
        # A release gives its cost back, and the budget pays for one more.
        paid = next(i for i, outcome in enumerate(outcomes) if outcome.ok)
        assert await release(session, code, f"o{paid}", now=clock()) == 1
        await session.commit()
    again = await redeem(db.hot, code, shop=SHOP, **_order(customers[39], "late", clock()))
    assert again.ok
    async with db.read_session() as session:
        assert (await session.scalar(select(Campaign.spent_amount))) == 90_000


async def test_free_shipping_counts_against_a_money_budget(db, clock) -> None:
    customer = (await factories.customer(db, now=clock())).id
    code = await _campaign_code(db, clock, Offer(DiscountType.PERCENT, 5, free_shipping=True),
                                budget_amount=54_999)
    # 5 % of 5 000 ₽ is 250 ₽, shipping 300 ₽: 550 ₽ > 549.99 ₽.
    outcome = await redeem(db.hot, code, shop=SHOP, **_order(customer, "o1", clock()))
    assert outcome.verdict.reason is Reason.BUDGET_SPENT


async def test_combinable_codes_share_an_order_under_additive_stacking(db, clock) -> None:
    customer = (await factories.customer(db, now=clock())).id
    codes = [(await factories.code(db, Offer(DiscountType.PERCENT, 10), now=clock(),
                                   customer_id=customer)).code for _ in range(3)]
    async with db.session() as session:
        await session.execute(update(PromoCode).where(PromoCode.code.in_(codes[:2]))
                              .values(combinable=True))
        await session.commit()
    order = _order(customer, "o1", clock())
    first = await redeem(db.hot, codes[0], shop=ADDITIVE, **order)
    second = await redeem(db.hot, codes[1], shop=ADDITIVE, **order)
    # 10 % + 10 % of 5 000 ₽ = 1 000 ₽ > the 18 % ceiling (900 ₽): the second gives 400 ₽.
    assert (first.discount, second.discount) == (50_000, 40_000)
    assert second.verdict.total_discount == 90_000 and second.verdict.lines == (90_000,)
    # A code that is not combinable does not join them; under exclusive nothing does.
    third = await redeem(db.hot, codes[2], shop=ADDITIVE, **order)
    assert third.verdict.reason is Reason.ORDER_HAS_CODE
    other = _order(customer, "o2", clock())
    assert (await redeem(db.hot, codes[2], shop=SHOP, **other)).ok


async def test_a_first_budget_counts_what_the_campaign_spent_before(db, clock) -> None:
    customers = [c.id for c in await factories.customers(db, 3, now=clock())]
    code = await _campaign_code(db, clock, Offer(DiscountType.PERCENT, 5))
    assert (await redeem(db.hot, code, shop=SHOP, **_order(customers[0], "o0", clock()))).ok
    async with db.session() as session:
        campaign_id = await session.scalar(select(Campaign.id))
        state = await budget.set_budget(session, campaign_id, uses=2, actor="test", now=clock())
        await session.commit()
    assert (state.spent_uses, state.spent_amount) == (1, 25_000)
    outcomes = [await redeem(db.hot, code, shop=SHOP, **_order(customers[i], f"o{i}", clock()))
                for i in (1, 2)]
    assert [o.ok for o in outcomes] == [True, False]


async def test_a_retry_answers_with_the_tiers_free_shipping_too(db, clock) -> None:
    # 100 000 ₽ spent: the top tier, 12 % and free shipping.
    customer = (await factories.customer(db, now=clock(), net_spend=10_000_000)).id
    code = (await factories.code(db, Offer(DiscountType.PERCENT, 5), now=clock(),
                                 customer_id=customer)).code
    wide = terms(stacking="additive", guardrail_net_profit_per_order=250_000,
                 guardrail_average_order_value=500_000, guardrail_safety_share=0)
    order = _order(customer, "o1", clock())
    first = await redeem(db.hot, code, shop=wide, **order)
    again = await redeem(db.hot, code, shop=wide, **order)
    assert first.ok and again.replayed
    assert first.verdict.order.free_shipping and again.verdict.order.free_shipping
    assert again.verdict.total_discount == first.verdict.total_discount == 85_000


async def test_no_code_joins_an_order_whose_total_changed(db, clock) -> None:
    customer = (await factories.customer(db, now=clock())).id
    codes = [(await factories.code(db, Offer(DiscountType.PERCENT, 5), now=clock(),
                                   customer_id=customer)).code for _ in range(2)]
    async with db.session() as session:
        await session.execute(update(PromoCode).values(combinable=True))
        await session.commit()
    assert (await redeem(db.hot, codes[0], shop=ADDITIVE, **_order(customer, "o1", clock()))).ok
    bigger = {**_order(customer, "o1", clock()), "basket": Basket(900_000, (Item("A", 900_000),))}
    outcome = await redeem(db.hot, codes[1], shop=ADDITIVE, **bigger)
    assert outcome.verdict.reason is Reason.ORDER_HAS_CODE


@pytest.mark.skipif(not os.environ.get("PROMOBOT_TEST_DATABASE_URL"),
                    reason="SQLite serializes writers: no redeem runs beside set_budget")
async def test_a_first_budget_waits_for_a_redeem_under_way(db, clock) -> None:
    customers = [c.id for c in await factories.customers(db, 2, now=clock())]
    code = await _campaign_code(db, clock, Offer(DiscountType.PERCENT, 5))
    async with db.read_session() as session:
        campaign_id = await session.scalar(select(Campaign.id))
    # A redeem that has read "no budget" and not committed yet holds the lock shared.
    async with db.engine.connect() as conn:
        transaction = await conn.begin()
        await conn.run_sync(lambda sync: drive(budget_of(SyncTx(sync), campaign_id)))

        async def set_one_use() -> budget.BudgetState:
            async with db.session() as session:
                state = await budget.set_budget(session, campaign_id, uses=1, actor="test",
                                                now=clock())
                await session.commit()
                return state

        setting = asyncio.ensure_future(set_one_use())
        await asyncio.sleep(0.3)
        assert not setting.done()
        await transaction.commit()
    state = await setting
    assert state.spent_uses == 0
    # Now every redeem reads the budget: one use, then no more.
    outcomes = [await redeem(db.hot, code, shop=SHOP, **_order(customers[i], f"o{i}", clock()))
                for i in (0, 1)]
    assert [o.ok for o in outcomes] == [True, False]
