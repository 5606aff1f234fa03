"""The sender's loop: claims due outbox rows, sends them within Telegram's limits, and has
them recorded. The steps are modules of their own: `claim`, `render`, `record` and
`transport`; the slots come from the deployment's send budget (`bot.cluster.send_budget`).

Claim: one write transaction per batch (`claim`), about two seconds of work at a time.

Send: a few workers (bounded in-flight), each waiting for a slot of the send budget, which
every process and the bot's replies share (one clock, one message per chat per second).
Results go to a recorder that writes them in small batches every ~50 ms, and renews the
leases of held rows meanwhile. A 429 pauses the budget, so every process, for
`retry_after`; the same row is retried.

Crash safety: a SIGKILL leaves claimed rows `sending`; when their lease ends, any sender
claims them again. Only rows that were sent but not yet recorded can be sent twice
(`sendMessage` has no idempotency key), so in-flight sends are few (`send_concurrency`)
and results are recorded within ~50 ms. Stop (cancel or `stop()`): no new claims, sends
in flight finish and are recorded, queued rows are released at once.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from datetime import timedelta

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

from bot.clock import Clock, utcnow
from bot.cluster.send_budget import MemoryBudget, SendBudget
from bot.config import Settings
from bot.db import Database
from bot.delivery.caps import Policy
from bot.delivery.sender.claim import Job, claim
from bot.delivery.sender.record import Kind, Outcome, record, renew_leases
from bot.delivery.sender.render import REDRAFT_AFTER, Buttons, Draft, Polls, Renderer, prepare
from bot.delivery.sender.transport import send_poll, send_text

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.05
# aiogram's aiohttp session keeps 100 connections: more sends at once would queue for a
# connection after their rate-limit slot, and bunch up on the wire.
MAX_CONCURRENCY = 100


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

    def count(self, outcome: Outcome) -> None:
        """Count a recorded outcome (429s are counted when they pause the workers)."""
        if outcome.kind is Kind.SENT:
            self.sent += 1
        elif outcome.kind is Kind.RETRY:
            self.retried += 1
        elif outcome.kind is Kind.FAILED:
            self.failed += 1
        elif outcome.kind is Kind.UNREACHABLE:
            self.unreachable += 1
        elif outcome.kind is Kind.RELEASE:
            self.released += 1


class Sender:
    """One instance's delivery worker; run several (processes or hosts) on PostgreSQL."""

    def __init__(
        self,
        db: Database,
        bot: Bot,
        settings: Settings,
        *,
        render: Renderer,
        buttons: Buttons | None = None,
        polls: Polls | None = None,
        clock: Clock = utcnow,
        rate: float | None = None,
        concurrency: int | None = None,
        batch: int | None = None,
        policy: Policy | None = None,
        budget: SendBudget | None = None,
    ) -> None:
        self.db = db
        self.bot = bot
        self.settings = settings
        self.render = render
        self.buttons = buttons
        self.polls = polls
        self.clock = clock
        self.rate = rate or settings.send.delivery_rate
        self.paid = settings.send.paid_broadcast_rate > 0
        self.concurrency = concurrency or settings.send.concurrency or min(
            MAX_CONCURRENCY, max(4, math.ceil(self.rate / 8))
        )
        # Claim about two seconds of work at a time: enough to keep the pipe full, little
        # enough that claimed rows wait briefly and a stop releases few.
        self.batch = batch or max(2 * self.concurrency, math.ceil(self.rate * 2))
        self.policy = policy or Policy.from_settings(settings.policy)
        self.lease = timedelta(seconds=settings.send.lease_seconds)
        # The deployment's (`promobot run` passes it); alone, this sender's own.
        self.budget = budget or MemoryBudget(self.rate)
        self.stats = Stats()
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
                    lease=self.lease, policy=self.policy, shop=self.settings.shop,
                )
            except Exception:
                log.exception("claiming outbox rows failed; retrying")
                await asyncio.sleep(self.settings.send.poll_seconds)
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
                    async with asyncio.timeout(self.settings.send.poll_seconds):
                        await self._wake.wait()
                except TimeoutError:
                    pass

    # --- sending ---
    async def _work(self) -> None:
        while True:
            job = await self._queue.get()
            await self._deliver(job)

    async def _deliver(self, job: Job) -> None:
        draft = self._prepare(job)  # before the turn: nothing slow between slot and wire
        while True:
            if isinstance(draft, Outcome):
                self._results.put_nowait(draft)
                return
            try:
                await self.budget.turn(job.chat_id)
            except asyncio.CancelledError:
                self._results.put_nowait(Outcome(job, Kind.RELEASE, self.clock()))
                raise
            except Exception:
                # The worker lives on; the row goes back for a later claim.
                log.exception("no slot for delivery %s; released", job.id)
                self._results.put_nowait(Outcome(job, Kind.RELEASE, self.clock()))
                return
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
            await self._pause(outcome.retry_after)

    async def _pause(self, seconds: float) -> None:
        """Telegram said 429: no process sends until `retry_after` has passed."""
        self.stats.rate_limited += 1
        resume = time.monotonic() + seconds
        if resume > self._resume_at:
            log.warning("Telegram asked to wait %.1f s; all sending paused", seconds)
            self._resume_at = resume  # and no claiming meanwhile
        try:
            await self.budget.pause(seconds)
        except Exception:
            log.exception("the send budget's store could not be paused")

    def _prepare(self, job: Job) -> Draft | Outcome:
        """The draft to send (`render.prepare`); an Outcome (failed) if the text cannot
        be made."""
        now = self.clock()
        try:
            return prepare(job, self.render, now, self.buttons, self.polls)
        except Exception as error:
            log.exception("delivery %s could not be rendered", job.id)
            return Outcome(job, Kind.FAILED, now, error=f"render: {type(error).__name__}: "
                           f"{error}")

    async def _attempt(self, job: Job, draft: Draft) -> Outcome:
        """One sendMessage (or sendPoll); never raises (the outcome says what happened)."""
        sent_at = self.clock()
        self.stats.in_flight += 1
        self.stats.max_in_flight = max(self.stats.max_in_flight, self.stats.in_flight)
        poll_id = None
        try:
            if draft.poll is not None:
                message_id, poll_id = await send_poll(
                    self.bot, job.chat_id, draft.poll, allow_paid_broadcast=self.paid,
                    request_timeout=self.settings.send.timeout_seconds,
                )
            else:
                message_id = await send_text(
                    self.bot, job.chat_id, draft.text, reply_markup=draft.reply_markup,
                    request_timeout=self.settings.send.timeout_seconds,
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
                       expires_at=draft.expires_at, poll_id=poll_id)

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
                    await record(session, batch, self.settings.send)
                break
            except Exception:
                log.exception("recording %d delivery results failed; retrying", len(batch))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        for outcome in batch:
            self._held.pop(outcome.job.id, None)
            self.stats.count(outcome)
        self._check_idle()

    async def _renew(self) -> None:
        """Push the lease of every held row forward, so that a long 429 pause or a deep
        queue does not let another instance take rows this one is about to send."""
        if not self._held:
            return
        new_lease = self.clock() + self.lease
        held = list(self._held.values())
        try:
            async with self.db.session() as session, session.begin():
                await renew_leases(session, held, new_lease)
        except Exception:
            log.exception("renewing leases failed")
            return
        # Only the rows this renewal held: one claimed meanwhile keeps its claim's lease,
        # which is what its row says, and its outcome is fenced by it.
        for job in held:
            job.lease = new_lease
