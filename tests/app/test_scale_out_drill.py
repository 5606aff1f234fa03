"""The scale-out drill: three `promobot run` processes on one PostgreSQL, with Redis and
without it (the shared state then in PostgreSQL), against a fake Bot API that enforces
Telegram's limits; a 600-customer broadcast; one process SIGKILLed in the middle. Every
customer is reached, no second holds more than the limit, the only duplicates are
messages in flight at the kill, and the survivors take over the dead one's leased rows.

The processes are the real entry point (`python -m bot run`), on a database of their
own that `promobot migrate` builds, as a deployment would.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot.clock import utcnow
from bot.db import Database, create_database
from bot.db.models import DeliveryStatus
from tests.conftest import POSTGRES_URL
from tests.support.delivery import eventually, queue, shoppers, statuses
from tests.support.limits import LimitedBotAPI
from tests.support.ports import free_port
from tests.support.stores import REDIS_URL, needs_redis

ROOT = Path(__file__).resolve().parents[2]
CUSTOMERS = 600
RATE = 30
LEASE_SECONDS = 3
CONCURRENCY = 4

pytestmark = pytest.mark.skipif(POSTGRES_URL is None,
                                reason="several processes share PostgreSQL")


@pytest.fixture
async def drill_db() -> AsyncIterator[Database]:
    """A database of the drill's own, migrated by `promobot migrate`."""
    assert POSTGRES_URL is not None
    url = make_url(POSTGRES_URL)
    name = f"{url.database}_drill"
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    drill_url = url.set(database=name).render_as_string(hide_password=False)
    migrate = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "migrate", cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PROMOBOT_DATABASE_URL": drill_url},
    )
    assert await migrate.wait() == 0
    db = create_database(drill_url)
    try:
        yield db
    finally:
        await db.dispose()
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest.fixture
async def telegram() -> AsyncIterator[LimitedBotAPI]:
    # On a loop of its own: the times it records are the wire's.
    async with LimitedBotAPI(threaded=True, enforce=True, overall=RATE) as server:
        yield server


async def start(db: Database, api: LimitedBotAPI, bot_token: str, redis_url: str
                ) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PROMOBOT_DATABASE_URL": db.url,
        "PROMOBOT_REDIS_URL": redis_url,
        "PROMOBOT_TELEGRAM_API_URL": api.url,
        "PROMOBOT_BOT_TOKEN": bot_token,
        "PROMOBOT_API_PORT": str(free_port()),
        "PROMOBOT_WEBAPP_PORT": str(free_port()),
        "PROMOBOT_SEND_RATE": str(RATE),
        "PROMOBOT_SEND_CONCURRENCY": str(CONCURRENCY),
        "PROMOBOT_SEND_LEASE_SECONDS": str(LEASE_SECONDS),
        "PROMOBOT_CAPS": "",
        "PROMOBOT_QUIET_HOURS": "",
    }
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", env=env, cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )


@pytest.mark.parametrize("redis_url", [
    pytest.param(REDIS_URL, id="redis", marks=needs_redis),
    pytest.param("", id="postgresql"),
])
async def test_three_processes_one_killed(
    drill_db: Database, telegram: LimitedBotAPI, redis_url: str
) -> None:
    people = await shoppers(drill_db, CUSTOMERS)
    await queue(drill_db, people, now=utcnow())
    # The keys in Redis are the bot's: a bot of its own keeps this drill's apart.
    token = f"{random.randint(10**8, 10**9)}:TEST-token-for-the-drill"
    processes = [await start(drill_db, telegram, token, redis_url) for _ in range(3)]
    try:
        # Polled seldom: this process's work would skew the fake's clock.
        await eventually(lambda: len(telegram.send_times()) >= CUSTOMERS // 3, 60, every=0.2)
        victim = processes[1]
        os.kill(victim.pid, signal.SIGKILL)
        await victim.wait()
        at_kill = await statuses(drill_db)

        async def all_sent() -> bool:
            return (await statuses(drill_db)).get(DeliveryStatus.SENT, 0) == CUSTOMERS

        await eventually(all_sent, 90, every=0.5)
    finally:
        for process in processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            await asyncio.wait_for(process.wait(), 30)

    assert victim.returncode == -signal.SIGKILL
    assert [p.returncode for p in processes if p is not victim] == [0, 0]
    assert telegram.violations == []  # never over 30 in a second, nor 1 per chat
    delivered = telegram.delivered()
    assert set(delivered) == {p.chat_id for p in people}  # nobody lost
    duplicates = sum(n - 1 for n in delivered.values())
    assert duplicates <= CONCURRENCY  # only what the dead one had in flight
    # Rows the dead one held (`sending` at the kill) were sent by the survivors.
    assert at_kill.get(DeliveryStatus.SENDING, 0) > 0
    assert await statuses(drill_db) == {DeliveryStatus.SENT: CUSTOMERS}
