"""Shoppers as the sender tests hold them, outbox rows, and running a sender until its
work is done."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from sqlalchemy import func, select

from bot.clock import utcnow
from bot.config import Settings
from bot.db import Database
from bot.db.models import Delivery, DeliveryStatus, PromoCode
from bot.delivery.outbox import enqueue
from bot.delivery.sender import Sender
from bot.texts.notices import render_message
from bot.texts.surveys import survey_poll
from tests.support import factories

CHAT_BASE = 7_000_000


def make_bot(settings: Settings) -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram.api_url))
    assert settings.telegram.token is not None
    return Bot(token=settings.telegram.token.get_secret_value(), session=session)


@dataclass(frozen=True)
class Shopper:
    customer_id: int
    chat_id: int


async def shoppers(db: Database, count: int, *, start: int = 0, **fields: Any) -> list[Shopper]:
    """`factories.customers` c{start}, ... (English speakers unless `fields` say otherwise),
    customer n in the chat CHAT_BASE + n. They join on the real clock, as the sender runs."""
    rows = await factories.customers(db, count, now=utcnow(), start=start,
                                     telegram_base=CHAT_BASE, **{"locale": "en", **fields})
    return [Shopper(row.id, CHAT_BASE + start + n) for n, row in enumerate(rows)]


async def queue(
    db: Database, people: Sequence[Shopper], *, reason: str = "campaign", now: datetime,
    campaign_id: int | None = None, key: str = "k", with_code: bool = True,
    promotional: bool = True, valid_days: int | None = 14,
) -> list[int]:
    """One outbox row per shopper, each with a personal code counting from delivery."""
    ids = []
    async with db.session() as session:
        for person in people:
            code_id = None
            if with_code:
                code = PromoCode(
                    code=f"{key.upper()}{person.customer_id:06d}", source="campaign",
                    customer_id=person.customer_id, discount_type="percent",
                    discount_value=10, currency="RUB", valid_days=valid_days,
                    created_at=now,
                )
                session.add(code)
                await session.flush()
                code_id = code.id
            row = await enqueue(
                session, dedupe_key=f"{key}:{person.customer_id}",
                customer_id=person.customer_id, reason=reason,
                payload={"text": f"Hello {person.customer_id}"}, promotional=promotional,
                code_id=code_id, campaign_id=campaign_id, due_at=now,
            )
            assert row is not None
            ids.append(row.id)
        await session.commit()
    return ids


async def statuses(db: Database) -> dict[str, int]:
    async with db.session() as session:
        rows = await session.execute(
            select(Delivery.status, func.count()).group_by(Delivery.status)
        )
        return {status: n for status, n in rows}


async def unfinished(db: Database) -> int:
    async with db.session() as session:
        return await session.scalar(
            select(func.count()).select_from(Delivery).where(
                Delivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.SENDING])
            )
        ) or 0


async def eventually(check: Callable[[], Awaitable[bool] | bool], seconds: float = 20,
                     *, every: float = 0.02) -> None:
    """Poll `check` every `every` seconds until it holds; fail after `seconds`."""
    async with asyncio.timeout(seconds):
        while True:
            result = check()
            if await result if inspect.isawaitable(result) else result:
                return
            await asyncio.sleep(every)


async def deliver_all(sender: Sender, db: Database, *, seconds: float = 20.0) -> None:
    """Run the sender until no row is pending or being sent (retries included)."""
    await sender.start()

    async def done() -> bool:
        return not await unfinished(db)

    try:
        await eventually(done, seconds)
    finally:
        await sender.stop()


class SetClock:
    """A clock the test sets; the sender reads it for due times, leases and caps."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Inbox:
    """One shopper, and campaigns queued to them and delivered one at a time."""

    db: Database
    bot: Bot
    settings: Settings
    clock: SetClock
    shopper: Shopper

    @classmethod
    async def create(cls, db: Database, bot: Bot, settings: Settings, now: datetime,
                     **update: object) -> Inbox:
        [shopper] = await shoppers(db, 1)
        return cls(db, bot, settings.replace(**update), SetClock(now), shopper)

    async def campaign(self, key: str, **options: Any) -> None:
        await queue(self.db, [self.shopper], now=self.clock.now, key=key, **options)
        await self.deliver()

    async def deliver(self) -> None:
        sender = Sender(self.db, self.bot, self.settings, clock=self.clock,
                        render=render_message, polls=survey_poll)
        await deliver_all(sender, self.db)

    async def rows(self) -> dict[str, Delivery]:
        """Outbox rows by the first part of their dedupe key."""
        async with self.db.session() as session:
            return {d.dedupe_key.split(":")[0]: d
                    for d in await session.scalars(select(Delivery))}
