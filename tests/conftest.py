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
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot.config import Settings
from bot.db import Base, Database, create_database

BASE_POSTGRES_URL = os.environ.get("PROMOBOT_TEST_DATABASE_URL")
# Each test run gets a database of its own next to the configured one, so that two
# runs at once (two developers, or CI and a developer) never truncate each other's rows.
POSTGRES_URL = (
    make_url(BASE_POSTGRES_URL)
    .set(database=f"{make_url(BASE_POSTGRES_URL).database}_run{os.getpid()}")
    .render_as_string(hide_password=False)
    if BASE_POSTGRES_URL
    else None
)


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


async def _recreate_postgres(base_url: str, url: str, *, create: bool) -> None:
    name = make_url(url).database
    admin = create_async_engine(base_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if create:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    if create:
        database = create_database(url)
        async with database.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        await database.dispose()


def pytest_sessionstart(session: pytest.Session) -> None:
    if BASE_POSTGRES_URL and POSTGRES_URL:
        asyncio.run(_recreate_postgres(BASE_POSTGRES_URL, POSTGRES_URL, create=True))


def pytest_sessionfinish(session: pytest.Session) -> None:
    if BASE_POSTGRES_URL and POSTGRES_URL:
        asyncio.run(_recreate_postgres(BASE_POSTGRES_URL, POSTGRES_URL, create=False))


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
        webapp_port=0,  # any free port: tests run side by side
    )


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = create_database(settings.db.url)
    if database.is_sqlite:
        async with database.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
    else:
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        async with database.engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield database
    await database.dispose()
