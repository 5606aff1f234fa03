"""Quiet hours in the shopper's zone (else the shop's), including the days clocks change."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from aiogram import Bot
from sqlalchemy import select, update

from bot.config import QuietHours, Settings
from bot.db import Database
from bot.db.models import Customer, Delivery, DeliveryStatus
from bot.delivery.sender import Sender
from bot.texts.notices import render_message
from tests.support.delivery import SetClock, deliver_all, queue, shoppers
from tests.support.limits import LimitedBotAPI

BERLIN = ZoneInfo("Europe/Berlin")
MOSCOW = ZoneInfo("Europe/Moscow")
NIGHT = QuietHours(time(22), time(8))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "tz", "released"),
    [
        # An ordinary evening and morning in Moscow (UTC+3).
        (utc(2026, 6, 1, 18, 59), MOSCOW, None),
        (utc(2026, 6, 1, 19, 0), MOSCOW, utc(2026, 6, 2, 5, 0)),
        (utc(2026, 6, 2, 4, 59), MOSCOW, utc(2026, 6, 2, 5, 0)),
        (utc(2026, 6, 2, 5, 0), MOSCOW, None),
        # Berlin, the night of 28→29 March 2026: clocks jump 02:00 → 03:00, so the
        # morning is 08:00 CEST = 06:00 UTC (not 07:00 as the evening's offset would say).
        (utc(2026, 3, 28, 21, 30), BERLIN, utc(2026, 3, 29, 6, 0)),
        (utc(2026, 3, 29, 1, 30), BERLIN, utc(2026, 3, 29, 6, 0)),  # 03:30 CEST
        (utc(2026, 3, 29, 6, 0), BERLIN, None),
        (utc(2026, 3, 29, 19, 59), BERLIN, None),  # 21:59 CEST
        (utc(2026, 3, 29, 20, 0), BERLIN, utc(2026, 3, 30, 6, 0)),
        # The night of 24→25 October 2026: 03:00 → 02:00, the morning is 08:00 CET.
        (utc(2026, 10, 24, 20, 0), BERLIN, utc(2026, 10, 25, 7, 0)),  # 22:00 CEST
        (utc(2026, 10, 25, 0, 30), BERLIN, utc(2026, 10, 25, 7, 0)),  # 02:30, first time
        (utc(2026, 10, 25, 1, 30), BERLIN, utc(2026, 10, 25, 7, 0)),  # 02:30, second time
        (utc(2026, 10, 25, 6, 59), BERLIN, utc(2026, 10, 25, 7, 0)),
        (utc(2026, 10, 25, 7, 0), BERLIN, None),
        (utc(2026, 10, 25, 20, 59), BERLIN, None),  # 21:59 CET
        (utc(2026, 10, 25, 21, 0), BERLIN, utc(2026, 10, 26, 7, 0)),
    ],
)
def test_release_at(now: datetime, tz: ZoneInfo, released: datetime | None) -> None:
    assert NIGHT.release_at(now, tz) == released


def test_daytime_window_and_parsing() -> None:
    lunch = QuietHours.parse("13:00-15:00")
    assert lunch is not None
    assert lunch.release_at(utc(2026, 6, 1, 10, 0), MOSCOW) == utc(2026, 6, 1, 12, 0)
    assert lunch.release_at(utc(2026, 6, 1, 12, 0), MOSCOW) is None
    assert QuietHours.parse("") is None
    for bad in ("22:00", "25:00-08:00", "08:00-08:00"):
        with pytest.raises(ValueError):
            QuietHours.parse(bad)


async def test_night_messages_wait_for_the_morning_in_the_shoppers_zone(
    db: Database, api: LimitedBotAPI, bot: Bot, dsettings: Settings
) -> None:
    settings = dsettings.replace(quiet_hours="22:00-08:00", timezone="Europe/Moscow")
    berlin = await shoppers(db, 1, timezone="Europe/Berlin")
    unknown = await shoppers(db, 1, start=1)
    async with db.session() as session:  # a zone no door lets in (say, one tzdata dropped)
        await session.execute(update(Customer).where(Customer.id == unknown[0].customer_id)
                              .values(timezone="Mars/Olympus_Mons"))
        await session.commit()
    default = await shoppers(db, 1, start=2)
    # 19:30 UTC: 22:30 in Moscow (quiet), 21:30 in Berlin (not yet).
    clock = SetClock(utc(2026, 6, 1, 19, 30))
    await queue(db, berlin + unknown + default, now=clock.now)
    sender = Sender(db, bot, settings, clock=clock, render=render_message)
    await sender.run_until_idle()

    async with db.session() as session:
        rows = {d.customer_id: d for d in await session.scalars(select(Delivery))}
    assert rows[berlin[0].customer_id].status == DeliveryStatus.SENT
    for person in unknown + default:  # unknown zone → the shop's zone
        row = rows[person.customer_id]
        assert row.status == DeliveryStatus.PENDING
        assert row.due_at == utc(2026, 6, 2, 5, 0)  # 08:00 in Moscow
        assert "quiet hours" in (row.error or "")
        assert not api.calls("sendMessage", chat_id=person.chat_id)

    clock.now = utc(2026, 6, 2, 5, 0)
    await deliver_all(Sender(db, bot, settings, clock=clock, render=render_message), db)
    assert len(api.delivered()) == 3
