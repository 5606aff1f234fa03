"""`/issue` weighs a personal code with the customer's tier (issue 11), and a manager's
budget counts free shipping: through the real Dispatcher and the fake Bot API."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

import tests.support.factories as factories
import tests.support.updates as u
from bot.config import Settings
from bot.db import Database
from bot.db.models import Delivery, PromoCode
from tests.support.chat import Chat
from tests.support.managers import MANAGER, SHOPPER, add_staff, audit_rows

TOP_SPEND = 10_000_000  # 100 000 ₽: 12 % + free shipping


@pytest.fixture
def stacking() -> str:
    return "exclusive"


@pytest.fixture
def settings(settings: Settings, stacking: str) -> Settings:
    return settings.replace(stacking=stacking)


async def count(db: Database, model: type) -> int:
    async with db.read_session() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


@pytest.mark.parametrize("stacking", ["additive"])
async def test_top_tier_plus_18_percent_is_refused_with_the_numbers(chat: Chat, db, clock) -> None:
    await add_staff(db, MANAGER, "manager")
    await factories.customer(db, "c-1", now=clock(), telegram_id=SHOPPER, net_spend=TOP_SPEND)
    reply = await chat.send(u.message(MANAGER, "/issue c-1 18%", language_code="ru"))
    assert ("уровень покупателя 12\xa0% + код 18\xa0% + бесплатная доставка 6\xa0% = 36\xa0%"
            in reply)
    assert "а потолок — 18\xa0%" in reply
    assert await count(db, PromoCode) == 0 and await count(db, Delivery) == 0
    assert await audit_rows(db, "code.issue") == []


async def test_exclusive_refuses_a_code_no_larger_than_the_tier(chat: Chat, db, clock) -> None:
    await add_staff(db, MANAGER, "manager")
    await factories.customer(db, "c-1", now=clock(), telegram_id=SHOPPER, net_spend=5_000_000)
    reply = await chat.send(u.message(MANAGER, "/issue c-1 8%", language_code="en"))
    assert "never apply" in reply and "already gives 8% ≥ the code's 8%" in reply
    assert await count(db, PromoCode) == 0
    assert "✅" in await chat.send(u.message(MANAGER, "/issue c-1 10%", language_code="en"))
    assert await count(db, PromoCode) == 1


async def test_budget_counts_free_shipping(chat: Chat, db, clock) -> None:
    await add_staff(db, MANAGER, "manager", budget=50_000)  # 500 ₽ a month
    await factories.customer(db, "c-1", now=clock(), telegram_id=SHOPPER)
    # Free shipping costs the shop 300 ₽: one fits, the second is over the budget.
    first = await chat.send(u.message(MANAGER, "/issue c-1 free-shipping", language_code="en"))
    assert "✅" in first and "₽300 of ₽500" in first
    reply = await chat.send(u.message(MANAGER, "/issue c-1 free-shipping", language_code="en"))
    assert "budget" in reply and "₽300" in reply and "₽200 left" in reply
    assert await count(db, PromoCode) == 1
