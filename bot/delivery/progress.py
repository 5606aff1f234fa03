"""How far a campaign's messages have got: the numbers behind `campaign status` and the
managers' live message. One grouped query over the campaign's outbox rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import utcnow
from bot.db.models import Delivery, DeliveryStatus

# The sending speed is measured over the last minute of the campaign's own sends.
RATE_WINDOW = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class Progress:
    sent: int
    total: int
    failed: int  # failed for good, or the chat is unreachable
    pending: int  # still to go: queued, deferred (quiet hours, backoff) or being sent
    eta: timedelta | None  # None when nothing is pending
    skipped: int = 0  # held back on purpose: capped, opted out, cancelled

    @property
    def done(self) -> bool:
        return self.pending == 0


async def progress(
    session: AsyncSession,
    campaign_id: int,
    *,
    now: datetime | None = None,
    rate: float = 30.0,
) -> Progress:
    """Counts by status, and an ETA from the speed of the last minute (else `rate`/s).

    Rows deferred to a later `due_at` (quiet hours, a retry) make the ETA at least that.
    """
    now = now or utcnow()
    d = Delivery
    status = d.status
    row = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(status == DeliveryStatus.SENT),
                func.count().filter(status.in_([DeliveryStatus.FAILED,
                                                DeliveryStatus.UNREACHABLE])),
                func.count().filter(status.in_([DeliveryStatus.PENDING,
                                                DeliveryStatus.SENDING])),
                func.count().filter(status == DeliveryStatus.SENT, d.sent_at > now - RATE_WINDOW),
                func.max(case((status == DeliveryStatus.PENDING, d.due_at))),
            ).where(d.campaign_id == campaign_id)
        )
    ).one()
    total, sent, failed, pending, recent, last_due = row
    eta = None
    if pending:
        speed = recent / RATE_WINDOW.total_seconds() if recent else rate
        eta = timedelta(seconds=pending / speed)
        if last_due is not None and last_due > now:
            eta = max(eta, last_due - now)
    return Progress(
        sent=sent, total=total, failed=failed, pending=pending, eta=eta,
        skipped=total - sent - failed - pending,
    )
