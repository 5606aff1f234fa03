"""`promobot run` end to end: polling against the fake Bot API, the shop API up, a clean
stop; and start-up refusing bad configuration with a clear message."""

from __future__ import annotations

import asyncio

import pytest
import tg_updates as u
from fake_bot_api import FakeBotAPI
from pydantic import SecretStr

from bot.app import StartupError, run, serve
from bot.config import Settings
from bot.db.migrate import is_sqlite


async def test_polling_answers_and_stops_cleanly(tg_settings: Settings, api: FakeBotAPI) -> None:
    if not is_sqlite(tg_settings.database_url):
        pytest.skip("serve() migrates only SQLite; PostgreSQL is covered by the other tests")
    settings = tg_settings.model_copy(update={"api_port": 0})
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop))
    api.queue_update(u.message(5001, "/help", language_code="en"))
    for _ in range(100):
        if api.calls("sendMessage"):
            break
        await asyncio.sleep(0.05)
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
    settings = tg_settings.model_copy(
        update={"bot_token": SecretStr(token) if token else None})
    with pytest.raises(StartupError, match=message):
        await serve(settings, asyncio.Event())
    assert await run(settings) == 2
    assert message in capsys.readouterr().err
