"""The outbox: one row per dedupe key, in the caller's transaction, on both backends."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.clock import Clock
from bot.db import Database
from bot.db.models import Delivery, DeliveryStatus
from bot.delivery.outbox import enqueue, enqueue_many
from tests.support import factories


async def test_enqueue_once_per_key(db: Database, clock: Clock) -> None:
    customer_id = (await factories.customer(db, "c1", now=clock())).id
    async with db.session() as session:
        first = await enqueue(
            session, dedupe_key="comeback:1:c1", customer_id=customer_id, reason="comeback",
            payload={"a": 1}, due_at=clock(),
        )
        second = await enqueue(
            session, dedupe_key="comeback:1:c1", customer_id=customer_id, reason="comeback",
            payload={"a": 2}, due_at=clock(),
        )
        await session.commit()
    assert first is not None and first.id and first.status == DeliveryStatus.PENDING
    assert first.payload == {"a": 1}
    assert second is None


async def test_nothing_without_commit(db: Database, clock: Clock) -> None:
    customer_id = (await factories.customer(db, "c1", now=clock())).id
    async with db.session() as session:
        await enqueue(session, dedupe_key="k", customer_id=customer_id, reason="r",
                      payload={}, due_at=clock())
        await session.rollback()
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Delivery)) == 0


async def test_concurrent_enqueue_of_one_key(db: Database, clock: Clock) -> None:
    customer_id = (await factories.customer(db, "c1", now=clock())).id

    async def one() -> bool:
        async with db.session() as session:
            row = await enqueue(session, dedupe_key="same", customer_id=customer_id,
                                reason="r", payload={}, due_at=clock())
            await session.commit()
            return row is not None

    results = await asyncio.gather(*(one() for _ in range(10)))
    assert sum(results) == 1


async def test_enqueue_many_counts_new_rows(db: Database, clock: Clock) -> None:
    customer_id = (await factories.customer(db, "c1", now=clock())).id
    rows = [{"dedupe_key": f"k{i}", "customer_id": customer_id, "payload": {"n": i}}
            for i in range(5)]
    async with db.session() as session:
        assert await enqueue_many(session, rows, reason="r", due_at=clock()) == 5
        assert await enqueue_many(session, [*rows[:3], {**rows[0], "dedupe_key": "k9"}],
                                  reason="r", due_at=clock()) == 1
        await session.commit()
