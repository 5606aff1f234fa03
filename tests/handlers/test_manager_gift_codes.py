"""`/issue` for rewards that are not a discount: a gift item and early access, through the
real Dispatcher, the sender and the fake Bot API; the shopper reads them in `/codes` and
in the message that brings the code."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

import tests.support.factories as factories
import tests.support.updates as u
from bot.config import Settings
from bot.db import Database
from bot.db.models import Delivery, PromoCode
from bot.delivery.sender import Sender
from bot.texts.notices import render_message
from tests.support.chat import Chat
from tests.support.fake_bot_api import FakeBotAPI
from tests.support.managers import MANAGER, SHOPPER, add_staff, audit_rows


async def _codes(db: Database) -> list[PromoCode]:
    async with db.read_session() as session:
        return list(await session.scalars(select(PromoCode)))


async def _setup(db: Database, clock: Any, locale: str = "ru") -> None:
    await add_staff(db, MANAGER, "manager")
    await factories.customer(db, "c-1", now=clock(), telegram_id=SHOPPER, locale=locale,
                             marketing_opt_in=True)


async def test_a_manager_gives_a_gift_and_the_shopper_reads_it(
    chat: Chat, db, clock, bot, api: FakeBotAPI, tg_settings: Settings,
) -> None:
    await _setup(db, clock)
    reply = await chat.send(u.message(MANAGER, "/issue c-1 gift MUG-01 250 30 Кружка с логотипом",
                                      language_code="en"))
    (code,) = await _codes(db)
    assert (code.discount_type, code.gift_sku, code.gift_name, code.gift_cost) == (
        "gift", "MUG-01", "Кружка с логотипом", 25_000)
    assert (code.expires_at - clock()).days == 30
    assert "✅" in reply and "gift: Кружка с логотипом" in reply and "Queued" in reply
    (row,) = await audit_rows(db, "code.issue")
    # The manager's budget counts the gift's cost price.
    assert row.after["cost"] == 25_000
    async with db.read_session() as session:
        delivery = await session.scalar(select(Delivery))
    assert (delivery.reason, delivery.code_id) == ("manual", code.id)
    await Sender(db, bot, tg_settings, clock=clock, render=render_message).run_until_idle()
    (sent,) = api.sent(SHOPPER)
    assert f"<code>{code.code}</code>" in sent.text and "подарок: Кружка с логотипом" in sent.text
    wallet = await chat.send(u.message(SHOPPER, "/codes", language_code="ru"))
    assert "подарок: Кружка с логотипом" in wallet


async def test_a_manager_opens_a_category_early(chat: Chat, db, clock) -> None:
    await _setup(db, clock, locale="en")
    reply = await chat.send(u.message(MANAGER, "/issue c-1 early spring-2027 2026-06-20 10%",
                                      language_code="en"))
    (code,) = await _codes(db)
    # Midnight in the shop's zone (Moscow, UTC+3).
    launch = datetime(2026, 6, 19, 21, 0, tzinfo=UTC)
    assert (code.discount_type, code.discount_value, code.include_categories) == (
        "early_access", 10, ["spring-2027"])
    assert code.launch_at == launch and code.expires_at == launch
    assert "early access to spring-2027 until Jun 20, 2026" in reply and "10%" in reply
    wallet = await chat.send(u.message(SHOPPER, "/codes", language_code="en"))
    assert "early access to spring-2027 until Jun 20, 2026, 12:00" in wallet


@pytest.mark.parametrize(("text", "usage", "problem"), [
    ("/issue c-1 gift MUG-01 250 30", "gift <SKU>", "could not read the gift"),
    ("/issue c-1 gift MUG-01 lots 30 Mug", "gift <SKU>", "could not read the gift"),
    ("/issue c-1 gift MUG-01 250 0 Mug", "gift <SKU>", "could not read the gift"),
    ("/issue c-1 early spring", "early <categories>", "could not read the early access"),
    ("/issue c-1 early spring 2026-13-01", "early <categories>",
     "could not read the early access"),
    ("/issue c-1 early -sale 2026-07-01", "early <categories>",
     "could not read the early access"),
    ("/issue c-1 early spring 2026-07-01 free-shipping", "early <categories>",
     "could not read the early access"),
    ("/issue c-1 early spring 2026-05-01", "early <categories>", "The launch has passed"),
])
async def test_bad_gift_and_early_arguments(chat: Chat, db, clock, text, usage,
                                            problem) -> None:
    await _setup(db, clock)
    reply = await chat.send(u.message(MANAGER, text, language_code="en"))
    assert problem in reply and html.escape(f"Usage: /issue <customer> {usage}") in reply
    assert "Example: /issue" in reply
    assert await _codes(db) == [] and await audit_rows(db) == []


async def test_bad_gift_arguments_in_russian(chat: Chat, db, clock) -> None:
    await _setup(db, clock)
    reply = await chat.send(u.message(MANAGER, "/issue c-1 gift MUG-01", language_code="ru"))
    assert "Не получилось разобрать подарок" in reply
    assert "/issue &lt;покупатель&gt; gift &lt;артикул&gt;" in reply


async def test_a_gift_above_the_ceiling_is_refused_with_the_numbers(chat: Chat, db,
                                                                     clock) -> None:
    await _setup(db, clock)
    # 1 000 ₽ of an average 5 000 ₽ order: 20 % > the 18 % ceiling.
    reply = await chat.send(u.message(MANAGER, "/issue c-1 gift VASE 1000 30 Vase",
                                      language_code="en"))
    assert "the gift costs 20% of the order but the ceiling is 18%" in reply
    assert "₽1,500" in reply and "₽5,000" in reply
    reply = await chat.send(u.message(MANAGER, "/issue c-1 gift VASE 1000 30 Ваза",
                                      language_code="ru"))
    assert "подарок стоит 20\u00a0% суммы заказа, а потолок — 18\u00a0%" in reply
    assert await _codes(db) == []
