"""The leak watch (issue 17), end to end: a shared code issued over the shop API, given
to some customers through our channels (codes of its campaign issued over the API,
campaign messages the sender delivered) and redeemed over the API by them and by others;
the scheduled job alerts the owners and managers once, in their languages, through the
outbox and the fake Bot API; the alert's button revokes the code through the dispatcher,
and the checkout then refuses it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

import tests.support.factories as factories
import tests.support.updates as u
from bot.api.app import create_app
from bot.config import Settings
from bot.db import Database
from bot.db.models import AuditLog, Delivery, LeakAlert, PromoCode
from bot.delivery.sender import Sender
from bot.texts.shop_messages import ShopMessages
from scheduler.jobs import Jobs
from tests.support.api import Api
from tests.support.chat import Chat
from tests.support.delivery import deliver_all, queue, shoppers
from tests.support.fake_bot_api import FakeBotAPI
from tests.support.managers import ANALYST, MANAGER, OWNER, STRANGER, add_staff

ORDER = {"total": 500_000}


@pytest.fixture
async def shop(tg_settings: Settings, db: Database, clock: Any) -> AsyncIterator[Api]:
    async with TestClient(TestServer(create_app(tg_settings, db, clock=clock))) as client:
        yield Api(client)


async def deliver(db: Database, bot: Any, settings: Settings, clock: Any) -> None:
    """The sender as `promobot run` wires it: the shop's texts and buttons."""
    texts = ShopMessages.of(settings.shop)
    await deliver_all(Sender(db, bot, settings, render=texts.render, buttons=texts.buttons,
                             clock=clock), db)


async def shared_code(shop: Api, campaign_id: int) -> str:
    """A code for anyone, 100 uses, one per customer, counted in the campaign."""
    status, body, _ = await shop.post("/codes", {
        "channel": "email", "discount_type": "percent", "value": 10, "usage_limit": 100,
        "per_customer_limit": 1, "campaign_id": campaign_id})
    assert status == 201, body
    return str(body["code"])


async def give_personal_codes(shop: Api, campaign_id: int, customers: list[str]) -> None:
    """The campaign reaches them by e-mail: a code of theirs, issued over the API."""
    for external_id in customers:
        status, body, _ = await shop.post("/codes", {
            "customer_id": external_id, "channel": "email", "discount_type": "percent",
            "value": 10, "campaign_id": campaign_id})
        assert status == 201, body


async def redeem(shop: Api, code: str, customers: list[str]) -> None:
    for external_id in customers:
        status, body, _ = await shop.post("/codes/redeem", {
            "code": code, "customer_id": external_id, "order_id": f"{code}-{external_id}",
            "order": ORDER})
        assert status == 200, body


async def staff_speak(chat: Chat, db: Database) -> None:
    """The owner reads Russian (the shop's default), the manager English, the analyst is
    staff too but may not revoke: each has written to the bot once."""
    await add_staff(db, MANAGER, "manager")
    await add_staff(db, ANALYST, "analyst")
    await chat.feed(u.message(OWNER, "/myid", language_code="ru"))
    await chat.feed(u.message(MANAGER, "/myid", language_code="en"))
    await chat.feed(u.message(ANALYST, "/myid", language_code="en"))


async def count(db: Database, model: Any, *where: Any) -> int:
    async with db.read_session() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def alerts(api: FakeBotAPI, chat_id: int) -> list[Any]:
    return [r for r in api.sent(chat_id) if r.reply_markup and "mgrleak" in str(r.reply_markup)]


async def leaked_code(chat: Chat, shop: Api, db: Database, bot: Any, settings: Settings,
                      clock: Any) -> str:
    """Campaign 1's shared code: given to four customers (two by e-mail codes, two by the
    bot's messages), used by them and by eight customers nobody gave it to."""
    await staff_speak(chat, db)
    campaign = await factories.campaign(db, now=clock(), name="Весна")
    code = await shared_code(shop, campaign.id)
    await factories.customers(db, 2, now=clock(), prefix="mail")
    await give_personal_codes(shop, campaign.id, ["mail0", "mail1"])
    people = await shoppers(db, 2, start=50)
    await queue(db, people, now=clock(), campaign_id=campaign.id, key="spring")
    await deliver(db, bot, settings, clock)
    await factories.customers(db, 8, now=clock(), prefix="stranger")
    await redeem(shop, code, ["mail0", "mail1", "c50", "c51"])
    await redeem(shop, code, [f"stranger{n}" for n in range(8)])
    return code


async def test_a_leaked_shared_code_alerts_the_revokers_once_with_the_numbers(
    chat: Chat, shop: Api, db, bot, api: FakeBotAPI, tg_settings, clock
) -> None:
    code = await leaked_code(chat, shop, db, bot, tg_settings, clock)
    # Two instances at the same moment, then again: one alert, to the owner and the manager.
    first = await asyncio.gather(*(Jobs(db, tg_settings, clock).run_kind("leaks")
                                   for _instance in range(2)))
    assert sorted((r.issued, r.queued) for r in first) == [(0, 0), (1, 2)]
    assert (await Jobs(db, tg_settings, clock).run_kind("leaks")).queued == 0
    await deliver(db, bot, tg_settings, clock)

    [owner] = alerts(api, OWNER)
    [manager] = alerts(api, MANAGER)
    assert alerts(api, ANALYST) == []
    assert owner.text == (
        f"⚠️ Похоже, код <code>{code}</code> утёк\n"
        "Кампания #1 «Весна».\n"
        "За 7 дней: 12 использований от 12 покупателей.\n"
        "8 из них не получали код от нас.\n"
        "Через наши каналы он дошёл до 4 покупателей.\n"
        "Посторонние пользуются им с 1 июн. 2026\u202fг., 15:00.\n"
        "\n"
        "Если код не предназначался всем, отзовите его: при оформлении заказа он сразу "
        "перестанет действовать.")
    assert "Over the last 7 days: 12 uses by 12 customers." in manager.text
    assert "8 of them never received the code from us." in manager.text
    assert "It reached 4 customers through our channels." in manager.text
    assert owner.reply_markup["inline_keyboard"][0][0]["text"] == "🚫 Отозвать код"
    assert manager.reply_markup["inline_keyboard"][0][0]["text"] == "🚫 Revoke the code"
    async with db.read_session() as session:
        row = (await session.scalars(select(LeakAlert))).one()
    assert (row.level, row.uses, row.strangers, row.reach, row.suspects) == (1, 12, 8, 4, 8)


async def test_the_button_revokes_and_the_checkout_refuses(
    chat: Chat, shop: Api, db, bot, api: FakeBotAPI, tg_settings, clock
) -> None:
    code = await leaked_code(chat, shop, db, bot, tg_settings, clock)
    await Jobs(db, tg_settings, clock).run_kind("leaks")
    await deliver(db, bot, tg_settings, clock)
    button = alerts(api, MANAGER)[0].reply_markup["inline_keyboard"][0][0]["callback_data"]

    # Staff who may not revoke, and people who are not staff, are refused in words.
    await chat.feed(u.callback(ANALYST, button, language_code="en"))
    assert api.calls("answerCallbackQuery")[-1].params["text"] == (
        "Your role (analyst) does not allow this.")
    await chat.feed(u.callback(STRANGER, button, language_code="ru"))
    assert api.calls("answerCallbackQuery")[-1].params["text"] == (
        "Эта кнопка — только для сотрудников магазина.")
    assert await count(db, PromoCode, PromoCode.code == code,
                       PromoCode.status == "revoked") == 0

    await chat.feed(u.callback(MANAGER, button, language_code="en"))
    assert api.calls("answerCallbackQuery")[-1].params["text"] == "The code is revoked."
    edited = api.calls("editMessageText")[-1]
    assert edited.chat_id == MANAGER and "reply_markup" not in edited.params
    assert edited.text.endswith(
        f"✅ Code <code>{code}</code> is revoked: the checkout refuses it from now on.")
    [audit] = [r for r in await audit_rows(db) if r.action == "code.revoke"]
    assert audit.actor == f"tg:{MANAGER}" and audit.entity_id == code

    status, body, _ = await shop.post("/codes/validate", {
        "code": code, "customer_id": "stranger0", "order": ORDER},
        headers={"Accept-Language": "en"})
    assert status == 200 and (body["valid"], body["reason"]) == (False, "revoked"), body

    # The owner taps their own copy afterwards: told so, in Russian; nothing changes.
    await chat.feed(u.callback(OWNER, button, language_code="ru"))
    answer = api.calls("answerCallbackQuery")[-1].params
    assert answer["text"] == "Этот код уже отозван."
    assert api.calls("editMessageText")[-1].text.endswith(
        f"Код <code>{code}</code> уже был отозван.")
    assert len([r for r in await audit_rows(db) if r.action == "code.revoke"]) == 1
    # A revoked code is watched no more.
    assert (await Jobs(db, tg_settings, clock).run_kind("leaks")).audience == 0


async def test_a_code_used_only_by_those_it_was_given_to_alerts_nobody(
    chat: Chat, shop: Api, db, bot, api: FakeBotAPI, tg_settings, clock
) -> None:
    await staff_speak(chat, db)
    campaign = await factories.campaign(db, now=clock())
    code = await shared_code(shop, campaign.id)
    recipients = [f"r{n}" for n in range(10)]
    await factories.customers(db, 10, now=clock(), prefix="r")
    await give_personal_codes(shop, campaign.id, recipients)
    await redeem(shop, code, recipients)
    result = await Jobs(db, tg_settings, clock).run_kind("leaks")
    assert (result.audience, result.issued, result.queued) == (1, 0, 0)
    assert await count(db, Delivery, Delivery.reason == "leak_alert") == 0
    assert await count(db, LeakAlert) == 0


async def audit_rows(db: Database) -> list[AuditLog]:
    async with db.read_session() as session:
        return list(await session.scalars(select(AuditLog).order_by(AuditLog.id)))


async def queued_alerts(db: Database) -> list[Delivery]:
    async with db.read_session() as session:
        return list(await session.scalars(
            select(Delivery).where(Delivery.reason == "leak_alert").order_by(Delivery.id)))


async def test_it_alerts_again_only_when_the_strangers_have_doubled(
    chat: Chat, shop: Api, db, bot, api: FakeBotAPI, tg_settings, clock
) -> None:
    code = await leaked_code(chat, shop, db, bot, tg_settings, clock)
    jobs = Jobs(db, tg_settings, clock)
    assert (await jobs.run_kind("leaks")).queued == 2
    await factories.customers(db, 8, now=clock(), prefix="more")
    clock.advance(hours=1)
    await redeem(shop, code, [f"more{n}" for n in range(7)])  # 15 strangers: not yet double
    assert (await jobs.run_kind("leaks")).queued == 0
    await redeem(shop, code, ["more7"])  # 16 = twice the 8 of the first alert
    assert (await jobs.run_kind("leaks")).queued == 2
    assert (await jobs.run_kind("leaks")).queued == 0
    await deliver(db, bot, tg_settings, clock)
    owner = alerts(api, OWNER)
    assert len(owner) == 2 and owner[1].text.startswith(
        f"⚠️ Код <code>{code}</code> расходится всё дальше\n")
    assert "16 из них не получали код от нас." in owner[1].text
    assert alerts(api, MANAGER)[1].text.startswith(
        f"⚠️ Code <code>{code}</code> keeps spreading\n")


async def test_more_uses_than_its_reach_alert_without_strangers(
    chat: Chat, shop: Api, db, bot, api: FakeBotAPI, tg_settings, clock
) -> None:
    """Four customers got the campaign's code, and it was used twelve times: by them."""
    await staff_speak(chat, db)
    campaign = await factories.campaign(db, now=clock())
    status, body, _ = await shop.post("/codes", {
        "channel": "telegram", "discount_type": "percent", "value": 10, "usage_limit": 100,
        "per_customer_limit": None, "campaign_id": campaign.id})
    assert status == 201, body
    recipients = [f"r{n}" for n in range(4)]
    await factories.customers(db, 4, now=clock(), prefix="r")
    await give_personal_codes(shop, campaign.id, recipients)
    for round_ in range(3):
        for external_id in recipients:
            status, answer, _ = await shop.post("/codes/redeem", {
                "code": body["code"], "customer_id": external_id,
                "order_id": f"o-{external_id}-{round_}", "order": ORDER})
            assert status == 200, answer
    assert (await Jobs(db, tg_settings, clock).run_kind("leaks")).queued == 2
    await deliver(db, bot, tg_settings, clock)
    [alert] = alerts(api, MANAGER)
    assert "Over the last 7 days: 12 uses by 4 customers." in alert.text
    assert "All of them received it from us, but it is used more often" in alert.text
    assert "It reached 4 customers through our channels." in alert.text
    assert "First use in this period: Jun 1, 2026" in alert.text


async def test_published_codes_cancelled_uses_and_a_shop_without_revokers(
    shop: Api, db, bot, api: FakeBotAPI, tg_settings, clock
) -> None:
    # A code the shop published on its site (the API's default channel) is for anyone.
    status, body, _ = await shop.post("/codes", {
        "discount_type": "percent", "value": 10, "usage_limit": 100})
    assert status == 201 and body["channel"] == "site", body
    await factories.customers(db, 10, now=clock(), prefix="s")
    await redeem(shop, body["code"], [f"s{n}" for n in range(10)])
    assert (await Jobs(db, tg_settings, clock).run_kind("leaks")).audience == 0

    # Watched, it is a leak; but with nobody who may revoke, nothing is claimed yet.
    watched = tg_settings.replace(leak_public_channels="", owner_ids="")
    result = await Jobs(db, watched, clock).run_kind("leaks")
    assert (result.audience, result.queued) == (1, 0) and await count(db, LeakAlert) == 0

    # Cancelled orders give their uses back: nine uses are below the threshold.
    status, answer, _ = await shop.post("/codes/release", {
        "code": body["code"], "order_id": f"{body['code']}-s0"})
    assert status == 200, answer
    await add_staff(db, MANAGER, "manager")
    assert (await Jobs(db, watched, clock).run_kind("leaks")).audience == 0
    await factories.customers(db, 1, now=clock(), prefix="late")
    await redeem(shop, body["code"], ["late0"])
    assert (await Jobs(db, watched, clock).run_kind("leaks")).queued == 1
    [row] = await queued_alerts(db)
    assert (row.chat_id, row.customer_id, row.promotional, row.code_id) == (
        MANAGER, None, False, None)
    await deliver(db, bot, watched, clock)
    [alert] = alerts(api, MANAGER)
    assert "Кампания" not in alert.text and "10 из них не получали код от нас." in alert.text
    assert "Мы не знаем, кому его выдавали" in alert.text
