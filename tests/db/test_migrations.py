"""Migrations against real databases: SQLite always, PostgreSQL when configured.

PostgreSQL runs in a throwaway database of its own, never the suite's shared one,
because these tests drop and recreate the whole schema.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, pool
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot.cli import run_cli
from bot.db import Base, migrate
from bot.db.dialect import is_sqlite_url
from bot.db.models.cluster import UNLOGGED_TABLES

POSTGRES_URL = os.environ.get("PROMOBOT_TEST_DATABASE_URL")
BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(not POSTGRES_URL, reason="PROMOBOT_TEST_DATABASE_URL not set"),
    ),
]


async def _admin(url: str, *statements: str) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            for statement in statements:
                await conn.exec_driver_sql(statement)
    finally:
        await engine.dispose()


@pytest.fixture(params=BACKENDS)
async def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of a database with nothing in it."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'migrations.sqlite3'}"
        return
    assert POSTGRES_URL
    # A unique name: parallel CI runs on one server must not drop each other's database.
    name = f"promobot_migrations_{uuid.uuid4().hex[:12]}"
    await _admin(POSTGRES_URL, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        await _admin(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _tables(url: str) -> set[str]:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


def _revisions(url: str) -> list[str]:
    """Every revision, oldest first."""
    script = ScriptDirectory.from_config(migrate.alembic_config(url))
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


MODEL_TABLES = set(Base.metadata.tables)


async def test_upgrade_from_empty_and_downgrade_to_base(empty_url: str) -> None:
    assert await migrate.current(empty_url) == ()
    await migrate.upgrade(empty_url)
    assert await migrate.current(empty_url) == migrate.heads(empty_url)
    assert await _tables(empty_url) == MODEL_TABLES | {"alembic_version"}
    await migrate.downgrade(empty_url, "base")
    assert await migrate.current(empty_url) == ()
    assert await _tables(empty_url) <= {"alembic_version"}


async def test_models_match_migrations(empty_url: str) -> None:
    """`alembic check`: a model change without its migration fails here."""
    await migrate.upgrade(empty_url)
    await migrate.check(empty_url)


async def test_stairway(empty_url: str) -> None:
    """Each revision goes up, down and up again: downgrades are real, not decoration."""
    revisions = _revisions(empty_url)
    assert revisions[0] == "0001"
    for revision in revisions:
        await migrate.upgrade(empty_url, revision)
        await migrate.downgrade(empty_url, "-1")
        await migrate.upgrade(empty_url, revision)
        assert await migrate.current(empty_url) == (revision,)


async def test_ensure_schema(empty_url: str) -> None:
    """SQLite migrates itself; PostgreSQL refuses to start until `promobot migrate`."""
    from bot.config import Settings

    settings = Settings(_env_file=None, database_url=empty_url)
    if is_sqlite_url(empty_url):
        await migrate.ensure_schema(settings.db.url)
        assert await migrate.current(empty_url) == migrate.heads(empty_url)
    else:
        with pytest.raises(migrate.SchemaNotCurrentError, match="promobot migrate"):
            await migrate.ensure_schema(settings.db.url)
        await migrate.upgrade(empty_url)
    await migrate.ensure_schema(settings.db.url)  # at head: nothing to do, no error


def test_cli_migrate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("PROMOBOT_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)  # no stray .env from the working directory

    assert run_cli(["migrate"]) == 0
    head = ", ".join(migrate.heads(url))
    assert f"upgraded from empty to {head}" in capsys.readouterr().out
    assert asyncio.run(_tables(url)) == MODEL_TABLES | {"alembic_version"}

    assert run_cli(["migrate"]) == 0
    assert "nothing to do" in capsys.readouterr().out


async def test_counters_and_send_clocks_are_unlogged_on_postgresql(empty_url: str) -> None:
    """Written on every checkout call and every send, worth nothing after a crash: kept
    out of the write-ahead log, whether the schema came from the migrations or the models."""
    if is_sqlite_url(empty_url):
        pytest.skip("PostgreSQL's own")
    query = ("SELECT relname FROM pg_class WHERE relkind = 'r' AND relpersistence = 'u' "
             "AND relnamespace = 'public'::regnamespace")

    async def unlogged() -> set[str]:
        engine = create_async_engine(empty_url, poolclass=pool.NullPool)
        try:
            async with engine.connect() as conn:
                return set((await conn.exec_driver_sql(query)).scalars())
        finally:
            await engine.dispose()

    await migrate.upgrade(empty_url)
    assert await unlogged() == set(UNLOGGED_TABLES)
    await migrate.downgrade(empty_url, "base")
    engine = create_async_engine(empty_url, poolclass=pool.NullPool)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
    finally:
        await engine.dispose()
    assert await unlogged() == set(UNLOGGED_TABLES)
