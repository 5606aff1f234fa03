"""`promobot run` knows who it is and whose it is: the bot's name from getMe in its links,
a command menu for each staff chat, and the shop's name and button on what it sends."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import ClientSession
from sqlalchemy import select

import tests.support.factories as factories
from bot.app.run import serve
from bot.clock import utcnow
from bot.config import Settings
from bot.db import create_database
from bot.db.dialect import is_sqlite_url
from bot.db.migrate import ensure_schema
from bot.db.models import Customer
from bot.delivery.outbox import enqueue
from tests.support.fake_bot_api import FakeBotAPI
from tests.support.managers import ANALYST, OWNER, add_staff
from tests.support.ports import free_port

SHOPPER_CHAT = 7101


async def wait_until(ready: Callable[[], object]) -> None:
    for _ in range(200):
        if ready():
            return
        await asyncio.sleep(0.05)


async def link_url(port: int) -> str:
    """A link-token URL from the shop API, for a customer it creates."""
    headers = {"Authorization": "Bearer test-key"}
    base = f"http://127.0.0.1:{port}/api/v1"
    async with ClientSession(headers=headers) as http:
        async with http.put(f"{base}/customers/c-link", json={"name": "Anna"}) as answer:
            assert answer.status in (200, 201), await answer.text()
        async with http.post(f"{base}/link-tokens", json={"customer_id": "c-link"}) as answer:
            assert answer.status == 201, await answer.text()
            return str((await answer.json())["url"])


async def seeded(settings: Settings) -> None:
    """Before start-up: an analyst who reads English, and a shopper to send a campaign to."""
    await ensure_schema(settings.db.url)
    db = create_database(settings.db.url)
    await add_staff(db, ANALYST, "analyst")
    await factories.customer(db, "c-analyst", now=utcnow(), telegram_id=ANALYST, locale="en")
    await factories.customer(db, "c-shop", now=utcnow(), telegram_id=SHOPPER_CHAT, locale="ru",
                             name="Анна")
    await db.dispose()


async def queue_campaign_message(settings: Settings) -> None:
    db = create_database(settings.db.url)
    async with db.session() as session:
        customer_id = await session.scalar(select(Customer.id).where(
            Customer.external_id == "c-shop"))
        await enqueue(session, dedupe_key="shop-button", customer_id=customer_id,
                      reason="campaign", payload={}, due_at=utcnow())
        await session.commit()
    await db.dispose()


async def run_until(settings: Settings, api: FakeBotAPI, work: Callable[[], Any]) -> Any:
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop))
    try:
        await wait_until(lambda: api.calls("deleteWebhook") or task.done())
        assert not task.done(), task.exception()
        return await work()
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


def chat_menu(api: FakeBotAPI, chat_id: int) -> dict[str, str]:
    calls = [r for r in api.calls("setMyCommands")
             if r.params.get("scope") == {"type": "chat", "chat_id": chat_id}]
    assert len(calls) == 1, calls
    return {c["command"]: c["description"] for c in calls[0].params["commands"]}


@pytest.fixture
def run_settings(tg_settings: Settings) -> Settings:
    if not is_sqlite_url(tg_settings.db.url):
        pytest.skip("serve() migrates only SQLite; PostgreSQL is covered by the other tests")
    return tg_settings.replace(api_port=free_port(), bot_username=None, quiet_hours="",
                               shop_name="Ромашка & Co", shop_url="https://romashka.example/")


async def test_links_name_the_bot_telegram_says_it_is(run_settings, api: FakeBotAPI) -> None:
    api.username = "romashka_shop_bot"
    url = await run_until(run_settings, api, lambda: link_url(run_settings.api.port))
    assert url.startswith("https://t.me/romashka_shop_bot?start=link_")


async def test_the_username_setting_still_overrides(run_settings, api: FakeBotAPI) -> None:
    api.username = "romashka_shop_bot"
    settings = run_settings.replace(bot_username="romashka_promo_bot")
    url = await run_until(settings, api, lambda: link_url(settings.api.port))
    assert url.startswith("https://t.me/romashka_promo_bot?start=link_")


async def test_each_staff_chat_gets_its_roles_menu_in_its_language(
    run_settings, api: FakeBotAPI
) -> None:
    await seeded(run_settings)
    await run_until(run_settings, api, lambda: asyncio.sleep(0))  # start-up alone
    owner = chat_menu(api, OWNER)  # configured owner, never wrote to the bot: Russian
    assert owner["managers"] == "сотрудники, их роли и бюджеты, журнал"
    assert {"codes", "issue", "campaign", "stats"} <= set(owner)
    analyst = chat_menu(api, ANALYST)
    assert analyst["stats"] == "results of a campaign or of all of them"
    assert "codes" in analyst and "issue" not in analyst and "managers" not in analyst


async def test_a_campaign_message_names_the_shop_and_leads_to_it(
    run_settings, api: FakeBotAPI
) -> None:
    await seeded(run_settings)

    async def deliver() -> None:
        await queue_campaign_message(run_settings)
        await wait_until(lambda: api.sent(SHOPPER_CHAT))

    await run_until(run_settings, api, deliver)
    [message] = api.sent(SHOPPER_CHAT)
    assert message.text.startswith("<b>Ромашка &amp; Co</b>\n\n")
    assert message.reply_markup == {"inline_keyboard": [[
        {"text": "🛍 Перейти в магазин", "url": "https://romashka.example/"}]]}
