"""Start-up failures are told in words: what could not be reached, where, and why; and a
start with nothing to migrate logs no migration chatter."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import pytest

from bot.app.run import run
from bot.app.startup import open_database
from bot.config import Settings
from tests.support.fake_bot_api import FakeBotAPI
from tests.support.ports import free_port


@pytest.mark.parametrize(("where", "why"), [
    ("http://promobot-test.invalid", "DNS: "),
    ("http://127.0.0.1:{port}", "connection refused (nothing listens there)"),
])
async def test_telegram_out_of_reach(tg_settings: Settings, api: FakeBotAPI, where: str,
                                     why: str, tmp_path: Path, capsys) -> None:
    where = where.format(port=free_port())
    # A database of its own: `promobot run` migrates only SQLite by itself.
    settings = tg_settings.replace(
        telegram_api_url=where, api_port=0,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'shop.sqlite3'}")
    assert await run(settings) == 1
    err = capsys.readouterr().err
    assert f"promobot: cannot reach Telegram at {where}: {why}" in err
    assert "Traceback" not in err and "ClientConnector" not in err


async def test_database_out_of_reach(tg_settings: Settings, api: FakeBotAPI, capsys) -> None:
    url = f"postgresql+asyncpg://shop:secret@127.0.0.1:{free_port()}/shop"
    assert await run(tg_settings.replace(database_url=url, api_port=0)) == 1
    err = capsys.readouterr().err
    assert (f"promobot: cannot reach the database at {url.replace('secret', '***')}: "
            "connection refused (nothing listens there)") in err
    assert "cannot listen" not in err


async def test_no_migration_chatter_when_nothing_is_migrated(settings: Settings, tmp_path: Path,
                                                            caplog) -> None:
    settings = settings.replace(database_url=f"sqlite+aiosqlite:///{tmp_path / 'shop.sqlite3'}")
    caplog.set_level(logging.INFO)
    for _start in range(2):
        caplog.clear()
        async with contextlib.AsyncExitStack() as stack:
            await open_database(settings, stack)
        said = [r.getMessage() for r in caplog.records if r.name.startswith("alembic")]
        if _start == 0:  # the first start migrates, and says so
            assert any(line.startswith("Running upgrade") for line in said), said
    assert said == []
