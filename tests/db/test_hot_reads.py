"""The hot path on PostgreSQL, through asyncpg, when the server drops its connections:
the bot's reads on every update (`HotPath.first`, `HotPath.all`) and checkout's jobs.
SQLite's side is in `test_hot_path.py` and the bot's tests."""

from __future__ import annotations

import asyncio
import os

import asyncpg
import pytest
from sqlalchemy import text

from bot.db import Database
from bot.promo.codes.offers import Basket
from bot.promo.customers import accounts
from bot.promo.customers.profiles import upsert_customer
from tests.support import factories
from tests.support.checkout import redeem

pytestmark = pytest.mark.skipif(not os.environ.get("PROMOBOT_TEST_DATABASE_URL"),
                                reason="PostgreSQL's own connections")


async def test_a_read_survives_the_server_dropping_its_connections(db: Database, clock) -> None:
    """After a restart or a failover the pool's connections are dead; the next read
    does not fail the shopper's update."""
    async with db.session() as session:
        customer, _ = await upsert_customer(session, "c-1", now=clock(), name="Анна")
        await accounts.touch(session, accounts.Who(7, 7, None, "Анна", "ru"), clock())
        await accounts.link(session, customer.id, 7, clock())
        await session.commit()
    # Several connections in the pool, all of which the server will drop.
    found = await asyncio.gather(*(accounts.lookup(db.hot, 7) for _ in range(6)))
    assert {customer.name for _, customer in found} == {"Анна"}

    async with db.engine.connect() as conn:
        dropped = await conn.scalar(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = 'promobot-hot' AND datname = current_database()"))
    assert dropped >= 2

    account, found = await accounts.lookup(db.hot, 7)
    assert account is not None and found is not None and found.name == "Анна"


async def test_reads_connect_again_after_the_server_was_down_at_first(
    db: Database, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_connect = asyncpg.connect
    calls = []

    def connect(**options):
        calls.append(options)
        if len(calls) == 1:
            raise ConnectionRefusedError("the server is starting")
        return real_connect(**options)

    monkeypatch.setattr(asyncpg, "connect", connect)
    with pytest.raises(ConnectionRefusedError):
        await accounts.lookup(db.hot, 7)
    assert await accounts.lookup(db.hot, 7) == (None, None)
    assert len(calls) == 2


async def test_a_redeem_survives_the_server_dropping_its_connections(
    db: Database, clock
) -> None:
    """A dropped connection shows at the write job's BEGIN: the job runs on the next one,
    once; a connection dropped in the middle of a job fails that job alone, rolled back."""
    customers = await factories.customers(db, 2, now=clock())
    codes = [await factories.code(db, now=clock(), customer_id=c.id) for c in customers]
    await asyncio.gather(*(accounts.lookup(db.hot, n) for n in range(6)))  # a full pool
    async with db.engine.connect() as conn:
        await conn.scalar(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = 'promobot-hot' AND datname = current_database()"))
    outcome = await redeem(db.hot, codes[0].code, customer_id=customers[0].id,
                           order_external_id="o1", basket=Basket(10_000), now=clock())
    assert outcome.ok and not outcome.replayed

    async def dropped_mid_job(tx, attempt):  # type: ignore[no-untyped-def]
        await tx.conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")

    with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, OSError)):
        await db.hot.write(dropped_mid_job, None)
    outcome = await redeem(db.hot, codes[1].code, customer_id=customers[1].id,
                           order_external_id="o2", basket=Basket(10_000), now=clock())
    assert outcome.ok


async def test_a_burst_of_jobs_holds_at_most_ten_connections_of_the_server(
    db: Database, clock
) -> None:
    """A process's hot path is bounded on the server whatever the burst: jobs beyond its
    ten connections wait for one, and all of them are answered."""
    async with db.engine.connect() as conn:
        started = await conn.scalar(text("SELECT clock_timestamp()"))
    found = await asyncio.gather(*(accounts.lookup(db.hot, n) for n in range(200)))
    assert found == [(None, None)] * 200
    async with db.engine.connect() as conn:
        held = await conn.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'promobot-hot' "
            "AND datname = current_database() AND backend_start >= :started"),
            {"started": started})
    assert 2 <= held <= 10


async def test_write_jobs_cancelled_while_rolling_back_give_their_connections_back(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More of them than the hot path has connections: the next job is still served."""

    async def cancelled(self):  # type: ignore[no-untyped-def]
        raise asyncio.CancelledError

    async def refused(tx):  # type: ignore[no-untyped-def]
        await tx.conn.execute("SELECT 1")
        raise LookupError("no such code")

    monkeypatch.setattr(asyncpg.transaction.Transaction, "rollback", cancelled)
    for _ in range(12):
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(db.hot.write(refused), 5)
    monkeypatch.undo()
    assert await asyncio.wait_for(accounts.lookup(db.hot, 7), 5) == (None, None)


async def test_a_statement_the_server_cancelled_is_not_repeated(db: Database) -> None:
    """A statement timeout is the statement's, not the connection's: another connection
    would only wait it out again."""
    attempts = []

    async def slow(tx):  # type: ignore[no-untyped-def]
        attempts.append(tx.conn)
        await tx.conn.execute("SET statement_timeout = 50")
        try:
            await tx.conn.execute("SELECT pg_sleep(5)")
        finally:
            await tx.conn.execute("RESET statement_timeout")

    with pytest.raises(asyncpg.QueryCanceledError):
        await db.hot.read(slow)
    assert len(attempts) == 1
    assert await accounts.lookup(db.hot, 7) == (None, None)
