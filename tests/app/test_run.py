"""`promobot run` end to end: polling against the fake Bot API, the shop API up, a clean
stop; and start-up refusing bad configuration with a clear message."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import ClientSession, TCPConnector
from pydantic import SecretStr
from sqlalchemy import select

import tests.support.updates as u
from bot.app.run import run, serve
from bot.app.startup import StartupError
from bot.clock import utcnow
from bot.config import Settings
from bot.db import create_database
from bot.db.dialect import is_sqlite_url
from bot.db.models import (
    Campaign,
    CodeSource,
    Customer,
    Delivery,
    DiscountType,
    TelegramAccount,
)
from bot.delivery.outbox import enqueue
from bot.promo.campaigns import admin
from bot.promo.codes.issuing import issue_code
from bot.promo.codes.offers import Offer
from tests.support.campaign_runs import draft_broadcast
from tests.support.fake_bot_api import FakeBotAPI
from tests.support.ports import free_port


async def wait_until(ready: Callable[[], object]) -> None:
    """Poll for up to 5 s; the assertions after it say what was missing."""
    for _ in range(100):
        if ready():
            return
        await asyncio.sleep(0.05)


async def test_polling_answers_and_stops_cleanly(tg_settings: Settings, api: FakeBotAPI) -> None:
    if not is_sqlite_url(tg_settings.db.url):
        pytest.skip("serve() migrates only SQLite; PostgreSQL is covered by the other tests")
    settings = tg_settings.replace(api_port=0)
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop))
    api.queue_update(u.message(5001, "/help", language_code="en"))
    await wait_until(lambda: api.calls("sendMessage"))
    stop.set()
    await asyncio.wait_for(task, 10)
    assert "/codes" in api.calls("sendMessage")[0].text
    assert api.calls("deleteWebhook") and api.calls("setMyCommands")
    languages = {r.params.get("language_code") for r in api.calls("setMyCommands")}
    assert languages == {"ru", "en", None}


@pytest.mark.parametrize(("token", "message"), [
    (None, "not set"),
    ("not-a-token", "malformed"),
])
async def test_bad_token_stops_start_up(tg_settings: Settings, token, message, capsys) -> None:
    settings = tg_settings.replace(bot_token=SecretStr(token) if token else None)
    with pytest.raises(StartupError, match=message):
        await serve(settings, asyncio.Event())
    assert await run(settings) == 2
    assert message in capsys.readouterr().err


async def test_run_delivers_what_the_outbox_holds(tg_settings: Settings, api: FakeBotAPI) -> None:
    """A code queued by any part of the product reaches the shopper through `promobot run`."""
    if not is_sqlite_url(tg_settings.db.url):
        pytest.skip("serve() migrates only SQLite; PostgreSQL is covered by the other tests")
    settings = tg_settings.replace(api_port=0, quiet_hours="")
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop))
    await wait_until(lambda: api.calls("deleteWebhook"))
    db = create_database(settings.db.url)
    async with db.session() as session:
        customer = Customer(external_id="c-run", marketing_opt_in=True)
        session.add(customer)
        await session.flush()
        session.add(TelegramAccount(id=7001, chat_id=7001, customer_id=customer.id, locale="en"))
        code = await issue_code(session, Offer(DiscountType.PERCENT, 10),
                                source=CodeSource.MANUAL, now=utcnow(), customer_id=customer.id)
        await enqueue(session, dedupe_key=f"manual:{code.id}", customer_id=customer.id,
                      reason="manual", payload={}, code_id=code.id, due_at=utcnow())
        await session.commit()
    def with_the_code() -> list[Any]:
        return [r for r in api.calls("sendMessage") if code.code in (r.text or "")]

    await wait_until(with_the_code)
    sent = with_the_code()
    stop.set()
    await asyncio.wait_for(task, 10)
    async with db.read_session() as session:
        status = await session.scalar(select(Delivery.status).where(Delivery.code_id == code.id))
    await db.dispose()
    assert len(sent) == 1 and sent[0].params["chat_id"] == 7001
    assert "A personal code from our team" in sent[0].text
    assert status == "sent"


async def test_run_serves_the_shop_api_from_worker_processes(
    tg_settings: Settings, api: FakeBotAPI
) -> None:
    if not is_sqlite_url(tg_settings.db.url):
        pytest.skip("serve() migrates only SQLite; PostgreSQL is covered by the other tests")
    port = free_port()
    settings = tg_settings.replace(api_port=port, api_workers=2)
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop))
    api.queue_update(u.message(5002, "/help", language_code="en"))
    statuses = []
    async with ClientSession(connector=TCPConnector(force_close=True)) as http:
        for _ in range(300):
            try:
                async with http.get(f"http://127.0.0.1:{port}/api/v1/health") as response:
                    statuses.append(response.status)
                    if len(statuses) == 5:
                        break
            except OSError:
                await asyncio.sleep(0.05)
    # The API answers from the workers while the bot itself keeps polling.
    await wait_until(lambda: api.calls("sendMessage"))
    stop.set()
    await asyncio.wait_for(task, 30)
    assert statuses == [200] * 5
    assert "/codes" in api.calls("sendMessage")[0].text
    with pytest.raises(OSError):  # the workers stopped with the bot
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


async def test_a_run_lost_with_the_process_goes_on_at_the_next_start(
    tg_settings: Settings, api: FakeBotAPI
) -> None:
    """A campaign started (by a button, say) whose process stopped before its run ended
    is run by the next `promobot run`, with no command-line step."""
    if not is_sqlite_url(tg_settings.db.url):
        pytest.skip("serve() migrates only SQLite; PostgreSQL is covered by the other tests")
    settings = tg_settings.replace(api_port=0, quiet_hours="")
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop))
    await wait_until(lambda: api.calls("deleteWebhook"))
    db = create_database(settings.db.url)
    try:
        shop = await draft_broadcast(db, utcnow(), shoppers=3, holdout=0)
        async with db.session() as session:
            # The start committed; the process that would have run it is gone.
            await admin.change_status(session, None, shop.campaign_id, "start", now=utcnow(),
                                      actor="test")
            await session.commit()
        stop.set()
        await asyncio.wait_for(task, 10)
        assert not api.calls("sendMessage")

        stop = asyncio.Event()
        task = asyncio.create_task(serve(settings, stop))
        chats = set(shop.chats.values())

        def reached() -> set[int]:
            return {r.params["chat_id"] for r in api.calls("sendMessage")} & chats

        await wait_until(lambda: reached() == chats)
        stop.set()
        await asyncio.wait_for(task, 10)
        async with db.read_session() as session:
            mark = await session.scalar(select(Campaign.run_requested_at))
    finally:
        await db.dispose()
    assert reached() == chats and len(api.calls("sendMessage")) == 3
    assert mark is None  # the run ended: the next start does not run it again
