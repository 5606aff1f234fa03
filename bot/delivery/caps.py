"""Frequency caps, minimum gaps and quiet hours for promotional messages.

Who is exempt: service messages (`promotional=False`) skip all of this; replies to a
shopper's own commands never enter the outbox at all. Reasons in `cap_exempt_reasons`
(a manager's code) still count against the caps but are never held back by them.

What a message "counts" as: a promotional delivery that is `sent` (at its `sent_at`) or
is being sent right now (`sending`: its slot is taken at the moment of the claim). A
message that fails for good gives its slot back simply by leaving those states.

Atomicity — why 100 concurrent checks can never exceed a cap: the check and the claim
(`pending` → `sending`) happen in one write transaction that first serialises on the
customer. On PostgreSQL that is `SELECT … FROM customers … ORDER BY id FOR NO KEY UPDATE`
(a row lock per customer, taken in id order so two claimers cannot deadlock, and one
that does not block the foreign-key checks of inserts into the outbox); under READ
COMMITTED the count that follows sees every claim committed before the lock was granted.
On SQLite every write transaction begins IMMEDIATE, which serialises all writers. So
the second checker always counts the first one's slot.

Over the cap (`cap_overflow`): `cap` — the row ends `capped` and its unsent personal
code is given back (revoked, so a later campaign can issue a fresh one); the customer is
eligible again once the window has passed. `defer` — the row waits until the window
allows it, then is checked again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import PolicySettings
from bot.config.values import Cap, QuietHours
from bot.db.dialect import is_postgresql, none_of, one_of
from bot.db.models import Customer, Delivery, DeliveryStatus


@dataclass(frozen=True, slots=True)
class Policy:
    caps: tuple[Cap, ...] = ()
    gaps: dict[str, timedelta] = field(default_factory=dict)
    exempt_reasons: frozenset[str] = frozenset()
    quiet: QuietHours | None = None
    defer_over_cap: bool = False

    @classmethod
    def from_settings(cls, policy: PolicySettings) -> Policy:
        """The settings' caps, gaps and quiet hours, parsed when the settings loaded."""
        return cls(
            caps=policy.caps,
            gaps=dict(policy.min_gaps),
            exempt_reasons=policy.exempt_reasons,
            quiet=policy.quiet_hours,
            defer_over_cap=policy.overflow == "defer",
        )

    @property
    def lookback(self) -> timedelta:
        """How far back a customer's history matters."""
        spans = [cap.window for cap in self.caps] + list(self.gaps.values())
        return max(spans, default=timedelta(0))


class Verdict(StrEnum):
    SEND = "send"
    DEFER = "defer"  # not now: quiet hours, or over a cap with `cap_overflow=defer`
    CAPPED = "capped"
    OPTED_OUT = "opted_out"


@dataclass(frozen=True, slots=True)
class Candidate:
    """What the check needs to know about one outbox row."""

    id: int
    customer_id: int | None
    reason: str
    promotional: bool
    opted_in: bool
    tz: ZoneInfo


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    until: datetime | None = None  # for DEFER
    why: str = ""


@dataclass(slots=True)
class _History:
    """One customer's counted messages: (moment, reason)."""

    slots: list[tuple[datetime, str]] = field(default_factory=list)

    def over(self, policy: Policy, reason: str, now: datetime) -> tuple[str, datetime] | None:
        """The first rule this message would break, and when that rule allows it again."""
        for cap in policy.caps:
            recent = sorted((m for m, _ in self.slots if m > now - cap.window), reverse=True)
            if len(recent) >= cap.count:
                return f"cap {cap.count} per {cap.window}", recent[cap.count - 1] + cap.window
        gap = policy.gaps.get(reason)
        if gap is not None:
            last = max((m for m, r in self.slots if r == reason), default=None)
            if last is not None and last > now - gap:
                return f"gap {gap} for {reason}", last + gap
        return None


async def lock_customers(session: AsyncSession, customer_ids: Iterable[int]) -> None:
    """Serialise cap decisions per customer (PostgreSQL; SQLite is serialised already)."""
    ids = sorted(set(customer_ids))
    if not ids or not is_postgresql(session):
        return
    await session.execute(
        select(Customer.id)
        .where(Customer.id.in_(ids))
        .order_by(Customer.id)
        .with_for_update(key_share=True)
    )


async def _histories(
    session: AsyncSession, customer_ids: set[int], exclude: set[int], now: datetime,
    policy: Policy,
) -> dict[int, _History]:
    histories = {customer_id: _History() for customer_id in customer_ids}
    if not customer_ids or (not policy.caps and not policy.gaps):
        return histories
    d = Delivery.__table__.c
    rows = await session.execute(
        select(d.customer_id, d.reason, d.status, d.sent_at).where(
            one_of(session, d.customer_id, customer_ids),
            d.promotional.is_(True),
            none_of(session, d.id, exclude),
            or_(
                d.status == DeliveryStatus.SENDING,
                and_(d.status == DeliveryStatus.SENT, d.sent_at > now - policy.lookback),
            ),
        )
    )
    for customer_id, reason, status, sent_at in rows:
        moment = now if status == DeliveryStatus.SENDING or sent_at is None else sent_at
        histories[customer_id].slots.append((moment, reason))
    return histories


async def decide(
    session: AsyncSession, candidates: Sequence[Candidate], now: datetime, policy: Policy
) -> dict[int, Decision]:
    """Opt-out, quiet hours, caps and gaps for a batch of rows, in the order given.

    Call inside the claiming write transaction: it locks the customers first (see the
    module docstring), and the caller must turn every SEND into `sending` before commit —
    that is what takes the slot.
    """
    promotional = [c for c in candidates if c.promotional and c.customer_id is not None]
    await lock_customers(session, (c.customer_id for c in promotional))  # type: ignore[misc]
    histories = await _histories(
        session, {c.customer_id for c in promotional},  # type: ignore[misc]
        {c.id for c in candidates}, now, policy,
    )
    decisions: dict[int, Decision] = {}
    for candidate in candidates:
        if not candidate.promotional or candidate.customer_id is None:
            decisions[candidate.id] = Decision(Verdict.SEND)
            continue
        if not candidate.opted_in:
            decisions[candidate.id] = Decision(Verdict.OPTED_OUT, why="opted out")
            continue
        if policy.quiet is not None:
            until = policy.quiet.release_at(now, candidate.tz)
            if until is not None:
                decisions[candidate.id] = Decision(Verdict.DEFER, until, "quiet hours")
                continue
        history = histories[candidate.customer_id]
        broken = None if candidate.reason in policy.exempt_reasons else history.over(
            policy, candidate.reason, now
        )
        if broken is not None:
            why, until = broken
            verdict = Verdict.DEFER if policy.defer_over_cap else Verdict.CAPPED
            decisions[candidate.id] = Decision(verdict, until, why)
            continue
        history.slots.append((now, candidate.reason))
        decisions[candidate.id] = Decision(Verdict.SEND)
    return decisions
