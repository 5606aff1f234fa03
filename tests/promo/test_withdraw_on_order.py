"""A customer who orders withdraws their queued comeback and cart messages, and the codes
those carry, before the sender takes them (issue 11).

Messages are queued by the real jobs and sent by the real sender to the fake Bot API. The
outbox stamps a row's queue time from the real clock, so these tests run on it too: the
order that withdraws a message is placed after the job ran, as in the shop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiogram import Bot

import tests.support.shop as shop
from bot.clock import utcnow
from bot.config import Settings
from bot.db import Database
from bot.db.models import CodeStatus, Customer, Delivery, DeliveryStatus, PromoCode
from bot.delivery.caps import Policy
from bot.delivery.sender import Sender
from bot.delivery.sender.claim import claim
from bot.promo.campaigns.analytics import campaign_stats
from bot.promo.campaigns.running import run_campaign, run_kind
from bot.promo.codes.offers import Item
from bot.promo.shop.carts import record_abandoned_cart
from bot.promo.shop.order_effects import WITHDRAW_REASON
from bot.promo.shop.reviews import record_review
from bot.texts.notices import render_message
from tests.support import factories
from tests.support.delivery import SetClock, make_bot
from tests.support.limits import LimitedBotAPI

LEASE = timedelta(seconds=60)


@pytest.fixture
async def api() -> AsyncIterator[LimitedBotAPI]:
    async with LimitedBotAPI() as server:
        yield server


@pytest.fixture
def wsettings(settings: Settings, api: LimitedBotAPI) -> Settings:
    """Night is 22:00-08:00 UTC; no caps; a one-step ladder (60 days, 10 %) and a known
    guardrail (ceiling 18 %), so that the offers are issued whatever else changes."""
    return settings.replace(
        telegram_api_url=api.url,
        send_rate=500.0,
        caps=[],
        min_gaps=[],
        quiet_hours="22:00-08:00",
        timezone="UTC",
        send_poll_seconds=0.05,
        send_backoff_seconds=0.05,
        send_backoff_max_seconds=0.2,
        send_max_attempts=3,
        send_timeout_seconds=1.0,
        comeback_ladder="60:10",
        comeback_new_silent_days=0,
        guardrail_average_order_value=500_000,
        guardrail_net_profit_per_order=150_000,
        guardrail_safety_share=0.4,
    )


@pytest.fixture
async def bot(wsettings: Settings) -> AsyncIterator[Bot]:
    bot = make_bot(wsettings)
    yield bot
    await bot.session.close()


def next_hour(after: datetime, hour: int) -> datetime:
    """The first `hour`:00 UTC after `after`: a sender's clock inside or outside the night."""
    moment = after.astimezone(UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    return moment if moment > after else moment + timedelta(days=1)


async def send(db: Database, bot: Bot, settings: Settings, at: datetime) -> None:
    sender = Sender(db, bot, settings, clock=SetClock(at), render=render_message)
    async with asyncio.timeout(20):
        await sender.run_until_idle()


async def comeback_queued(db: Database, settings: Settings, name: str, now: datetime) -> int:
    """A customer silent for 65 days, and their comeback message queued by the job."""
    customer_id = await shop.silent_customer(db, settings, name, now, 65)
    result = await run_kind(shop.context(db, settings, now), "comeback")
    assert result.queued >= 1
    return customer_id


async def orders(
    db: Database, settings: Settings, customer_id: int, ref: str, placed_at: datetime | None = None
) -> None:
    placed = placed_at or utcnow()
    await shop.order(db, settings, ref, customer_id, placed_at=placed, now=utcnow(), status="paid")


async def only(db: Database, customer_id: int, reason: str) -> tuple[Delivery, PromoCode]:
    """The customer's one message of this reason, and the code it carries."""
    (row,) = await shop.deliveries(db, customer_id=customer_id, reason=reason)
    (code,) = await shop.codes(db, id=row.code_id)
    return row, code


async def test_an_order_withdraws_the_comeback_held_by_quiet_hours(
    db: Database, api: LimitedBotAPI, bot: Bot, wsettings: Settings
) -> None:
    now = utcnow()
    anna = await comeback_queued(db, wsettings, "anna", now)
    night = next_hour(now, 23)
    await send(db, bot, wsettings, night)
    held, _code = await only(db, anna, "comeback")
    assert held.status == DeliveryStatus.PENDING and "quiet hours" in (held.error or "")

    await orders(db, wsettings, anna, "back-at-night")  # she came back by herself
    await send(db, bot, wsettings, held.due_at)  # the morning

    assert not api.calls("sendMessage")
    row, code = await only(db, anna, "comeback")
    assert row.status == DeliveryStatus.CANCELLED and row.sent_at is None
    assert (code.status, code.revoke_reason) == (CodeStatus.REVOKED, WITHDRAW_REASON)
    async with db.read_session() as session:
        stats = await campaign_stats(
            session,
            campaign_id=row.campaign_id,
            since=now - timedelta(days=1),
            until=night + timedelta(days=1),
            guardrail=wsettings.guardrail,
        )
    assert (stats.sent, stats.delivered, stats.codes_delivered) == (0, 0, 0)


async def test_an_order_withdraws_the_abandoned_cart_offer(
    db: Database, api: LimitedBotAPI, bot: Bot, wsettings: Settings
) -> None:
    now = utcnow()
    anna = (await factories.linked_customer(db, "anna", now=now)).id
    async with db.session() as session:
        await record_abandoned_cart(
            session,
            await session.get(Customer, anna),
            "cart-1",
            [Item("sku-a", 100_000, 1, "tea")],
            now=now - timedelta(hours=4),
        )
        await session.commit()
    assert (await run_kind(shop.context(db, wsettings, now), "cart")).queued == 1

    await orders(db, wsettings, anna, "bought-the-cart")
    await send(db, bot, wsettings, next_hour(now, 12))

    assert not api.calls("sendMessage")
    row, code = await only(db, anna, "cart")
    assert row.status == DeliveryStatus.CANCELLED
    assert (code.status, code.revoke_reason) == (CodeStatus.REVOKED, WITHDRAW_REASON)


async def test_rewards_and_broadcasts_stay_queued_and_go_out(
    db: Database, api: LimitedBotAPI, bot: Bot, wsettings: Settings
) -> None:
    now = utcnow()
    reviewer = (await factories.linked_customer(db, "reviewer", now=now)).id
    await shop.order(
        db, wsettings, "reviewed", reviewer, placed_at=now - timedelta(days=9), now=now
    )
    async with db.session() as session:
        await record_review(
            session,
            await session.get(Customer, reviewer),
            "reviewed",
            rating=5,
            has_photo=False,
            now=now,
        )
        await session.commit()
    lost = await shop.silent_customer(db, wsettings, "lost", now, 100, orders=2)
    broadcast = await factories.campaign(
        db,
        now=now,
        kind="broadcast",
        segment="almost_lost",
        offer={"discount_type": "percent", "value": 7, "valid_days": 14},
        message_ru="Скучаем по вам",
        message_en="We miss you",
    )
    ctx = shop.context(db, wsettings, now)
    assert (await run_kind(ctx, "review")).issued == 1
    assert (await run_campaign(ctx, broadcast.id)).queued == 1

    await orders(db, wsettings, reviewer, "reviewer-again")
    await orders(db, wsettings, lost, "lost-again")
    kept = [await only(db, reviewer, "review_reward"), await only(db, lost, "campaign")]
    assert {(row.status, code.status) for row, code in kept} == {
        (DeliveryStatus.PENDING, CodeStatus.ACTIVE)
    }

    await send(db, bot, wsettings, next_hour(now, 12))
    for customer_id, reason in ((reviewer, "review_reward"), (lost, "campaign")):
        row, code = await only(db, customer_id, reason)
        assert (row.status, code.status) == (DeliveryStatus.SENT, CodeStatus.ACTIVE)
        assert len(api.calls("sendMessage", chat_id=factories.TELEGRAM_BASE + customer_id)) == 1


async def test_a_message_the_sender_claimed_goes_out_as_it_would_have(
    db: Database, api: LimitedBotAPI, bot: Bot, wsettings: Settings
) -> None:
    now = utcnow()
    anna = await comeback_queued(db, wsettings, "anna", now)
    noon = next_hour(now, 12)
    jobs = await claim(
        db,
        now=noon,
        limit=10,
        lease=LEASE,
        policy=Policy.from_settings(wsettings.policy),
        shop=wsettings.shop,
    )
    assert len(jobs) == 1

    await orders(db, wsettings, anna, "while-sending")
    row, code = await only(db, anna, "comeback")
    assert (row.status, code.status) == (DeliveryStatus.SENDING, CodeStatus.ACTIVE)

    # That sender died holding it; once its lease runs out another sends it.
    await send(db, bot, wsettings, noon + 2 * LEASE)
    row, code = await only(db, anna, "comeback")
    assert (row.status, code.status) == (DeliveryStatus.SENT, CodeStatus.ACTIVE)
    assert len(api.calls("sendMessage", chat_id=factories.TELEGRAM_BASE + anna)) == 1


async def test_an_order_placed_before_the_message_was_queued_does_not_withdraw_it(
    db: Database, api: LimitedBotAPI, bot: Bot, wsettings: Settings
) -> None:
    """An order from before the job ran, reported late (a CSV import of last week)."""
    now = utcnow()
    anna = await comeback_queued(db, wsettings, "anna", now)
    await orders(db, wsettings, anna, "last-week", placed_at=now - timedelta(days=7))

    row, code = await only(db, anna, "comeback")
    assert (row.status, code.status) == (DeliveryStatus.PENDING, CodeStatus.ACTIVE)
    await send(db, bot, wsettings, next_hour(now, 12))
    assert len(api.calls("sendMessage", chat_id=factories.TELEGRAM_BASE + anna)) == 1


async def test_orders_racing_the_sender_either_withdraw_or_leave_a_message(
    db: Database, wsettings: Settings
) -> None:
    """Twenty customers order while senders claim their messages: each message is either
    claimed with its code alive or withdrawn with its code revoked, never both."""
    now = utcnow()
    people = [await shop.silent_customer(db, wsettings, f"c{n}", now, 65) for n in range(20)]
    assert (await run_kind(shop.context(db, wsettings, now), "comeback")).queued == 20
    noon, policy = next_hour(now, 12), Policy.from_settings(wsettings.policy)
    placed = utcnow()

    async def one_claim() -> int:
        return len(
            await claim(db, now=noon, limit=1, lease=LEASE, policy=policy, shop=wsettings.shop)
        )

    claims = [one_claim() for _ in people]
    pushes = [orders(db, wsettings, cid, f"race-{cid}", placed_at=placed) for cid in people]
    results = await asyncio.gather(*(x for pair in zip(claims, pushes, strict=True) for x in pair))
    claimed = sum(results[0::2])

    outcomes = [await only(db, cid, "comeback") for cid in people]
    pairs = [(row.status, code.status) for row, code in outcomes]
    assert set(pairs) <= {
        (DeliveryStatus.SENDING, CodeStatus.ACTIVE),
        (DeliveryStatus.CANCELLED, CodeStatus.REVOKED),
    }
    assert pairs.count((DeliveryStatus.SENDING, CodeStatus.ACTIVE)) == claimed
