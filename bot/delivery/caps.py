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

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db.models import Customer, Delivery, DeliveryStatus

_WINDOW = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")


def parse_window(text: str) -> timedelta:
    """`90m`, `24h`, `1d`, `2w` → a timedelta."""
    match = _WINDOW.match(text)
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"bad window {text!r}: use a positive number with s, m, h, d or w")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


@dataclass(frozen=True, slots=True)
class Cap:
    count: int
    window: timedelta


def parse_caps(items: Iterable[str]) -> tuple[Cap, ...]:
    """`["1/1d", "3/7d"]` → caps."""
    caps = []
    for item in items:
        count, sep, window = item.partition("/")
        if not sep or not count.strip().isdigit() or int(count) <= 0:
            raise ValueError(f"bad cap {item!r}: use count/window, e.g. 3/7d")
        caps.append(Cap(int(count), parse_window(window)))
    return tuple(caps)


def parse_gaps(items: Iterable[str]) -> dict[str, timedelta]:
    """`["comeback:14d"]` → {"comeback": 14 days}."""
    gaps = {}
    for item in items:
        reason, sep, window = item.rpartition(":")
        if not sep or not reason.strip():
            raise ValueError(f"bad gap {item!r}: use reason:window, e.g. comeback:14d")
        gaps[reason.strip()] = parse_window(window)
    return gaps


def _clock(text: str) -> time:
    match = _CLOCK.match(text)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError(f"bad time of day {text!r}: use HH:MM")
    return time(int(match.group(1)), int(match.group(2)))


def _at(day: date, moment: time, tz: ZoneInfo) -> datetime:
    """Wall-clock `moment` on `day` in `tz`, as UTC. A time skipped by a DST jump is read
    with the offset before the jump (02:30 on a spring-forward day → 03:30 local)."""
    return datetime.combine(day, moment, tzinfo=tz).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily local-time window (may span midnight) in which promotions wait."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours | None:
        """`"22:00-08:00"` → QuietHours; `""` → None (no quiet hours)."""
        if not text.strip():
            return None
        start, sep, end = text.partition("-")
        if not sep:
            raise ValueError(f"bad quiet hours {text!r}: use HH:MM-HH:MM")
        quiet = cls(_clock(start), _clock(end))
        if quiet.start == quiet.end:
            raise ValueError("quiet hours must not start and end at the same time")
        return quiet

    def _contains(self, local: time) -> bool:
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def release_at(self, now: datetime, tz: ZoneInfo) -> datetime | None:
        """When a message due `now` may go out: None if now is outside the quiet hours,
        else the next local `end` (e.g. 08:00 the next morning), in UTC.

        Computed on the local calendar, not by adding hours, so that the 23- and 25-hour
        days when the clocks change still end the night at 08:00 local time.
        """
        local = now.astimezone(tz)
        if not self._contains(local.time().replace(tzinfo=None)):
            return None
        day = local.date()
        if local.time().replace(tzinfo=None) >= self.end:
            day += timedelta(days=1)
        return _at(day, self.end, tz)


@dataclass(frozen=True, slots=True)
class Policy:
    caps: tuple[Cap, ...] = ()
    gaps: dict[str, timedelta] = field(default_factory=dict)
    exempt_reasons: frozenset[str] = frozenset()
    quiet: QuietHours | None = None
    defer_over_cap: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(
            caps=parse_caps(settings.caps),
            gaps=parse_gaps(settings.min_gaps),
            exempt_reasons=frozenset(settings.cap_exempt_reasons),
            quiet=QuietHours.parse(settings.quiet_hours),
            defer_over_cap=settings.cap_overflow == "defer",
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
    if not ids or session.get_bind().dialect.name != "postgresql":
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
            d.customer_id.in_(customer_ids),
            d.promotional.is_(True),
            d.id.not_in(exclude),
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
