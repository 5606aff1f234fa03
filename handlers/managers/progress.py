"""The managers' live progress message: after `/campaign <id> start|resume` (or its
buttons) the campaign runs in the background (`launch`) and the bot sends "chosen, sent /
queued, failures, ETA", editing it as the run chooses and queues and as delivery goes,
until the run is over and nothing is pending, the campaign is paused or stopped, or
`lifetime` runs out; then a final edit with the totals (or why nothing was sent).

Each message is an asyncio task owned by one `LiveProgress`, kept in the dispatcher's
workflow data (`LiveProgress.of(dispatcher)`) and cancelled on the dispatcher's shutdown.
A task reads the numbers with a fresh session each poll and speaks the manager's
language as captured when it started (there is no current update in the background).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramRetryAfter
from babel.numbers import format_decimal

from bot.clock import Clock
from bot.config import Settings
from bot.db import Database
from bot.db.models import CampaignStatus
from bot.delivery.progress import Progress, progress
from bot.i18n import format_span, gettext
from bot.promo.campaigns.admin import counts
from bot.promo.campaigns.builtin import campaign_status
from bot.promo.campaigns.context import RunResult
from bot.promo.campaigns.launcher import FAILED, LAUNCHER, Launcher

log = logging.getLogger(__name__)

KEY = "live_progress"


@dataclass(frozen=True, slots=True)
class Snapshot:
    status: str
    numbers: Progress
    assigned: int = 0  # customers the campaign has chosen, the control group included
    holdout: int = 0
    running: bool = False  # a run of this process is still choosing and queueing
    result: RunResult | None = None  # this process's last finished run, if any


def _n(number: int, locale: str) -> str:
    return format_decimal(number, locale=locale)


def audience_line(seen: Snapshot, locale: str) -> str:
    return gettext("👥 Chosen: {assigned}, of them {holdout} in the control group "
                   "(they get no message)", locale).format(
        assigned=_n(seen.assigned, locale), holdout=_n(seen.holdout, locale))


def running_text(campaign_id: int, seen: Snapshot, locale: str) -> str:
    p = seen.numbers
    head = (gettext("📤 Campaign #{id}: choosing the audience, issuing codes and queueing "
                    "messages…", locale) if seen.running
            else gettext("📤 Campaign #{id}: sending", locale))
    lines = [head.format(id=campaign_id), audience_line(seen, locale),
             gettext("✉️ Messages queued: {total}; sent {sent}, failed {failed}, waiting "
                     "{pending}", locale).format(
                 total=_n(p.total, locale), sent=_n(p.sent, locale),
                 failed=_n(p.failed, locale), pending=_n(p.pending, locale))]
    if p.eta is not None:
        lines.append(gettext("Time to send the rest: {eta}", locale).format(
            eta=format_span(p.eta, locale)))
    return "\n".join(lines)


def nobody_text(campaign_id: int, result: RunResult | None, locale: str) -> str:
    """A run that queued nothing, and why: whom the segment holds and who was skipped."""
    text = gettext("✅ Campaign #{id}: nobody to send to now. Whom it would reach: "
                   "/preview {id}", locale).format(id=campaign_id)
    if result is None or not result.audience:
        return text
    if result.no_category:
        text += "\n" + gettext("Nothing to suggest to them (a \"new category\" campaign): "
                               "{n}", locale).format(n=_n(result.no_category, locale))
    return text + "\n" + gettext(
        "In the segment: {audience}; no consent to promotions: {opted_out}; not linked to "
        "Telegram: {no_telegram}; blocked the bot: {blocked}; their loyalty level leaves "
        "the offer no room: {no_room}", locale).format(
        audience=_n(result.audience, locale), opted_out=_n(result.opted_out, locale),
        no_telegram=_n(result.no_telegram, locale), blocked=_n(result.blocked, locale),
        no_room=_n(result.no_room, locale))


def final_text(campaign_id: int, seen: Snapshot, locale: str, *, expired: bool) -> str:
    p = seen.numbers
    outcome = seen.result.status if seen.result is not None else "done"
    if seen.status == CampaignStatus.PAUSED:
        text = gettext("⏸ Campaign #{id} paused: {sent} sent, {failed} failed, "
                       "{pending} waiting", locale)
    elif seen.status == CampaignStatus.STOPPED:
        text = gettext("⏹ Campaign #{id} stopped: {sent} sent, {failed} failed", locale)
    elif expired and (p.pending or seen.running):
        text = gettext("📤 Campaign #{id}: {sent} sent, {failed} failed, {pending} waiting. "
                       "This message is no longer updated: /campaign {id}", locale)
    elif outcome == "refused":
        text = gettext("⛔ Campaign #{id}: nothing was sent, an offer is above the margin "
                       "ceiling. The numbers: /preview {id}", locale)
    elif outcome == FAILED:
        text = gettext("⚠️ Campaign #{id}: preparing the messages failed (the error is in "
                       "the log); {sent} sent. To try again, pause and resume it.", locale)
    elif not p.total:
        return nobody_text(campaign_id, seen.result, locale)
    else:
        text = gettext("✅ Campaign #{id} done: {sent} sent, {failed} failed", locale)
    text = text.format(id=campaign_id, sent=_n(p.sent, locale), failed=_n(p.failed, locale),
                       pending=_n(p.pending, locale))
    return text + "\n" + audience_line(seen, locale) if seen.assigned else text


def finished(seen: Snapshot | None) -> bool:
    """Deleted, paused or stopped; or the run is over and no message is left to send."""
    if seen is None:
        return True
    return seen.status != CampaignStatus.ACTIVE or (not seen.running and seen.numbers.done)


@dataclass
class LiveProgress:
    """The running progress messages of one dispatcher."""

    db: Database
    settings: Settings
    clock: Clock
    interval: float = 3.0  # seconds between polls
    min_gap: float = 0.35  # never edit one message more often than this
    lifetime: float = 6 * 3600.0  # then a last edit, and the message stays as it is
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep
    # Whose runs it follows: "choosing…" until the run ends, then its outcome.
    launcher: Launcher | None = None
    tasks: dict[tuple[int, int], asyncio.Task[None]] = field(default_factory=dict)

    @classmethod
    def of(cls, dispatcher: Dispatcher) -> LiveProgress:
        """The dispatcher's own, made on first use and closed on its shutdown; it follows
        the runs of the dispatcher's launcher."""
        live = dispatcher.workflow_data.get(KEY)
        if live is None:
            live = cls(dispatcher["db"], dispatcher["settings"], dispatcher["clock"])
            dispatcher[KEY] = live
        if live.launcher is None:
            live.launcher = dispatcher.workflow_data.get(LAUNCHER)
        if not live._registered:
            dispatcher.shutdown.register(live.close)
            live._registered = True
        return live

    def __post_init__(self) -> None:
        self._registered = False

    def watch(self, bot: Bot, chat_id: int, campaign_id: int, locale: str) -> None:
        """Start a progress message in `chat_id`; one per chat and campaign (a newer one
        replaces the older)."""
        key = (chat_id, campaign_id)
        old = self.tasks.pop(key, None)
        if old is not None:
            old.cancel()
        task = asyncio.create_task(self._run(bot, chat_id, campaign_id, locale),
                                   name=f"progress:{campaign_id}:{chat_id}")
        self.tasks[key] = task
        task.add_done_callback(lambda done: self._forget(key, done))

    def _forget(self, key: tuple[int, int], task: asyncio.Task[None]) -> None:
        if self.tasks.get(key) is task:
            del self.tasks[key]

    async def close(self) -> None:
        """Cancel every progress message (at shutdown)."""
        tasks = list(self.tasks.values())
        self.tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _read(self, campaign_id: int) -> Snapshot | None:
        # Whether the run is over is read first: its last batch is then in the counts.
        launcher = self.launcher
        running = launcher is not None and launcher.running(campaign_id)
        result = launcher.results.get(campaign_id) if launcher is not None else None
        async with self.db.read_session() as session:
            status = await campaign_status(session, campaign_id)
            if status is None:
                return None
            numbers = await progress(session, campaign_id, now=self.clock(),
                                     rate=self.settings.send.delivery_rate)
            found = (await counts(session, [campaign_id]))[campaign_id]
        return Snapshot(str(status), numbers, found.assigned, found.holdout, running, result)

    async def _run(self, bot: Bot, chat_id: int, campaign_id: int, locale: str) -> None:
        try:
            await self._follow(bot, chat_id, campaign_id, locale)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("progress message for campaign %s failed", campaign_id)

    async def _follow(self, bot: Bot, chat_id: int, campaign_id: int, locale: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.lifetime
        seen = await self._read(campaign_id)
        if seen is None:
            return
        shown = running_text(campaign_id, seen, locale)
        try:
            message = await bot.send_message(chat_id, shown)
        except TelegramAPIError as error:
            log.warning("cannot send the progress of campaign %s: %s", campaign_id, error)
            return
        edited = loop.time()
        last = seen
        while not finished(last) and loop.time() < deadline:
            await self.sleep(self.interval)
            try:
                current = await self._read(campaign_id)
            except Exception:  # the database hiccuped: try again next time
                log.warning("reading the progress of campaign %s failed", campaign_id,
                            exc_info=True)
                continue
            if current is None:
                return
            last = current
            if finished(last):
                break
            text = running_text(campaign_id, last, locale)
            if text == shown or loop.time() - edited < self.min_gap:
                continue
            outcome = await self._edit(bot, chat_id, message.message_id, text)
            if outcome is None:
                return
            if outcome:
                shown, edited = text, loop.time()
        if loop.time() - edited < self.min_gap:
            await self.sleep(self.min_gap - (loop.time() - edited))
        await self._edit(bot, chat_id, message.message_id,
                         final_text(campaign_id, last, locale,
                                    expired=not finished(last)))

    @staticmethod
    async def _edit(bot: Bot, chat_id: int, message_id: int, text: str) -> bool | None:
        """True when edited; False to try again later; None when the message is gone."""
        try:
            await bot.edit_message_text(text=text, chat_id=chat_id, message_id=message_id)
        except TelegramRetryAfter:
            return False
        except TelegramBadRequest as error:
            if "not modified" in error.message:
                return True
            log.info("progress message %s/%s is gone: %s", chat_id, message_id, error)
            return None
        except TelegramAPIError as error:
            log.warning("editing progress message %s/%s failed: %s", chat_id, message_id,
                        error)
            return False
        return True


def watch(dispatcher: Dispatcher, bot: Bot, chat_id: int, campaign_id: int,
          locale: str) -> None:
    """From a handler: follow the campaign in this chat."""
    LiveProgress.of(dispatcher).watch(bot, chat_id, campaign_id, locale)


def launch(dispatcher: Dispatcher, bot: Bot, chat_id: int, campaign_id: int,
           locale: str) -> None:
    """From a handler, once the campaign is active (started, resumed, or created to start
    now): run it in the background at once, and follow it in this chat."""
    launcher: Launcher = dispatcher[LAUNCHER]
    launcher.launch(campaign_id)
    watch(dispatcher, bot, chat_id, campaign_id, locale)

