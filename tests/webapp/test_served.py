"""`promobot run` serves the cabinet on its own port and offers it in Telegram."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import ClientSession

import tests.support.updates as u
from bot.app.run import serve
from bot.clock import utcnow
from bot.config import Settings
from bot.db.dialect import is_sqlite_url
from tests.support.fake_bot_api import FakeBotAPI
from tests.support.ports import free_port
from tests.support.webapp import launch_data

URL = "https://shop.example/webapp/"


async def test_run_serves_the_cabinet_and_sets_the_menu_button(
    tg_settings: Settings, api: FakeBotAPI
) -> None:
    if not is_sqlite_url(tg_settings.db.url):
        pytest.skip("serve() migrates only SQLite; PostgreSQL is covered by the other tests")
    port, api_port = free_port(), free_port()
    settings = tg_settings.replace(api_port=api_port, webapp_port=port, webapp_url=URL)
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop))
    try:
        for _ in range(100):
            if api.calls("deleteWebhook"):
                break
            await asyncio.sleep(0.05)
        token = settings.telegram.token.get_secret_value()
        signed = launch_data(token, 5001, signed_at=utcnow(), language="en")
        async with ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/webapp/") as page:
                assert page.status == 200 and "app.js" in await page.text()
            async with http.get(f"http://127.0.0.1:{port}/webapp/api/me",
                                headers={"Authorization": f"tma {signed}"}) as me:
                assert me.status == 200 and (await me.json())["linked"] is False
            # The shop API is not on the cabinet's port, nor the cabinet on the API's.
            async with http.get(f"http://127.0.0.1:{port}/api/v1/health") as health:
                assert health.status == 404
            async with http.get(f"http://127.0.0.1:{api_port}/webapp/") as page:
                assert page.status in (401, 404) and "app.js" not in await page.text()
        api.queue_update(u.message(5001, "/start", language_code="en"))
        for _ in range(100):
            if api.calls("sendMessage"):
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    [menu] = api.calls("setChatMenuButton")
    assert menu.params["menu_button"] == {"type": "web_app", "text": "Кабинет",
                                          "web_app": {"url": URL}}
    # An unlinked user is asked to link first (the link keyboard): no cabinet button yet.
    [welcome] = api.calls("sendMessage")
    assert "keyboard" in welcome.params["reply_markup"]
    assert "web_app" not in str(welcome.params["reply_markup"])
