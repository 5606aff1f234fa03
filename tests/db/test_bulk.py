"""Rows inserted as one JSON document (`insert_rows`) read back exactly as the ORM would
have written them, on the backend the suite runs on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.clock import Clock
from bot.db import Database
from bot.db.bulk import insert_rows
from bot.db.models import CampaignAssignment, Delivery
from tests.support import factories

deliveries = Delivery.__table__
assignments = CampaignAssignment.__table__


async def test_rows_and_shared_columns_read_back(db: Database, clock: Clock) -> None:
    customers = [(await factories.customer(db, f"c{i}", now=clock())).id for i in range(3)]
    due = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
    payloads = [{"message": {"ru": "Мы скучаем, «друг»", "en": "We miss you"}, "n": 1},
                {"nested": [1, 2.5, None, True], "quote": 'say "hi"\\n'},
                {}]
    rows = [{"dedupe_key": f"k{i}", "customer_id": customer, "payload": payloads[i],
             "code_id": None}
            for i, customer in enumerate(customers)]
    async with db.session() as session:
        inserted = await insert_rows(
            session, deliveries, rows, skip_conflicts=("dedupe_key",),
            returning=(deliveries.c.id,), reason="campaign", due_at=due, promotional=False,
            status="pending", attempts=0,
        )
        assert len(inserted.all()) == 3
        # The same keys again: nothing new, and no error.
        again = await insert_rows(
            session, deliveries, rows[:2], skip_conflicts=("dedupe_key",),
            returning=(deliveries.c.id,), reason="campaign", due_at=due, promotional=False,
            status="pending", attempts=0,
        )
        assert again.all() == []
        await session.commit()
    async with db.read_session() as session:
        stored = (await session.scalars(select(Delivery).order_by(Delivery.dedupe_key))).all()
    assert [(d.dedupe_key, d.customer_id, d.payload, d.code_id) for d in stored] == [
        (f"k{i}", customers[i], payloads[i], None) for i in range(3)
    ]
    assert {(d.reason, d.due_at, d.promotional, d.status, d.attempts) for d in stored} == {
        ("campaign", due, False, "pending", 0)
    }
    # A column left out takes its default, as with any insert.
    assert all(d.created_at is not None and d.created_at.tzinfo is not None for d in stored)


async def test_times_per_row_keep_their_instant(db: Database, clock: Clock) -> None:
    customers = [(await factories.customer(db, f"c{i}", now=clock())).id for i in range(3)]
    campaign = await factories.campaign(db, now=clock())
    moscow = timezone(timedelta(hours=3))
    times = [datetime(2025, 1, 31, 23, 59, 59, 999999, tzinfo=UTC),
             datetime(2025, 2, 1, 2, 0, 0, tzinfo=moscow), None]
    rows = [{"customer_id": customer, "variant_id": None, "is_holdout": i == 1,
             "reference_at": times[i]}
            for i, customer in enumerate(customers)]
    async with db.session() as session:
        inserted = await insert_rows(
            session, assignments, rows, skip_conflicts=True,
            returning=(assignments.c.customer_id,), campaign_id=campaign.id, step=2,
            assigned_at=clock(), escalated=False,
        )
        assert set(inserted.scalars()) == set(customers)
        await session.commit()
    async with db.read_session() as session:
        stored = (await session.scalars(
            select(CampaignAssignment).order_by(CampaignAssignment.customer_id)
        )).all()
    assert [(a.customer_id, a.is_holdout, a.reference_at, a.step) for a in stored] == [
        (customers[i], i == 1, times[i], 2) for i in range(3)
    ]


async def test_a_naive_time_is_refused(db: Database, clock: Clock) -> None:
    customer = (await factories.customer(db, "c1", now=clock())).id
    campaign = await factories.campaign(db, now=clock())
    rows = [{"customer_id": customer, "reference_at": datetime(2025, 1, 1)}]
    async with db.session() as session:
        with pytest.raises(ValueError, match="naive"):
            await insert_rows(session, assignments, rows, campaign_id=campaign.id)


async def test_json_values_of_any_kind_read_back(db: Database, clock: Clock) -> None:
    """A JSON column keeps a bare string, a number or a list as JSON: SQLite's
    `json_extract` would hand back a bare string as plain text, unreadable as JSON."""
    customer = (await factories.customer(db, "c1", now=clock())).id
    values = ["hello", 12, [1, "two"], {"a": None}]
    rows = [{"dedupe_key": f"k{i}", "customer_id": customer, "payload": value}
            for i, value in enumerate(values)]
    async with db.session() as session:
        await insert_rows(session, deliveries, rows, reason="r", due_at=clock(),
                          status="pending", attempts=0)
        await session.commit()
    async with db.read_session() as session:
        stored = (await session.scalars(
            select(Delivery.payload).order_by(Delivery.dedupe_key))).all()
    assert stored == values


async def test_rows_of_different_columns_are_refused(db: Database, clock: Clock) -> None:
    customer = (await factories.customer(db, "c1", now=clock())).id
    row = {"dedupe_key": "k1", "customer_id": customer, "payload": {}}
    async with db.session() as session:
        with pytest.raises(ValueError, match="same columns"):
            await insert_rows(session, deliveries, [row, {**row, "code_id": None}],
                              reason="r", due_at=clock())
        with pytest.raises(ValueError, match="same columns"):
            await insert_rows(session, deliveries, [row], reason="r", due_at=clock(),
                              payload={})
