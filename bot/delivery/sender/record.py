"""Recording: what became of each send, written in small batches in the caller's transaction.

Outcomes:
- ok → `sent` (message id, a poll's id, sent_at); a personal code counting its days from
  delivery gets `expires_at` — the same moment the message showed the shopper.
- 429 → every worker pauses for `retry_after`; the same row is retried (no attempt used).
- 403 → `unreachable`, the Telegram account marked blocked, no retry.
- 400 (e.g. "chat not found") → `failed`, final.
- 5xx, network errors, timeouts → retried after exponential backoff, `send_max_attempts`
  in all, then `failed`.
A message that ends here without reaching the shopper (failed, unreachable) gives its
personal, unused code back (`claim.give_back_codes`).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import SendSettings
from bot.db.models import Delivery, DeliveryStatus, PromoCode, TelegramAccount
from bot.delivery.sender.claim import ERROR_LIMIT, Job, give_back_codes

deliveries = Delivery.__table__
codes = PromoCode.__table__
accounts = TelegramAccount.__table__


class Kind(StrEnum):
    """What became of one job; `record` turns it into the row's next state."""

    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    UNREACHABLE = "unreachable"
    RELEASE = "release"
    RATE_LIMITED = "rate_limited"


@dataclass(slots=True)
class Outcome:
    """One job's result, queued for the recorder."""

    job: Job
    kind: Kind
    at: datetime
    message_id: int | None = None
    poll_id: str | None = None
    error: str | None = None
    retry_after: float = 0.0
    expires_at: datetime | None = None


def backoff(attempts: int, send: SendSettings) -> timedelta:
    """Exponential, with ±20 % jitter so that a failed burst does not retry in step."""
    seconds = min(send.backoff_max_seconds, send.backoff_seconds * 2 ** (attempts - 1))
    return timedelta(seconds=seconds * random.uniform(0.8, 1.2))


@dataclass(slots=True)
class _Writes:
    """One batch's writes: the parameter rows of each executemany'd statement."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    expiries: list[dict[str, Any]] = field(default_factory=list)
    settled: list[dict[str, Any]] = field(default_factory=list)
    blocked: list[dict[str, Any]] = field(default_factory=list)
    give_back: dict[str, list[tuple[int, int, int]]] = field(default_factory=dict)


def _plan(batch: Sequence[Outcome], send: SendSettings) -> _Writes:
    """Each outcome's next state (sent, pending again with a backoff, or final); no I/O."""
    writes = _Writes()
    for outcome in batch:
        job, row = outcome.job, outcome.job.delivery
        if outcome.kind is Kind.SENT:
            writes.sent.append({"b_id": job.id, "b_at": outcome.at, "b_mid": outcome.message_id,
                                "b_poll": outcome.poll_id})
            if outcome.expires_at is not None:
                writes.expiries.append({"b_code": row.code_id, "b_exp": outcome.expires_at})
            continue
        attempts = row.attempts + (0 if outcome.kind is Kind.RELEASE else 1)
        status, due = DeliveryStatus.PENDING, row.due_at
        if outcome.kind is Kind.RETRY:
            if attempts >= send.max_attempts:
                status = DeliveryStatus.FAILED
            else:
                due = outcome.at + backoff(attempts, send)
        elif outcome.kind is Kind.FAILED:
            status = DeliveryStatus.FAILED
        elif outcome.kind is Kind.UNREACHABLE:
            status = DeliveryStatus.UNREACHABLE
            if job.account_id is not None and row.chat_id is None:
                writes.blocked.append({"b_account": job.account_id, "b_at": outcome.at})
        writes.settled.append({
            "b_id": job.id, "b_lease": job.lease, "b_status": status, "b_due": due,
            "b_attempts": attempts, "b_error": (outcome.error or "")[:ERROR_LIMIT] or None,
        })
        if status in (DeliveryStatus.FAILED, DeliveryStatus.UNREACHABLE) and job.personal_code:
            writes.give_back.setdefault(f"not delivered: {status}", []).append(
                (job.id, row.code_id, row.customer_id)  # type: ignore[arg-type]
            )
    return writes


async def record(session: AsyncSession, batch: Sequence[Outcome], send: SendSettings) -> None:
    """Write a batch of outcomes in the caller's transaction."""
    writes = _plan(batch, send)
    c = deliveries.c
    if writes.sent:
        # Recorded even if the lease was lost meanwhile: the message did go out.
        await session.execute(
            update(deliveries)
            .where(c.id == bindparam("b_id"))
            .values(
                status=DeliveryStatus.SENT, sent_at=bindparam("b_at"),
                message_id=bindparam("b_mid"), poll_id=bindparam("b_poll"), lease_until=None,
                error=None, attempts=c.attempts + 1,
            ),
            writes.sent,
        )
    if writes.expiries:
        await session.execute(
            update(codes)
            .where(codes.c.id == bindparam("b_code"), codes.c.expires_at.is_(None))
            .values(expires_at=bindparam("b_exp")),
            writes.expiries,
        )
    if writes.settled:
        await session.execute(
            update(deliveries)
            .where(
                c.id == bindparam("b_id"),
                c.status == DeliveryStatus.SENDING,
                c.lease_until == bindparam("b_lease"),
            )
            .values(
                status=bindparam("b_status"), due_at=bindparam("b_due"), lease_until=None,
                attempts=bindparam("b_attempts"), error=bindparam("b_error"),
            ),
            writes.settled,
        )
    if writes.blocked:
        await session.execute(
            update(accounts)
            .where(accounts.c.id == bindparam("b_account"))
            .values(is_blocked=True, blocked_at=bindparam("b_at")),
            writes.blocked,
        )
    now = max(outcome.at for outcome in batch)
    for why, rows in writes.give_back.items():
        await give_back_codes(session, rows, why, now)


async def renew_leases(session: AsyncSession, jobs: Iterable[Job], new_lease: datetime) -> None:
    """Push the leases of held rows forward to `new_lease`, in the caller's transaction;
    a row whose lease is no longer the one we hold (another sender claimed it) is left
    alone. The caller updates `Job.lease` once this has committed."""
    by_lease: dict[datetime, list[int]] = {}
    for job in jobs:
        by_lease.setdefault(job.lease, []).append(job.id)
    for old, ids in by_lease.items():
        await session.execute(
            update(deliveries)
            .where(
                deliveries.c.id.in_(ids),
                deliveries.c.status == DeliveryStatus.SENDING,
                deliveries.c.lease_until == old,
            )
            .values(lease_until=new_lease)
        )
