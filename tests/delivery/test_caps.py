"""Frequency caps, gaps, opt-out and exemptions, through the real claim and sender."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from aiogram import Bot
from delivery_helpers import deliver_all, queue, shoppers, statuses
from fake_limits import LimitedBotAPI
from pydantic import ValidationError
from sqlalchemy import select

from bot.config import Settings
from bot.db import Database
from bot.db.models import CodeStatus, Delivery, DeliveryStatus, PromoCode
from bot.delivery.caps import Cap, Policy, parse_caps, parse_gaps
from bot.delivery.outbox import enqueue
from bot.delivery.sender import Sender, claim

MORNING = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_parsing() -> None:
    assert parse_caps(["2/24h", "3/1w"]) == (Cap(2, timedelta(hours=24)), Cap(3, timedelta(days=7)))
    assert parse_gaps(["comeback:14d"]) == {"comeback": timedelta(days=14)}
    for bad in (["2"], ["0/1d"], ["2/1y"], ["x/1d"]):
        with pytest.raises(ValueError):
            parse_caps(bad)
    with pytest.raises(ValidationError):
        Settings(_env_file=None, caps="3/7x")
    with pytest.raises(ValidationError):
        Settings(_env_file=None, quiet_hours="22-8")
    assert Settings(_env_file=None, caps="1/1d, 3/7d").caps == ["1/1d", "3/7d"]


async def _by_key(db: Database) -> dict[str, Delivery]:
    async with db.session() as session:
        return {d.dedupe_key.split(":")[0]: d for d in await session.scalars(select(Delivery))}


async def _code_status(db: Database, delivery: Delivery) -> str:
    async with db.session() as session:
        code = await session.get(PromoCode, delivery.code_id)
        assert code is not None
        return code.status


async def test_two_per_day_three_campaigns_then_eligible_after_the_window(
    db: Database, api: LimitedBotAPI, bot: Bot, dsettings: Settings
) -> None:
    settings = dsettings.model_copy(update={"caps": ["2/24h"]})
    clock = Clock(MORNING)
    [shopper] = await shoppers(db, 1)

    async def campaign(key: str) -> None:
        await queue(db, [shopper], now=clock.now, key=key)
        await deliver_all(Sender(db, bot, settings, clock=clock), db)

    await campaign("first")
    clock.now += timedelta(hours=3)
    await campaign("second")
    clock.now += timedelta(hours=3)
    await campaign("third")

    rows = await _by_key(db)
    assert [rows[k].status for k in ("first", "second", "third")] == [
        DeliveryStatus.SENT, DeliveryStatus.SENT, DeliveryStatus.CAPPED
    ]
    assert "cap 2 per 1 day" in (rows["third"].error or "")
    assert await _code_status(db, rows["third"]) == CodeStatus.REVOKED
    assert api.delivered()[shopper.chat_id] == 2

    clock.now = MORNING + timedelta(hours=23)
    await campaign("early")  # the first send is still inside the window
    clock.now = MORNING + timedelta(hours=24, minutes=1)
    await campaign("fourth")
    rows = await _by_key(db)
    assert rows["early"].status == DeliveryStatus.CAPPED
    assert rows["fourth"].status == DeliveryStatus.SENT
    assert api.delivered()[shopper.chat_id] == 3


async def test_hundred_concurrent_checks_never_exceed_the_cap(
    db: Database, dsettings: Settings
) -> None:
    [shopper] = await shoppers(db, 1)
    ids = []
    for n in range(100):
        ids += await queue(db, [shopper], now=MORNING, key=f"c{n}")
    policy = Policy(caps=parse_caps(["3/1d"]))

    async def one() -> int:
        jobs = await claim(db, now=MORNING, limit=1, lease=timedelta(seconds=60),
                           policy=policy, settings=dsettings)
        return len(jobs)

    claimed = await asyncio.gather(*(one() for _ in range(100)))
    assert sum(claimed) == 3
    got = await statuses(db)
    assert got[DeliveryStatus.SENDING] == 3
    assert got[DeliveryStatus.CAPPED] + got.get(DeliveryStatus.PENDING, 0) == 97
    # Whatever is still pending is capped by the next claim too: never a fourth slot.
    while await claim(db, now=MORNING, limit=100, lease=timedelta(seconds=60), policy=policy,
                      settings=dsettings):
        raise AssertionError("a fourth message got a slot")
    assert (await statuses(db))[DeliveryStatus.CAPPED] == 97


async def test_opted_out_gets_no_promotion_but_service_messages(
    db: Database, api: LimitedBotAPI, bot: Bot, dsettings: Settings
) -> None:
    [shopper] = await shoppers(db, 1, opted_in=False)
    await queue(db, [shopper], now=MORNING, key="promo")
    await queue(db, [shopper], now=MORNING, key="service", promotional=False, with_code=False)
    await deliver_all(Sender(db, bot, dsettings.model_copy(update={"caps": ["1/1d"]}),
                             clock=Clock(MORNING)), db)
    rows = await _by_key(db)
    assert rows["promo"].status == DeliveryStatus.CANCELLED
    assert await _code_status(db, rows["promo"]) == CodeStatus.REVOKED
    assert rows["service"].status == DeliveryStatus.SENT
    assert api.delivered()[shopper.chat_id] == 1


async def test_service_messages_and_manager_codes_pass_the_cap_but_managers_count(
    db: Database, api: LimitedBotAPI, bot: Bot, dsettings: Settings
) -> None:
    settings = dsettings.model_copy(update={"caps": ["1/1d"], "quiet_hours": "22:00-08:00"})
    night = datetime(2026, 6, 1, 21, 0, tzinfo=UTC)  # 00:00 in Moscow: quiet hours
    clock = Clock(MORNING)
    [shopper] = await shoppers(db, 1)
    await queue(db, [shopper], now=clock.now, key="manual", reason="manual")
    await queue(db, [shopper], now=clock.now, key="service", promotional=False)
    await deliver_all(Sender(db, bot, settings, clock=clock), db)
    clock.now += timedelta(hours=1)
    await queue(db, [shopper], now=clock.now, key="campaign")
    await deliver_all(Sender(db, bot, settings, clock=clock), db)
    clock.now = night
    await queue(db, [shopper], now=clock.now, key="night", promotional=False)
    await deliver_all(Sender(db, bot, settings, clock=clock), db)

    rows = await _by_key(db)
    assert rows["manual"].status == DeliveryStatus.SENT
    assert rows["service"].status == DeliveryStatus.SENT
    assert rows["campaign"].status == DeliveryStatus.CAPPED  # the manager's code counted
    assert rows["night"].status == DeliveryStatus.SENT  # service: no quiet hours


async def test_minimum_gap_per_reason(
    db: Database, api: LimitedBotAPI, bot: Bot, dsettings: Settings
) -> None:
    settings = dsettings.model_copy(update={"min_gaps": ["comeback:7d"]})
    clock = Clock(MORNING)
    [shopper] = await shoppers(db, 1)
    await queue(db, [shopper], now=clock.now, key="one", reason="comeback")
    await deliver_all(Sender(db, bot, settings, clock=clock), db)
    clock.now += timedelta(days=2)
    await queue(db, [shopper], now=clock.now, key="two", reason="comeback")
    await queue(db, [shopper], now=clock.now, key="other", reason="review_reward")
    await deliver_all(Sender(db, bot, settings, clock=clock), db)
    rows = await _by_key(db)
    assert rows["two"].status == DeliveryStatus.CAPPED
    assert rows["other"].status == DeliveryStatus.SENT


async def test_defer_instead_of_cap(
    db: Database, api: LimitedBotAPI, bot: Bot, dsettings: Settings
) -> None:
    settings = dsettings.model_copy(update={"caps": ["1/1d"], "cap_overflow": "defer"})
    clock = Clock(MORNING)
    [shopper] = await shoppers(db, 1)
    await queue(db, [shopper], now=clock.now, key="one")
    await deliver_all(Sender(db, bot, settings, clock=clock), db)
    clock.now += timedelta(hours=2)
    await queue(db, [shopper], now=clock.now, key="two")
    sender = Sender(db, bot, settings, clock=clock)
    await sender.run_until_idle()
    rows = await _by_key(db)
    assert rows["two"].status == DeliveryStatus.PENDING
    assert rows["two"].due_at == rows["one"].sent_at + timedelta(days=1)
    assert await _code_status(db, rows["two"]) == CodeStatus.ACTIVE
    clock.now = rows["two"].due_at
    await deliver_all(Sender(db, bot, settings, clock=clock), db)
    assert (await _by_key(db))["two"].status == DeliveryStatus.SENT


async def test_a_capped_reminder_keeps_the_code_it_reminds_of(
    db: Database, api: LimitedBotAPI, bot: Bot, dsettings: Settings
) -> None:
    settings = dsettings.model_copy(update={"caps": ["1/1d"]})
    clock = Clock(MORNING)
    [shopper] = await shoppers(db, 1)
    [first] = await queue(db, [shopper], now=clock.now, key="code")
    await deliver_all(Sender(db, bot, settings, clock=clock), db)
    async with db.session() as session:
        delivered = await session.get(Delivery, first)
        assert delivered is not None
        await enqueue(session, dedupe_key="reminder:1", customer_id=shopper.customer_id,
                      reason="expiry_reminder", payload={}, code_id=delivered.code_id,
                      due_at=clock.now)
        await session.commit()
    await deliver_all(Sender(db, bot, settings, clock=clock), db)
    rows = await _by_key(db)
    assert rows["reminder"].status == DeliveryStatus.CAPPED
    assert await _code_status(db, rows["code"]) == CodeStatus.ACTIVE
