"""Frequency caps, gaps, opt-out and exemptions, through the real claim and sender."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from aiogram import Bot
from pydantic import ValidationError

from bot.config import Settings
from bot.config.values import Cap, parse_caps, parse_gaps
from bot.db import Database
from bot.db.models import CodeStatus, Delivery, DeliveryStatus, PromoCode
from bot.delivery.caps import Policy
from bot.delivery.outbox import enqueue
from bot.delivery.sender import Sender
from bot.delivery.sender.claim import claim
from bot.texts.notices import render_message
from tests.support.delivery import Inbox, SetClock, queue, shoppers, statuses
from tests.support.limits import LimitedBotAPI

MORNING = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


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
    assert Settings(_env_file=None, caps="1/1d, 3/7d").policy.caps == (
        Cap(1, timedelta(days=1)), Cap(3, timedelta(days=7)))


async def _code_status(db: Database, delivery: Delivery) -> str:
    async with db.session() as session:
        code = await session.get(PromoCode, delivery.code_id)
        assert code is not None
        return code.status


async def test_two_per_day_three_campaigns_then_eligible_after_the_window(
    db: Database, api: LimitedBotAPI, bot: Bot, dsettings: Settings
) -> None:
    inbox = await Inbox.create(db, bot, dsettings, MORNING, caps=["2/24h"])
    await inbox.campaign("first")
    inbox.clock.now += timedelta(hours=3)
    await inbox.campaign("second")
    inbox.clock.now += timedelta(hours=3)
    await inbox.campaign("third")

    rows = await inbox.rows()
    assert [rows[k].status for k in ("first", "second", "third")] == [
        DeliveryStatus.SENT, DeliveryStatus.SENT, DeliveryStatus.CAPPED
    ]
    assert "cap 2 per 1 day" in (rows["third"].error or "")
    assert await _code_status(db, rows["third"]) == CodeStatus.REVOKED
    assert api.delivered()[inbox.shopper.chat_id] == 2

    inbox.clock.now = MORNING + timedelta(hours=23)
    await inbox.campaign("early")  # the first send is still inside the window
    inbox.clock.now = MORNING + timedelta(hours=24, minutes=1)
    await inbox.campaign("fourth")
    rows = await inbox.rows()
    assert rows["early"].status == DeliveryStatus.CAPPED
    assert rows["fourth"].status == DeliveryStatus.SENT
    assert api.delivered()[inbox.shopper.chat_id] == 3


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
                           policy=policy, shop=dsettings.shop)
        return len(jobs)

    claimed = await asyncio.gather(*(one() for _ in range(100)))
    assert sum(claimed) == 3
    got = await statuses(db)
    assert got[DeliveryStatus.SENDING] == 3
    assert got[DeliveryStatus.CAPPED] + got.get(DeliveryStatus.PENDING, 0) == 97
    # Whatever is still pending is capped by the next claim too: never a fourth slot.
    while await claim(db, now=MORNING, limit=100, lease=timedelta(seconds=60), policy=policy,
                      shop=dsettings.shop):
        raise AssertionError("a fourth message got a slot")
    assert (await statuses(db))[DeliveryStatus.CAPPED] == 97


async def test_opted_out_gets_no_promotion_but_service_messages(
    db: Database, api: LimitedBotAPI, bot: Bot, dsettings: Settings
) -> None:
    [shopper] = await shoppers(db, 1, marketing_opt_in=False)
    await queue(db, [shopper], now=MORNING, key="promo")
    await queue(db, [shopper], now=MORNING, key="service", promotional=False, with_code=False)
    inbox = Inbox(db, bot, dsettings.replace(caps=["1/1d"]), SetClock(MORNING),
                  shopper)
    await inbox.deliver()
    rows = await inbox.rows()
    assert rows["promo"].status == DeliveryStatus.CANCELLED
    assert await _code_status(db, rows["promo"]) == CodeStatus.REVOKED
    assert rows["service"].status == DeliveryStatus.SENT
    assert api.delivered()[shopper.chat_id] == 1


async def test_service_messages_and_manager_codes_pass_the_cap_but_managers_count(
    db: Database, api: LimitedBotAPI, bot: Bot, dsettings: Settings
) -> None:
    inbox = await Inbox.create(db, bot, dsettings, MORNING, caps=["1/1d"],
                               quiet_hours="22:00-08:00")
    await queue(db, [inbox.shopper], now=MORNING, key="manual", reason="manual")
    await inbox.campaign("service", promotional=False)
    inbox.clock.now += timedelta(hours=1)
    await inbox.campaign("campaign")
    inbox.clock.now = datetime(2026, 6, 1, 21, 0, tzinfo=UTC)  # midnight in Moscow
    await inbox.campaign("night", promotional=False)

    rows = await inbox.rows()
    assert rows["manual"].status == DeliveryStatus.SENT
    assert rows["service"].status == DeliveryStatus.SENT
    assert rows["campaign"].status == DeliveryStatus.CAPPED  # the manager's code counted
    assert rows["night"].status == DeliveryStatus.SENT  # service: no quiet hours


async def test_minimum_gap_per_reason(
    db: Database, api: LimitedBotAPI, bot: Bot, dsettings: Settings
) -> None:
    inbox = await Inbox.create(db, bot, dsettings, MORNING, min_gaps=["comeback:7d"])
    await inbox.campaign("one", reason="comeback")
    inbox.clock.now += timedelta(days=2)
    await queue(db, [inbox.shopper], now=inbox.clock.now, key="two", reason="comeback")
    await inbox.campaign("other", reason="review_reward")
    rows = await inbox.rows()
    assert rows["two"].status == DeliveryStatus.CAPPED
    assert rows["other"].status == DeliveryStatus.SENT


async def test_defer_instead_of_cap(
    db: Database, api: LimitedBotAPI, bot: Bot, dsettings: Settings
) -> None:
    inbox = await Inbox.create(db, bot, dsettings, MORNING, caps=["1/1d"], cap_overflow="defer")
    await inbox.campaign("one")
    inbox.clock.now += timedelta(hours=2)
    await queue(db, [inbox.shopper], now=inbox.clock.now, key="two")
    await Sender(db, bot, inbox.settings, clock=inbox.clock, render=render_message).run_until_idle()
    rows = await inbox.rows()
    assert rows["two"].status == DeliveryStatus.PENDING
    assert rows["two"].due_at == rows["one"].sent_at + timedelta(days=1)
    assert await _code_status(db, rows["two"]) == CodeStatus.ACTIVE
    inbox.clock.now = rows["two"].due_at
    await inbox.deliver()
    assert (await inbox.rows())["two"].status == DeliveryStatus.SENT


async def test_a_capped_reminder_keeps_the_code_it_reminds_of(
    db: Database, api: LimitedBotAPI, bot: Bot, dsettings: Settings
) -> None:
    inbox = await Inbox.create(db, bot, dsettings, MORNING, caps=["1/1d"])
    await inbox.campaign("code")
    delivered = (await inbox.rows())["code"]
    async with db.session() as session:
        await enqueue(session, dedupe_key="reminder:1", customer_id=inbox.shopper.customer_id,
                      reason="expiry_reminder", payload={}, code_id=delivered.code_id,
                      due_at=inbox.clock.now)
        await session.commit()
    await inbox.deliver()
    rows = await inbox.rows()
    assert rows["reminder"].status == DeliveryStatus.CAPPED
    assert await _code_status(db, rows["code"]) == CodeStatus.ACTIVE
