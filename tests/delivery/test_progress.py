"""Campaign progress from the outbox: counts by status and an ETA."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from bot.db import Database
from bot.db.models import Campaign, Delivery, DeliveryStatus
from bot.delivery.progress import Progress, progress
from tests.support.delivery import queue, shoppers

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


async def test_progress_counts_and_eta(db: Database) -> None:
    async with db.session() as session:
        campaign = Campaign(name="June", kind="broadcast")
        other = Campaign(name="Other", kind="broadcast")
        session.add_all([campaign, other])
        await session.commit()
    people = await shoppers(db, 100)
    ids = await queue(db, people, now=NOW, campaign_id=campaign.id)
    await queue(db, people[:5], now=NOW, campaign_id=other.id, key="other")

    async with db.session() as session:
        assert await progress(session, campaign.id, now=NOW) == Progress(
            sent=0, total=100, failed=0, pending=100, eta=timedelta(seconds=100 / 30)
        )

        def mark(rows: list[int], **values: object) -> object:
            return session.execute(update(Delivery).where(Delivery.id.in_(rows)).values(**values))

        # 60 sent over the last minute (1/s), 5 failed, 3 unreachable, 2 capped, 30 to go.
        for n, row in enumerate(ids[:60]):
            await mark([row], status=DeliveryStatus.SENT, sent_at=NOW - timedelta(seconds=n))
        await mark(ids[60:65], status=DeliveryStatus.FAILED)
        await mark(ids[65:68], status=DeliveryStatus.UNREACHABLE)
        await mark(ids[68:70], status=DeliveryStatus.CAPPED)
        await session.commit()
        got = await progress(session, campaign.id, now=NOW)
        assert got == Progress(sent=60, total=100, failed=8, pending=30,
                               eta=timedelta(seconds=30), skipped=2)
        assert not got.done

        # Deferred to the morning: the ETA is at least that long.
        await mark(ids[70:], due_at=NOW + timedelta(hours=8))
        await session.commit()
        assert (await progress(session, campaign.id, now=NOW)).eta == timedelta(hours=8)

        await mark(ids[70:], status=DeliveryStatus.SENT, sent_at=NOW)
        await session.commit()
        done = await progress(session, campaign.id, now=NOW)
        assert done.done and done.eta is None and done.sent == 90
        assert (await progress(session, 999, now=NOW)).total == 0
