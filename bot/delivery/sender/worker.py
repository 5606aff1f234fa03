"""The sender: claims due outbox rows, sends them within Telegram's limits, records results.

Claim (one write transaction per batch): due `pending` rows, and `sending` rows whose
lease has run out (their sender died), are locked with `FOR UPDATE SKIP LOCKED` on
PostgreSQL — two instances never get the same row — and under SQLite's IMMEDIATE write
lock. In the same transaction opt-out, quiet hours and caps are decided (`caps.decide`)
and the rows to send become `sending` with `lease_until` = now + lease. That lease value
is also the claim's fencing token: results and renewals only touch a row whose lease is
still ours, so a sender that stalled past its lease cannot overwrite another's claim.

Send: a few workers (bounded in-flight), each waiting for its chat's one-second spacing
and the global pacer (`ratelimit`). Results go to a recorder that writes them in small
batches every ~50 ms, and renews the leases of held rows meanwhile.

Outcomes:
- ok → `sent` (message id, sent_at); a personal code counting its days from delivery gets
  `expires_at` — the same moment the message showed the shopper.
- 429 → every worker pauses for `retry_after`; the same row is retried (no attempt used).
- 403 → `unreachable`, the Telegram account marked blocked, no retry.
- 400 (e.g. "chat not found") → `failed`, final.
- 5xx, network errors, timeouts → retried after exponential backoff, `send_max_attempts`
  in all, then `failed`.
Whenever a message ends without reaching the shopper (failed, unreachable, capped,
opted out), its personal, unused code is given back: revoked with a reason, so that the
shopper's `/codes` does not list a code nobody told them about and a later job may issue
a fresh one. A code that another message already delivered (a reminder) is left alone.

Crash safety: a SIGKILL leaves claimed rows `sending`; when their lease ends, any sender
claims them again. Only rows that were sent but not yet recorded can be sent twice
(`sendMessage` has no idempotency key), so in-flight sends are few (`send_concurrency`)
and results are recorded within ~50 ms. Stop (cancel or `stop()`): no new claims, sends
in flight finish and are recorded, queued rows are released at once.
"""

from __future__ import annotations

import asyncio
import html
import importlib
import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import Bot
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from sqlalchemy import bindparam, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app.process import calm_garbage_collector
from bot.clock import Clock, utcnow
from bot.config import Settings
from bot.db import Database
from bot.db.models import (
    CodeStatus,
    Customer,
    Delivery,
    DeliveryStatus,
    PromoCode,
    TelegramAccount,
)
from bot.delivery.caps import Candidate, Decision, Policy, Verdict, decide
from bot.delivery.sender.pacing import ChatSpacing, Pacer
from bot.delivery.sender.transport import send_text
from bot.i18n import pick_locale, zone
from bot.texts.wording import describe

log = logging.getLogger(__name__)

deliveries = Delivery.__table__
codes = PromoCode.__table__
accounts = TelegramAccount.__table__

FLUSH_SECONDS = 0.05
# aiogram's aiohttp session keeps 100 connections: more sends at once would queue for a
# connection after their rate-limit slot, and bunch up on the wire.
MAX_CONCURRENCY = 100
# A text waiting longer than this for its turn (a long 429 pause) is rendered again, so
# that the deadline it shows stays the one the code gets from its delivery.
REDRAFT_AFTER = timedelta(seconds=30)
ERROR_LIMIT = 500
Renderer = Callable[..., str | None]


@dataclass(slots=True)
class Job:
    """A claimed row, with everything needed to send it without the database."""

    delivery: Delivery  # detached: for rendering
    code: PromoCode | None  # detached
    chat_id: int
    account_id: int | None
    locale: str
    tz: ZoneInfo
    lease: datetime  # the claim's fencing token

    @property
    def id(self) -> int:
        return self.delivery.id

    @property
    def personal_code(self) -> bool:
        return self.code is not None and self.code.customer_id is not None and (
            self.code.customer_id == self.delivery.customer_id
        )


@dataclass(frozen=True, slots=True)
class Draft:
    """A rendered message. `expires_at` is the deadline its text shows (counted from
    `prepared_at`, just before the send); the code gets exactly that deadline."""

    text: str
    prepared_at: datetime
    expires_at: datetime | None


class Kind(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    UNREACHABLE = "unreachable"
    RELEASE = "release"
    RATE_LIMITED = "rate_limited"


@dataclass(slots=True)
class Outcome:
    job: Job
    kind: Kind
    at: datetime
    message_id: int | None = None
    error: str | None = None
    retry_after: float = 0.0
    expires_at: datetime | None = None


@dataclass(slots=True)
class Stats:
    """Counters since start, for logs and benchmarks."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    unreachable: int = 0
    rate_limited: int = 0
    released: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    first_send: float | None = None
    last_send: float | None = None


# --- claiming --------------------------------------------------------------------------


async def _claimable(session: AsyncSession, now: datetime, limit: int) -> list[int]:
    """Ids of rows whose lease ran out (their sender died), then of due pending rows.

    Two statements rather than one OR: each walks `ix_deliveries_status_due` in order
    and stops at `limit`, where an OR would sort every due row of a million-row queue.
    """
    d = Delivery
    expired = list(await session.scalars(
        select(d.id)
        .where(d.status == DeliveryStatus.SENDING, d.lease_until < now)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ))
    if len(expired) >= limit:
        return expired
    due = await session.scalars(
        select(d.id)
        .where(d.status == DeliveryStatus.PENDING, d.due_at <= now)
        .order_by(d.due_at)
        .limit(limit - len(expired))
        .with_for_update(skip_locked=True)
    )
    return expired + list(due)


_LIVE_STATES = (DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.SENT)


async def give_back_codes(
    session: AsyncSession, rows: Sequence[tuple[int, int, int]], why: str, now: datetime
) -> None:
    """Revoke the personal, unused codes of messages that never reached their shopper.

    `rows` are (delivery id, code id, customer id). A code that some other message still
    carries (queued, being sent, or delivered) is kept.
    """
    if not rows:
        return
    other = Delivery.__table__.alias("other")
    statement = (
        update(codes)
        .where(
            codes.c.id == bindparam("b_code"),
            codes.c.customer_id == bindparam("b_customer"),
            codes.c.status == CodeStatus.ACTIVE,
            codes.c.used_count == 0,
            ~exists().where(
                other.c.code_id == codes.c.id,
                other.c.id != bindparam("b_delivery"),
                # OR of plain comparisons: an IN list would be an "expanding"
                # parameter, which executemany refuses.
                or_(*(other.c.status == status for status in _LIVE_STATES)),
            ),
        )
        .values(status=CodeStatus.REVOKED, revoked_at=now, revoke_reason=why[:200])
    )
    await session.execute(
        statement,
        [{"b_delivery": d, "b_code": c, "b_customer": u} for d, c, u in rows],
    )


async def _finish(
    session: AsyncSession, rows: Sequence[tuple[Delivery, str]], status: DeliveryStatus,
    now: datetime,
) -> None:
    """Final states decided at claim time (no send): capped, cancelled, unreachable."""
    if not rows:
        return
    await session.execute(
        update(deliveries)
        .where(deliveries.c.id == bindparam("b_id"))
        .values(status=status, error=bindparam("b_error"), lease_until=None),
        [{"b_id": row.id, "b_error": why[:ERROR_LIMIT]} for row, why in rows],
    )
    await give_back_codes(
        session,
        [(row.id, row.code_id, row.customer_id) for row, _ in rows
         if row.code_id is not None and row.customer_id is not None],
        f"not delivered: {status}",
        now,
    )


async def claim(
    db: Database,
    *,
    now: datetime,
    limit: int,
    lease: timedelta,
    policy: Policy,
    settings: Settings,
) -> list[Job]:
    """Claim up to `limit` due rows for sending; rows held back are settled on the way."""
    lease_until = now + lease
    async with db.session() as session, session.begin():
        ids = await _claimable(session, now, limit)
        if not ids:
            return []
        ta = TelegramAccount
        rows = (
            await session.execute(
                select(
                    Delivery, Customer.timezone, Customer.marketing_opt_in, Customer.locale,
                    ta.id, ta.chat_id, ta.is_blocked, ta.locale, ta.language_code,
                )
                .outerjoin(Customer, Customer.id == Delivery.customer_id)
                .outerjoin(ta, ta.customer_id == Delivery.customer_id)
                .where(Delivery.id.in_(ids))
                .order_by(Delivery.due_at, Delivery.id)
            )
        ).all()

        unreachable: list[tuple[Delivery, str]] = []
        targets: dict[int, tuple[int, int | None, str, ZoneInfo]] = {}
        candidates: list[Candidate] = []
        for (row, tz_name, opted_in, c_locale, account_id, account_chat, blocked,
             a_locale, language) in rows:
            chat = row.chat_id or account_chat or account_id
            if chat is None:
                unreachable.append((row, "no linked Telegram account"))
                continue
            if blocked and row.chat_id is None:
                unreachable.append((row, "the shopper blocked the bot"))
                continue
            tz = zone(tz_name, settings.timezone)
            locale = pick_locale(a_locale, c_locale, language, default=settings.default_locale)
            targets[row.id] = (chat, account_id, locale, tz)
            candidates.append(Candidate(
                row.id, row.customer_id, row.reason, row.promotional,
                opted_in if opted_in is not None else True, tz,
            ))

        decisions = await decide(session, candidates, now, policy)
        by_id = {row.id: row for row, *_ in rows}
        send = [i for i, d in decisions.items() if d.verdict is Verdict.SEND]
        deferred = [(i, d) for i, d in decisions.items() if d.verdict is Verdict.DEFER]
        capped = [(by_id[i], d.why) for i, d in decisions.items() if d.verdict is Verdict.CAPPED]
        opted_out = [(by_id[i], d.why) for i, d in decisions.items()
                     if d.verdict is Verdict.OPTED_OUT]

        if send:
            await session.execute(
                update(deliveries)
                .where(deliveries.c.id.in_(send))
                .values(status=DeliveryStatus.SENDING, lease_until=lease_until)
            )
        await _defer(session, deferred)
        await _finish(session, capped, DeliveryStatus.CAPPED, now)
        await _finish(session, opted_out, DeliveryStatus.CANCELLED, now)
        await _finish(session, unreachable, DeliveryStatus.UNREACHABLE, now)

        code_ids = {by_id[i].code_id for i in send if by_id[i].code_id is not None}
        loaded = {
            code.id: code
            for code in await session.scalars(select(PromoCode).where(PromoCode.id.in_(code_ids)))
        } if code_ids else {}

    jobs = []
    for delivery_id in send:
        row = by_id[delivery_id]
        chat, account_id, locale, tz = targets[delivery_id]
        code = loaded.get(row.code_id) if row.code_id is not None else None
        jobs.append(Job(row, code, int(chat), account_id, locale, tz, lease_until))
    return jobs


async def _defer(session: AsyncSession, deferred: Sequence[tuple[int, Decision]]) -> None:
    if not deferred:
        return
    await session.execute(
        update(deliveries)
        .where(deliveries.c.id == bindparam("b_id"))
        .values(
            status=DeliveryStatus.PENDING, due_at=bindparam("b_due"), lease_until=None,
            error=bindparam("b_error"),
        ),
        [{"b_id": i, "b_due": d.until, "b_error": f"deferred: {d.why}"} for i, d in deferred],
    )


# --- rendering -------------------------------------------------------------------------


def fallback_text(delivery: Delivery, code: PromoCode | None, locale: str, tz: ZoneInfo) -> str:
    """Plain wording when no `render_notice` knows the reason: the payload's text and
    the code, worded by `bot.texts.wording.describe`."""
    lines = []
    text = (delivery.payload or {}).get("text")
    if text:
        lines.append(html.escape(str(text)))
    if code is not None:
        lines.append(f"<code>{html.escape(code.code)}</code>")
        lines += [f"• {html.escape(line)}" for line in describe(code, locale, tz)]
    return "\n".join(lines) or html.escape(delivery.reason)


def _notice_renderer() -> Renderer | None:
    try:
        module = importlib.import_module("bot.texts.notices")
    except ModuleNotFoundError as error:
        if error.name != "bot.texts.notices":
            raise
        return None
    return getattr(module, "render_notice", None)


# --- the worker ------------------------------------------------------------------------





class Sender:
    """One instance's delivery worker; run several (processes or hosts) on PostgreSQL."""

    def __init__(
        self,
        db: Database,
        bot: Bot,
        settings: Settings,
        *,
        clock: Clock = utcnow,
        rate: float | None = None,
        concurrency: int | None = None,
        batch: int | None = None,
        policy: Policy | None = None,
    ) -> None:
        self.db = db
        self.bot = bot
        self.settings = settings
        self.clock = clock
        self.rate = rate or settings.delivery_rate
        self.paid = settings.paid_broadcast_rate > 0
        self.concurrency = concurrency or settings.send_concurrency or min(
            MAX_CONCURRENCY, max(4, math.ceil(self.rate / 8))
        )
        # Claim about two seconds of work at a time: enough to keep the pipe full, little
        # enough that claimed rows wait briefly and a stop releases few.
        self.batch = batch or max(2 * self.concurrency, math.ceil(self.rate * 2))
        self.policy = policy or Policy.from_settings(settings)
        self.lease = timedelta(seconds=settings.send_lease_seconds)
        self.pacer = Pacer(self.rate)
        self.chats = ChatSpacing()
        self.stats = Stats()
        self._render_notice = _notice_renderer()
        self._queue: asyncio.Queue[Job] = asyncio.Queue()
        self._results: asyncio.Queue[Outcome | None] = asyncio.Queue()
        self._held: dict[int, Job] = {}
        self._resume_at = 0.0
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._drained = False  # the last claim found nothing due
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()

    # --- control ---
    def wake(self) -> None:
        """Look for due rows now (e.g. right after a campaign queued its messages)."""
        self._wake.set()

    async def start(self) -> None:
        """Start in the background (the `bot.app.run` service protocol)."""
        if self._task is None or self._task.done():
            calm_garbage_collector()
            self._task = asyncio.create_task(self.run(), name="sender")

    async def stop(self) -> None:
        """Stop claiming, let in-flight sends finish and be recorded, release the rest."""
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None

    @property
    def idle(self) -> bool:
        return self._drained and not self._held and self._queue.empty()

    async def run(self) -> None:
        """Send until `stop()` or cancellation; then finish in-flight sends and release."""
        self._stop.clear()
        recorder = asyncio.create_task(self._record_loop(), name="sender-recorder")
        workers = [
            asyncio.create_task(self._work(), name=f"sender-worker-{n}")
            for n in range(self.concurrency)
        ]
        feeder = asyncio.create_task(self._feed(), name="sender-feeder")
        try:
            await self._stop.wait()
        finally:
            feeder.cancel()
            await asyncio.gather(feeder, return_exceptions=True)
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            while not self._queue.empty():
                job = self._queue.get_nowait()
                self._results.put_nowait(Outcome(job, Kind.RELEASE, self.clock()))
            self._results.put_nowait(None)
            await recorder

    async def run_until_idle(self) -> None:
        """Run until nothing is due and nothing is held (tests, `campaign run --wait`);
        wrap it in `asyncio.timeout` to bound it."""
        self._idle.clear()
        await self.start()
        try:
            await self._idle.wait()
        finally:
            await self.stop()

    def _check_idle(self) -> None:
        if self.idle:
            self._idle.set()

    # --- claiming ---
    async def _feed(self) -> None:
        low_water = max(self.concurrency, self.batch // 2)
        while True:
            if self._queue.qsize() >= low_water or time.monotonic() < self._resume_at:
                await asyncio.sleep(FLUSH_SECONDS)
                continue
            try:
                jobs = await claim(
                    self.db, now=self.clock(), limit=self.batch - self._queue.qsize(),
                    lease=self.lease, policy=self.policy, settings=self.settings,
                )
            except Exception:
                log.exception("claiming outbox rows failed; retrying")
                await asyncio.sleep(self.settings.send_poll_seconds)
                continue
            for job in jobs:
                self._held[job.id] = job
                self._queue.put_nowait(job)
            self.stats.claimed += len(jobs)
            self._drained = not jobs
            if not jobs:
                self._check_idle()
                self._wake.clear()
                try:
                    async with asyncio.timeout(self.settings.send_poll_seconds):
                        await self._wake.wait()
                except TimeoutError:
                    pass

    # --- sending ---
    async def _work(self) -> None:
        while True:
            job = await self._queue.get()
            await self._deliver(job)

    async def _wait_turn(self, chat_id: int) -> None:
        while True:
            pause = self._resume_at - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
                continue
            await self.chats.wait(chat_id)
            await self.pacer.acquire()
            if time.monotonic() < self._resume_at:
                continue  # a 429 came while we queued for a slot
            if self.chats.take(chat_id):
                return

    async def _deliver(self, job: Job) -> None:
        draft = self._prepare(job)  # before the turn: nothing slow between slot and wire
        while True:
            if isinstance(draft, Outcome):
                self._results.put_nowait(draft)
                return
            try:
                await self._wait_turn(job.chat_id)
            except asyncio.CancelledError:
                self._results.put_nowait(Outcome(job, Kind.RELEASE, self.clock()))
                raise
            if self.clock() - draft.prepared_at > REDRAFT_AFTER:  # a long 429 pause
                draft = self._prepare(job)
                if isinstance(draft, Outcome):
                    continue
            attempt = asyncio.ensure_future(self._attempt(job, draft))
            try:
                outcome = await asyncio.shield(attempt)
            except asyncio.CancelledError:
                outcome = await attempt  # the request is out: wait for it and record it
                if outcome.kind is Kind.RATE_LIMITED:
                    outcome.kind = Kind.RELEASE
                self._results.put_nowait(outcome)
                raise
            if outcome.kind is not Kind.RATE_LIMITED:
                self._results.put_nowait(outcome)
                return
            self._pause(outcome.retry_after)

    def _pause(self, seconds: float) -> None:
        """Telegram said 429: nobody sends until `retry_after` has passed."""
        self.stats.rate_limited += 1
        resume = time.monotonic() + seconds
        if resume > self._resume_at:
            log.warning("Telegram asked to wait %.1f s; all sending paused", seconds)
            self._resume_at = resume
            self.pacer.hold(resume)

    def _render(self, job: Job) -> str:
        text = None
        if self._render_notice is not None:
            try:
                text = self._render_notice(
                    job.delivery, code=job.code, locale=job.locale, tz=job.tz
                )
            except ValueError:  # a reason it has no wording for (e.g. a manager's code)
                text = None
        return text or fallback_text(job.delivery, job.code, job.locale, job.tz)

    def _prepare(self, job: Job) -> Draft | Outcome:
        """The text to send, and the deadline it shows for a code that counts its days
        from delivery; an Outcome (failed) if the text cannot be made."""
        now = self.clock()
        expires_at = None
        code = job.code
        if job.personal_code and code is not None and code.expires_at is None and (
            code.valid_days
        ):
            expires_at = now + timedelta(days=code.valid_days)
            code.expires_at = expires_at
        try:
            return Draft(self._render(job), now, expires_at)
        except Exception as error:
            log.exception("delivery %s could not be rendered", job.id)
            return Outcome(job, Kind.FAILED, now, error=f"render: {type(error).__name__}: "
                           f"{error}")
        finally:
            if code is not None and expires_at is not None:
                code.expires_at = None

    async def _attempt(self, job: Job, draft: Draft) -> Outcome:
        """One sendMessage; never raises (the outcome says what happened)."""
        sent_at = self.clock()
        self.stats.in_flight += 1
        self.stats.max_in_flight = max(self.stats.max_in_flight, self.stats.in_flight)
        try:
            message_id = await send_text(
                self.bot, job.chat_id, draft.text,
                request_timeout=self.settings.send_timeout_seconds,
                allow_paid_broadcast=self.paid,
            )
        except TelegramRetryAfter as error:
            return Outcome(job, Kind.RATE_LIMITED, self.clock(), retry_after=error.retry_after)
        except TelegramForbiddenError as error:
            return Outcome(job, Kind.UNREACHABLE, self.clock(), error=error.message)
        except TelegramBadRequest as error:
            return Outcome(job, Kind.FAILED, self.clock(), error=error.message)
        except (TelegramServerError, TelegramNetworkError, ClientDecodeError,
                TelegramAPIError) as error:
            return Outcome(job, Kind.RETRY, self.clock(), error=f"{type(error).__name__}: "
                           f"{getattr(error, 'message', error)}")
        except Exception as error:
            log.exception("delivery %s could not be sent", job.id)
            return Outcome(job, Kind.FAILED, self.clock(), error=f"{type(error).__name__}: "
                           f"{error}")
        finally:
            self.stats.in_flight -= 1
        now = time.monotonic()
        self.stats.first_send = self.stats.first_send or now
        self.stats.last_send = now
        return Outcome(job, Kind.SENT, sent_at, message_id=message_id,
                       expires_at=draft.expires_at)

    # --- recording ---
    async def _record_loop(self) -> None:
        renew_every = max(self.lease.total_seconds() / 3, FLUSH_SECONDS)
        next_renewal = time.monotonic() + renew_every
        done = False
        while not done:
            batch: list[Outcome] = []
            try:
                async with asyncio.timeout(max(0.0, next_renewal - time.monotonic())):
                    item = await self._results.get()
                    if item is None:
                        done = True
                    else:
                        batch.append(item)
            except TimeoutError:
                pass
            if batch:
                await asyncio.sleep(FLUSH_SECONDS)  # let a few more results arrive
            while not self._results.empty():
                item = self._results.get_nowait()
                if item is None:
                    done = True
                else:
                    batch.append(item)
            if batch:
                await self._write(batch)
            if time.monotonic() >= next_renewal:
                await self._renew()
                next_renewal = time.monotonic() + renew_every

    async def _write(self, batch: list[Outcome]) -> None:
        """Record outcomes; on a database error keep trying (the rows stay leased)."""
        delay = 0.1
        while True:
            try:
                async with self.db.session() as session, session.begin():
                    await record(session, batch, self.settings)
                break
            except Exception:
                log.exception("recording %d delivery results failed; retrying", len(batch))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        for outcome in batch:
            self._held.pop(outcome.job.id, None)
            self._count(outcome)
        self._check_idle()

    def _count(self, outcome: Outcome) -> None:
        stats = self.stats
        if outcome.kind is Kind.SENT:
            stats.sent += 1
        elif outcome.kind is Kind.RETRY:
            stats.retried += 1
        elif outcome.kind is Kind.FAILED:
            stats.failed += 1
        elif outcome.kind is Kind.UNREACHABLE:
            stats.unreachable += 1
        elif outcome.kind is Kind.RELEASE:
            stats.released += 1

    async def _renew(self) -> None:
        """Push the lease of every held row forward, so that a long 429 pause or a deep
        queue does not let another instance take rows this one is about to send."""
        if not self._held:
            return
        new_lease = self.clock() + self.lease
        by_lease: dict[datetime, list[int]] = {}
        for job in self._held.values():
            by_lease.setdefault(job.lease, []).append(job.id)
        try:
            async with self.db.session() as session, session.begin():
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
        except Exception:
            log.exception("renewing leases failed")
            return
        for job in self._held.values():
            job.lease = new_lease


def backoff(attempts: int, settings: Settings) -> timedelta:
    """Exponential, with ±20 % jitter so that a failed burst does not retry in step."""
    seconds = min(
        settings.send_backoff_max_seconds, settings.send_backoff_seconds * 2 ** (attempts - 1)
    )
    return timedelta(seconds=seconds * random.uniform(0.8, 1.2))


@dataclass(slots=True)
class _Writes:
    sent: list[dict[str, Any]] = field(default_factory=list)
    expiries: list[dict[str, Any]] = field(default_factory=list)
    settled: list[dict[str, Any]] = field(default_factory=list)
    blocked: list[dict[str, Any]] = field(default_factory=list)
    give_back: dict[str, list[tuple[int, int, int]]] = field(default_factory=dict)


def _plan(batch: Sequence[Outcome], settings: Settings) -> _Writes:
    writes = _Writes()
    for outcome in batch:
        job, row = outcome.job, outcome.job.delivery
        if outcome.kind is Kind.SENT:
            writes.sent.append({"b_id": job.id, "b_at": outcome.at, "b_mid": outcome.message_id})
            if outcome.expires_at is not None:
                writes.expiries.append({"b_code": row.code_id, "b_exp": outcome.expires_at})
            continue
        attempts = row.attempts + (0 if outcome.kind is Kind.RELEASE else 1)
        status, due = DeliveryStatus.PENDING, row.due_at
        if outcome.kind is Kind.RETRY:
            if attempts >= settings.send_max_attempts:
                status = DeliveryStatus.FAILED
            else:
                due = outcome.at + backoff(attempts, settings)
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


async def record(session: AsyncSession, batch: Sequence[Outcome], settings: Settings) -> None:
    """Write a batch of outcomes in the caller's transaction."""
    writes = _plan(batch, settings)
    c = deliveries.c
    if writes.sent:
        # Recorded even if the lease was lost meanwhile: the message did go out.
        await session.execute(
            update(deliveries)
            .where(c.id == bindparam("b_id"))
            .values(
                status=DeliveryStatus.SENT, sent_at=bindparam("b_at"),
                message_id=bindparam("b_mid"), lease_until=None, error=None,
                attempts=c.attempts + 1,
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
