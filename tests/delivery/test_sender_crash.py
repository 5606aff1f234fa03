"""A sender killed with SIGKILL mid-broadcast, then another one: nothing is lost, and
only rows that were in flight at the kill can be sent twice."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path

from aiogram import Bot

from bot.clock import utcnow
from bot.config import Settings
from bot.db import Database
from bot.db.models import DeliveryStatus
from bot.delivery.sender import Sender
from bot.texts.notices import render_message
from tests.support.delivery import deliver_all, eventually, queue, shoppers, statuses
from tests.support.limits import LimitedBotAPI

ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 30


async def test_sigkill_mid_broadcast_then_restart(
    db: Database, api: LimitedBotAPI, bot: Bot, dsettings: Settings
) -> None:
    people = await shoppers(db, 150)
    await queue(db, people, now=utcnow())
    api.latency = 0.03
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PROMOBOT_DATABASE_URL": dsettings.db.url,
        "PROMOBOT_TELEGRAM_API_URL": api.url,
        "PROMOBOT_BOT_TOKEN": "123456:TEST-token-for-tests-only",
        "PROMOBOT_SEND_RATE": "100",
        "PROMOBOT_SEND_CONCURRENCY": "4",
        "PROMOBOT_SEND_LEASE_SECONDS": str(LEASE_SECONDS),
        "PROMOBOT_CAPS": "",
        "PROMOBOT_QUIET_HOURS": "",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.support.sender_process", env=env, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        await eventually(lambda: len(api.send_times()) >= 40, seconds=30)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        await process.wait()
    assert process.returncode == -signal.SIGKILL
    at_kill = await statuses(db)
    in_flight = at_kill.get(DeliveryStatus.SENDING, 0)
    assert 0 < at_kill.get(DeliveryStatus.SENT, 0) < 150

    # A new instance once the dead one's leases have run out (its clock is moved on
    # rather than the test sleeping for the lease).
    def later() -> object:
        return utcnow() + timedelta(seconds=LEASE_SECONDS + 1)

    restarted = Sender(db, bot, dsettings, clock=later, render=render_message)  # type: ignore[arg-type]
    await deliver_all(restarted, db)

    delivered = api.delivered()
    assert set(delivered) == {p.chat_id for p in people}  # nobody lost
    duplicates = sum(n - 1 for n in delivered.values())
    assert duplicates <= in_flight  # only rows claimed and unrecorded at the kill
    assert duplicates <= 4 + 100 * 0.1  # in-flight sends + ~100 ms of unrecorded results
    assert (await statuses(db)) == {DeliveryStatus.SENT: 150}
