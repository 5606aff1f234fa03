"""The welcome offer (issue 17): a customer's first link before any order earns one small
first-order code, told in the greeting and sent through the outbox; once per customer and
per Telegram account whatever relinking, retrying or a second instance does; nothing for
a customer who ordered, declined promotions or is in the global holdout. Through the real
Dispatcher, the sender and the fake Bot API."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

import tests.support.factories as factories
import tests.support.updates as u
from bot.config import Settings
from bot.db import Database
from bot.db.models import Customer, Delivery, PromoCode, TelegramAccount, WelcomeOffer
from bot.delivery.sender import Sender
from bot.promo.campaigns.global_holdout import is_member
from bot.promo.campaigns.welcome import welcome
from bot.promo.customers.linking import create_link_token
from bot.promo.shop.orders import upsert_order
from bot.texts.history import what_became
from bot.texts.notices import render_message
from tests.support.chat import Chat
from tests.support.fake_bot_api import FakeBotAPI

USER, OTHER = 7001, 7002


async def _customer(db: Database, clock: Any, external_id: str, **fields: Any) -> Customer:
    return await factories.customer(db, external_id, now=clock(), marketing_opt_in=True,
                                    **fields)


async def _link(chat: Chat, db: Database, clock: Any, customer: Customer, user: int = USER,
                language: str = "ru") -> str:
    async with db.session() as session:
        token, _ = await create_link_token(session, customer, ttl=timedelta(hours=1),
                                           now=clock())
        await session.commit()
    return await chat.send(u.message(user, f"/start link_{token}", language_code=language))


async def _welcome_codes(db: Database) -> list[PromoCode]:
    async with db.read_session() as session:
        return list(await session.scalars(select(PromoCode).where(PromoCode.source == "welcome")))


async def _rows(db: Database, model: Any) -> list[Any]:
    async with db.read_session() as session:
        return list(await session.scalars(select(model)))


async def test_a_first_link_before_any_order_earns_the_welcome_code(
    chat: Chat, db, clock, bot, api: FakeBotAPI, tg_settings: Settings,
) -> None:
    anna = await _customer(db, clock, "anna")
    greeting = await _link(chat, db, clock, anna)
    assert "🎁 Приветственный подарок к первому заказу придёт следующим сообщением." in greeting
    (code,) = await _welcome_codes(db)
    # 5 % from 2 000 ₽, valid 14 days from delivery: the settings' defaults.
    assert (code.customer_id, code.discount_type, code.discount_value, code.min_order) == (
        anna.id, "percent", 5, 200_000)
    assert code.expires_at is None and code.valid_days == 14
    (delivery,) = await _rows(db, Delivery)
    assert (delivery.reason, delivery.code_id, delivery.promotional) == ("welcome", code.id,
                                                                         False)
    await Sender(db, bot, tg_settings, clock=clock, render=render_message).run_until_idle()
    (sent,) = api.sent(USER)[-1:]
    assert "Добро пожаловать! Вот персональный код на первый заказ у нас:" in sent.text
    assert f"<code>{code.code}</code>" in sent.text


async def test_relinking_never_earns_a_second_one(chat: Chat, db, clock) -> None:
    anna, boris = await _customer(db, clock, "anna"), await _customer(db, clock, "boris")
    await _link(chat, db, clock, anna)
    # The same Telegram account moved to another new customer: its welcome is spent.
    await _link(chat, db, clock, boris)
    await chat.send(u.callback(USER, _yes(chat, USER), language_code="ru"))
    # Another Telegram account linked to Anna (free again): hers is spent too.
    assert "🎁" not in await _link(chat, db, clock, anna, user=OTHER)
    async with db.read_session() as session:
        linked = {a.id: a.customer_id for a in await session.scalars(select(TelegramAccount))}
    assert linked == {USER: boris.id, OTHER: anna.id}
    assert [c.customer_id for c in await _welcome_codes(db)] == [anna.id]
    assert len(await _rows(db, WelcomeOffer)) == 1


def _yes(chat: Chat, user: int) -> str:
    """The "move the link here" button of the question the bot just asked."""
    return str(chat.api.sent(user)[-1].reply_markup["inline_keyboard"][0][0]["callback_data"])


@pytest.mark.parametrize("fields", [
    {"orders_count": 1, "net_spend": 300_000},  # ordered already: not a first order
    {"marketing_opt_in": False},  # declined promotions: gets what they asked for only
])
async def test_no_welcome_for_a_buyer_or_who_declined_promotions(chat: Chat, db, clock,
                                                                 fields) -> None:
    customer = await factories.customer(db, "c-1", now=clock(),
                                        **{"marketing_opt_in": True, **fields})
    greeting = await _link(chat, db, clock, customer)
    assert "🎁" not in greeting
    assert await _welcome_codes(db) == [] and await _rows(db, Delivery) == []


async def test_a_second_instance_at_the_same_moment_gives_it_once(db, clock, settings) -> None:
    anna = await _customer(db, clock, "anna")

    async def link_here(telegram_id: int) -> PromoCode | None:
        async with db.session() as session:
            found = await welcome(session, anna, telegram_id, settings=settings, now=clock())
            await session.commit()
            return found

    given = await asyncio.gather(link_here(USER), link_here(USER))
    assert sum(code is not None for code in given) == 1
    assert len(await _welcome_codes(db)) == 1 and len(await _rows(db, Delivery)) == 1


async def test_off_in_the_settings_or_for_the_global_holdout(db, clock, settings) -> None:
    customers = [await _customer(db, clock, f"c{i}") for i in range(12)]
    held = settings.replace(global_holdout=25)
    async with db.session() as session:
        off = await welcome(session, customers[0], 1, settings=settings.replace(
            welcome_offer="0"), now=clock())
        given = {c.id: await welcome(session, c, 100 + c.id, settings=held, now=clock())
                 for c in customers[1:]}
        await session.commit()
    assert off is None
    members = {c for c in given if is_member(c, 25)}
    assert members and {c for c, code in given.items() if code is None} == members


async def _first_order(db: Database, settings: Settings, clock: Any, customer: Customer,
                       promo_code: str | None = None) -> None:
    async with db.session() as session:
        await upsert_order(session, "order-1", customer=customer.id, placed_at=clock(),
                           status="paid", total=300_000, currency="RUB",
                           promo_code=promo_code, now=clock(), shop=settings.shop)
        await session.commit()


@pytest.mark.parametrize("delivered", [True, False])
async def test_a_first_order_without_it_ends_the_welcome_code(
    chat: Chat, db, clock, bot, tg_settings: Settings, delivered: bool,
) -> None:
    clock.set(datetime.now(UTC))  # the outbox stamps its rows by the real clock
    anna = await _customer(db, clock, "anna")
    await _link(chat, db, clock, anna)
    if delivered:
        await Sender(db, bot, tg_settings, clock=clock, render=render_message).run_until_idle()
    clock.advance(days=1)
    await _first_order(db, tg_settings, clock, anna)
    (code,) = await _welcome_codes(db)
    # It was for a first order, and that came without it: no second order gets it.
    assert (code.status, code.revoke_reason) == ("revoked", "it was for a first order")
    (message,) = await _rows(db, Delivery)
    assert message.status == ("sent" if delivered else "cancelled")
    seen = SimpleNamespace(**{c.key: getattr(code, c.key) for c in PromoCode.__table__.c},
                           used_at=None)
    assert what_became(seen, clock(), "ru", ZoneInfo("Europe/Moscow")).endswith(
        "он был только для первого заказа, а тот оформлен без него")


async def test_the_first_order_that_used_it_keeps_it_as_used(
    chat: Chat, db, clock, bot, tg_settings: Settings,
) -> None:
    anna = await _customer(db, clock, "anna")
    await _link(chat, db, clock, anna)
    await Sender(db, bot, tg_settings, clock=clock, render=render_message).run_until_idle()
    (code,) = await _welcome_codes(db)
    clock.advance(days=1)
    await _first_order(db, tg_settings, clock, anna, promo_code=code.code.lower())
    (code,) = await _welcome_codes(db)
    assert code.status == "active" and code.revoke_reason is None
