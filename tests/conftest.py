"""Shared fixtures: a fresh database per test (SQLite file, or PostgreSQL when
`PROMOBOT_TEST_DATABASE_URL` is set), settings, and a clock tests can move."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.config import Settings
from bot.db import Base, Database, create_database

POSTGRES_URL = os.environ.get("PROMOBOT_TEST_DATABASE_URL")


class FakeClock:
    """A settable `now()`; starts at a fixed moment so that tests are repeatable."""

    def __init__(self, start: datetime = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def set(self, moment: datetime) -> None:
        self.now = moment


async def _reset_postgres(url: str) -> None:
    database = create_database(url)
    async with database.engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
        await conn.run_sync(Base.metadata.create_all)
    await database.dispose()


def pytest_sessionstart(session: pytest.Session) -> None:
    if POSTGRES_URL:
        asyncio.run(_reset_postgres(POSTGRES_URL))


def pytest_report_header(config: pytest.Config) -> str:
    return f"promobot test database: {'PostgreSQL' if POSTGRES_URL else 'SQLite'}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        database_url=POSTGRES_URL or f"sqlite+aiosqlite:///{tmp_path / 'promobot.sqlite3'}",
        api_keys=["shop:test-key", "backoffice:other-key"],
        owner_ids=[1000],
        bot_token="123456:TEST-token-for-tests-only",
        telegram_api_url="http://127.0.0.1:1",
    )


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = create_database(settings.database_url)
    if database.is_sqlite:
        async with database.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
    else:
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        async with database.engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield database
    await database.dispose()
