"""The hot path on SQLite: writers of several processes queue fairly, and checkpoints
happen off the writer's path."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, insert

from bot.db import Database
from bot.db.models import Customer
from bot.db.prepared import Prepared
from bot.db.tx import Tx

pytestmark = pytest.mark.skipif(bool(os.environ.get("PROMOBOT_TEST_DATABASE_URL")),
                                reason="SQLite's own file locking and WAL")
NOW = datetime(2026, 6, 1, tzinfo=UTC)


_ADD_CUSTOMER = Prepared(insert(Customer.__table__).values(
    external_id=bindparam("external_id"), orders_count=0, gross_spend=0, net_spend=0,
    marketing_opt_in=True, created_at=NOW, updated_at=NOW))


async def add_customer(tx: Tx, external_id: str) -> str:
    await tx.rowcount(_ADD_CUSTOMER, {"external_id": external_id})
    return external_id


def database_file(db: Database) -> str:
    return db.engine.url.database or ""


async def test_a_hot_write_waits_for_another_process_holding_the_write_lock(
    db: Database,
) -> None:
    # Another process (an API worker) is mid-redeem: it holds the lock file.
    other = os.open(database_file(db) + ".write-lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(other, fcntl.LOCK_EX)
        write = asyncio.ensure_future(db.hot.write(add_customer, "c1"))
        await asyncio.sleep(0.3)
        assert not write.done()
        fcntl.flock(other, fcntl.LOCK_UN)
        assert await asyncio.wait_for(write, 10) == "c1"
    finally:
        os.close(other)


async def test_hot_writes_reach_the_database_file_not_only_the_wal(db: Database) -> None:
    for index in range(20):
        await db.hot.write(add_customer, f"c{index}")
    # `immutable=1` reads the database file alone, as if the WAL were not there.
    uri = f"file:{database_file(db)}?immutable=1"
    for _ in range(100):
        conn = sqlite3.connect(uri, uri=True)
        try:
            if conn.execute("SELECT count(*) FROM customers").fetchone()[0] == 20:
                return
        except sqlite3.OperationalError:
            pass  # not even the table is in the file yet
        finally:
            conn.close()
        await asyncio.sleep(0.1)
    raise AssertionError("the writes stayed in the WAL: nothing checkpoints them")
