"""The bot's one send budget: every message the deployment sends takes a slot from it.

Telegram counts a bot's messages per sliding second (about 30/s, up to 1000/s with paid
broadcasts) and one per chat per second, whatever the number of processes. So the whole
deployment books its sends on one clock of evenly spaced slots, `interval = (1 +
margin) / rate` apart: any one-second window then holds at most `rate` of them, and the
margin absorbs the jitter between a slot and the moment Telegram sees the request. This
is GCRA, the generic cell rate algorithm: the clock is the "theoretical arrival time".

Booking rules (`book`, one atomic step in every store):
- the slot is the later of now, the clock's next free slot, and the end of a 429 pause;
- a chat whose next slot (one per `chat_interval`) is later is told when to ask again;
- a slot is used on time or not at all: a process that wakes for it late (its event loop
  was busy) books another, so every send stays within `late` of its slot; the chat's
  slot it gave up does not hold the chat;
- replies first: a bulk send (broadcasts, rewards, managers' codes through the outbox)
  books only while the clock is booked no more than `lookahead` ahead (two slots, so that
  a slow round trip to the store does not make the slot late; at least 5 ms), so a
  reply to a shopper (commands, progress edits, uploads: `SendTurns` on the Bot's
  session) waits behind a few slots of a broadcast, never behind its queue.

Stores (`bot.cluster`): in Redis one Lua script per booking, in PostgreSQL one call of a
function that locks the clock's row while it runs, in memory a few fields. The time is
each process's wall clock (NTP keeps hosts within a millisecond or two, well inside the
margin), read just before booking; the sender then sleeps until its slot on that clock,
so the booking's round trip does not make a send late or early. A store's own clock
would be read at a moment the process does not know.

Why not a library: `limits` and `pyrate-limiter` answer "may I send now?" against a
counted window. They let a window's whole allowance go at once (30 sends in a few
milliseconds, then silence: the burst Telegram answers with 429), a refused process
can only poll, and neither books the next free slot, ranks replies above broadcasts or
shares a pause. The slot clock is those few lines per store.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from redis.exceptions import RedisError
from sqlalchemy import (
    BigInteger,
    Boolean,
    Double,
    bindparam,
    column,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert

from bot.cluster import Cluster, Store
from bot.db import Database
from bot.db.hotpath import DATABASE_ERRORS
from bot.db.models import ChatClock, SendClock
from bot.db.prepared import Prepared

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)

DEFAULT_MARGIN = 0.025
HIGH_RATE = 100.0
# At a paid broadcast's 1000/s the event loop's own stalls (claims, recording, the
# garbage collector) are long enough to need 50 ms.
HIGH_RATE_MARGIN = 0.05
CHAT_INTERVAL = 1.0 + DEFAULT_MARGIN
# How far ahead bulk sends may book the clock, at least.
MIN_LOOKAHEAD = 0.005
# A bulk sender that cannot book asks again no sooner than this.
MIN_RETRY = 0.001
STORE_RETRY = 1.0
# A booking that takes longer has lost its store.
BOOK_TIMEOUT = 5.0
# Two times this close are the same slot.
SAME_SLOT = 0.001
# The store failed or cannot be reached: waited out, since nothing may go unbooked.
# (TimeoutError, a booking past BOOK_TIMEOUT, is an OSError.)
_STORE_DOWN = (RedisError, *DATABASE_ERRORS)


def margin_for(rate: float) -> float:
    return HIGH_RATE_MARGIN if rate > HIGH_RATE else DEFAULT_MARGIN


class Answer(Enum):
    BOOKED = "booked"  # the slot is `wait` seconds from now
    CHAT_BUSY = "chat_busy"  # the chat's next slot is `wait` seconds away: ask again then
    AHEAD = "ahead"  # bulk: the clock is booked ahead; ask again in `wait` seconds


@dataclass(frozen=True, slots=True)
class Booking:
    answer: Answer
    wait: float
    # The clock's and the chat's next free slots after a booking (None: unchanged).
    next_at: float | None = None
    chat_next: float | None = None


def book(
    now: float, next_at: float, paused_until: float, chat_next: float, *,
    interval: float, chat_interval: float, lookahead: float, reply: bool,
    forgone: float = 0.0,
) -> Booking:
    """The one booking rule, in seconds (the Lua script in `RedisBudget` and the function
    `promobot_book_send` are the same rule). `forgone`: the slot this send gave up."""
    start = max(now, paused_until)
    own = forgone > 0 and abs(chat_next - (forgone + chat_interval)) < SAME_SLOT
    if chat_next > start and not own:
        return Booking(Answer.CHAT_BUSY, chat_next - now)
    slot = max(start, next_at)
    if not reply and slot > now + lookahead:
        return Booking(Answer.AHEAD, slot - lookahead - now)
    return Booking(Answer.BOOKED, slot - now, slot + interval, slot + chat_interval)


class SendBudget(ABC):
    """Slots for this process's sends, from the deployment's one clock."""

    def __init__(self, rate: float, *, margin: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        margin = margin_for(rate) if margin is None else margin
        self.interval = (1 + margin) / rate
        # A slot woken later than this (the event loop was busy) is given up for the
        # next free one: sent late, it would land too close to the slots after it.
        self.late = margin / 5
        self.chat_interval = CHAT_INTERVAL
        self.lookahead = max(2 * self.interval, MIN_LOOKAHEAD)
        # One bulk sender of this process at a time asks the store: the others wait
        # here rather than poll it.
        self._bulk = asyncio.Lock()

    @staticmethod
    def now() -> float:
        return time.time()

    async def turn(self, chat_id: int | None, *, reply: bool = False) -> None:
        """Until this process may send to `chat_id` (None: a request to no chat)."""
        forgone = 0.0
        while True:
            try:
                if reply:
                    moment, booked = await self._book_at(chat_id, True, forgone)
                else:
                    async with self._bulk:
                        moment, booked = await self._book_at(chat_id, False, forgone)
            except _STORE_DOWN as error:
                # Nothing goes out unbooked: past the limit, Telegram would ban the bot.
                log.warning("the send budget's store failed (%r); retrying in %s s",
                            error, STORE_RETRY)
                await asyncio.sleep(STORE_RETRY)
                continue
            await self._until(moment)  # the slot; or, the chat busy, when it is free
            if not booked:
                forgone = 0.0
            elif self.now() - moment <= self.late:
                return
            else:
                forgone = moment

    async def _book_at(self, chat_id: int | None, reply: bool, forgone: float
                       ) -> tuple[float, bool]:
        """(the slot, True) once booked, or (when the chat is free, False); a bulk send
        waits here while the clock is booked ahead."""
        while True:
            asked = self.now()
            async with asyncio.timeout(BOOK_TIMEOUT):
                booking = await self._book(chat_id, reply=reply, now=asked, forgone=forgone)
            moment = asked + booking.wait
            if booking.answer is not Answer.AHEAD:
                return moment, booking.answer is Answer.BOOKED
            await self._until(max(moment, asked + MIN_RETRY))

    async def _until(self, moment: float) -> None:
        delay = moment - self.now()
        if delay > 0:
            await asyncio.sleep(delay)

    @abstractmethod
    async def _book(self, chat_id: int | None, *, reply: bool, now: float,
                    forgone: float) -> Booking: ...

    @abstractmethod
    async def pause(self, seconds: float) -> None:
        """Telegram said 429: no process sends before `seconds` from now."""

    async def close(self) -> None:
        return None


class MemoryBudget(SendBudget):
    """One process talks to Telegram (SQLite): the clock is this process's."""

    def __init__(self, rate: float, *, margin: float | None = None) -> None:
        super().__init__(rate, margin=margin)
        self._next_at = 0.0
        self._paused_until = 0.0
        self._chats: dict[int, float] = {}

    @staticmethod
    def now() -> float:
        return time.monotonic()

    async def _book(self, chat_id: int | None, *, reply: bool, now: float,
                    forgone: float) -> Booking:
        chat_next = self._chats.get(chat_id, 0.0) if chat_id is not None else 0.0
        booking = book(now, self._next_at, self._paused_until, chat_next,
                       interval=self.interval, chat_interval=self.chat_interval,
                       lookahead=self.lookahead, reply=reply, forgone=forgone)
        if booking.answer is Answer.BOOKED:
            assert booking.next_at is not None and booking.chat_next is not None
            self._next_at = booking.next_at
            if chat_id is not None:
                if len(self._chats) > 4096:
                    self._chats = {c: at for c, at in self._chats.items() if at > now}
                self._chats[chat_id] = booking.chat_next
        return booking

    async def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self.now() + seconds)


# `book` in microseconds. KEYS: the clock, the pause, the chat's slot. ARGV: interval,
# chat interval, 1 for a reply, 1 when there is a chat, now, lookahead, the forgone slot
# (0: none). A key lives a minute past the slot it holds.
_BOOK_LUA = """
local interval = tonumber(ARGV[1])
local chat_interval = tonumber(ARGV[2])
local now = tonumber(ARGV[5])
local forgone = tonumber(ARGV[7])
local start = math.max(now, tonumber(redis.call('GET', KEYS[2]) or '0'))
if ARGV[4] == '1' then
  local chat_next = tonumber(redis.call('GET', KEYS[3]) or '0')
  local own = forgone > 0 and math.abs(chat_next - (forgone + chat_interval)) < 1000
  if chat_next > start and not own then return {1, chat_next - now} end
end
local slot = math.max(start, tonumber(redis.call('GET', KEYS[1]) or '0'))
if ARGV[3] ~= '1' and slot > now + tonumber(ARGV[6]) then
  return {2, slot - tonumber(ARGV[6]) - now}
end
redis.call('SET', KEYS[1], string.format('%.0f', slot + interval), 'PX',
           math.floor((slot + interval - now) / 1000) + 60000)
if ARGV[4] == '1' then
  local chat_next = slot + chat_interval
  redis.call('SET', KEYS[3], string.format('%.0f', chat_next), 'PX',
             math.floor((chat_next - now) / 1000) + 60000)
end
return {0, slot - now}
"""
_PAUSE_LUA = """
local until_at = tonumber(ARGV[2]) + tonumber(ARGV[1])
if until_at > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], string.format('%.0f', until_at), 'PX',
             math.floor(tonumber(ARGV[1]) / 1000) + 1000)
end
return 1
"""
_ANSWERS = (Answer.BOOKED, Answer.CHAT_BUSY, Answer.AHEAD)
_MICRO = 1_000_000


class RedisBudget(SendBudget):
    """Several processes, with Redis: one script call per booking."""

    def __init__(self, redis: Redis, prefix: str, rate: float, *,
                 margin: float | None = None) -> None:
        super().__init__(rate, margin=margin)
        self._redis = redis
        # One hash tag for all: a Redis Cluster keeps them in one slot, as a script needs.
        tag = f"{{{prefix}:send}}"
        self._keys = f"{tag}:clock", f"{tag}:paused"
        self._chat_key = f"{tag}:chat:"
        self._book_script = redis.register_script(_BOOK_LUA)
        self._pause_script = redis.register_script(_PAUSE_LUA)

    async def _book(self, chat_id: int | None, *, reply: bool, now: float,
                    forgone: float) -> Booking:
        chat_key = f"{self._chat_key}{chat_id if chat_id is not None else '-'}"
        code, wait = await self._book_script(
            keys=[*self._keys, chat_key],
            args=[round(self.interval * _MICRO), round(self.chat_interval * _MICRO),
                  1 if reply else 0, 0 if chat_id is None else 1, round(now * _MICRO),
                  round(self.lookahead * _MICRO), round(forgone * _MICRO)],
        )
        return Booking(_ANSWERS[int(code)], int(wait) / _MICRO)

    async def pause(self, seconds: float) -> None:
        await self._pause_script(keys=[self._keys[1]],
                                 args=[round(seconds * _MICRO), round(self.now() * _MICRO)])


_BOOK_SEND = Prepared(
    # Untyped columns: asyncpg gives an int and a float as they are.
    select(column("answer"), column("wait")).select_from(
        func.promobot_book_send(bindparam("now", type_=Double), bindparam("step", type_=Double),
                                bindparam("chat_step", type_=Double),
                                bindparam("lookahead", type_=Double),
                                bindparam("reply", type_=Boolean),
                                bindparam("chat", type_=BigInteger),
                                bindparam("forgone", type_=Double))
        .table_valued("answer", "wait")
    )
)


class DatabaseBudget(SendBudget):
    """Several processes on PostgreSQL without Redis: one call of the function
    `promobot_book_send` (`bot.db.models.cluster`) per booking, outside any transaction;
    the clock's row is locked only while it runs."""

    PURGE_EVERY = 1000

    def __init__(self, db: Database, rate: float, *, margin: float | None = None) -> None:
        super().__init__(rate, margin=margin)
        self._db = db
        self._bookings = 0
        self._purge: asyncio.Task[None] | None = None

    async def _book(self, chat_id: int | None, *, reply: bool, now: float,
                    forgone: float) -> Booking:
        # A write through the hot path's pool: one round trip, its own autocommit.
        code, wait = await self._db.hot.first(_BOOK_SEND, {
            "now": now, "step": self.interval, "chat_step": self.chat_interval,
            "lookahead": self.lookahead, "reply": reply, "chat": chat_id, "forgone": forgone,
        })
        self._bookings += 1
        if self._bookings % self.PURGE_EVERY == 0 and self._purge is None:
            # Off the booking's path: a slot booked is not lost to a failed purge.
            self._purge = asyncio.create_task(self._purge_chats(now))
        return Booking(_ANSWERS[code], wait)

    async def _purge_chats(self, now: float) -> None:
        try:
            async with self._db.engine.begin() as conn:
                await conn.execute(delete(ChatClock).where(ChatClock.next_at < now - 60))
        except _STORE_DOWN:
            log.warning("purging chat_clock failed; the next purge tries again", exc_info=True)
        finally:
            self._purge = None

    async def close(self) -> None:
        if self._purge is not None:
            await self._purge

    async def pause(self, seconds: float) -> None:
        until = self.now() + seconds
        async with self._db.engine.begin() as conn:
            await conn.execute(pg_insert(SendClock).values(
                id=1, next_at=0.0, paused_until=0.0).on_conflict_do_nothing())
            await conn.execute(update(SendClock).where(SendClock.id == 1).values(
                paused_until=func.greatest(SendClock.paused_until, until)))


def open_budget(cluster: Cluster, rate: float) -> SendBudget:
    """The deployment's send budget as this process sees it."""
    if cluster.store is Store.REDIS:
        assert cluster.redis is not None
        return RedisBudget(cluster.redis, cluster.prefix, rate)
    if cluster.store is Store.DATABASE:
        return DatabaseBudget(cluster.db, rate)
    return MemoryBudget(rate)
