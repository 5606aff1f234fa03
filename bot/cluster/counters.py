"""Fixed-window counters shared by every process of a deployment (the anti-guessing
brake's failure counts), on the `limits` library.

`open_counters(cluster)` picks the storage the cluster says: limits' own async Redis
storage on the cluster's connection pool, `DatabaseStorage` below on PostgreSQL,
`MemoryCounters` below in one process. `Counters` then lets a request take its place in
a set of scopes before it is judged, refused when any of them is at its limit, and give
the places back when it did not fail as guessing. Every checkout call takes and gives
back, so a storage that can (`incr_each`) counts all of a request's scopes at once, and
places owed to a store across the network are given back together every few
milliseconds (`Counters` says why that is safe); the calls made to such a store while
one is in flight share its next round trip (`Combined`; limits batches nothing).

A storage that fails (Redis or the database unreachable) lets requests through, logged:
the brake slows guessing down, and a checkout that stops for every shopper because a
counter is out of reach would do more harm than a minute of unbraked guessing.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import RedisStorage, Storage
from limits.errors import StorageError
from sqlalchemy import (
    ARRAY,
    Integer,
    Interval,
    String,
    bindparam,
    case,
    delete,
    extract,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.sql.base import Executable

from bot.cluster import Cluster, Store
from bot.db import Database
from bot.db.hotpath import DATABASE_ERRORS
from bot.db.models.cluster import RateCounter
from bot.db.prepared import Prepared

log = logging.getLogger(__name__)
_T = TypeVar("_T")

WINDOW_SECONDS = 60
_counters = RateCounter.__table__
_live = _counters.c.expires_at > func.now()
_COUNT = Prepared(select(_counters.c.count).where(_counters.c.key == bindparam("key"), _live))
_SECONDS_LEFT = Prepared(
    select(extract("epoch", _counters.c.expires_at - func.now()).label("seconds_left"))
    .where(_counters.c.key == bindparam("key"), _live)
)


def _increment() -> Executable:
    """One atomic upsert for all of a request's keys: a row whose window has ended starts
    a new one. Keys are taken in sorted order, so two requests sharing keys (the API key's,
    say) lock their rows in one order and never wait on each other in a cycle."""
    pairs = func.unnest(bindparam("keys", type_=ARRAY(String)),
                        bindparam("amounts", type_=ARRAY(Integer)),
                        ).table_valued("key", "amount").render_derived()
    rows = select(
        pairs.c.key, pairs.c.amount, func.now() + bindparam("expiry", type_=Interval),
    ).order_by(pairs.c.key)
    insert = pg_insert(_counters).from_select(["key", "count", "expires_at"], rows)
    ended = _counters.c.expires_at <= func.now()
    return insert.on_conflict_do_update(
        index_elements=[_counters.c.key],
        set_={
            "count": case((ended, insert.excluded.count),
                          else_=_counters.c.count + insert.excluded.count),
            "expires_at": case((ended, insert.excluded.expires_at),
                               else_=_counters.c.expires_at),
        },
    ).returning(_counters.c.key, _counters.c.count)


_INCREMENT = Prepared(_increment())
_PRUNE = Prepared(delete(_counters).where(_counters.c.expires_at < func.now()))
# Ended windows are deleted now and then; a key that comes back just starts anew.
_PRUNE_EVERY = 300.0


class DatabaseStorage(Storage):
    """limits' async storage in PostgreSQL's `rate_counters` table, enough for the
    fixed-window strategy (`incr`, `get`, `get_expiry`).

    It exists because limits has no SQL storage, and a deployment of several processes
    on PostgreSQL without Redis must still share its counters (`bot.cluster`). A
    request's hits are one `INSERT … SELECT … ON CONFLICT DO UPDATE … RETURNING` for all
    its keys, atomic under concurrent hits; times are the database server's (`now()`),
    so every process sees one clock. Every statement runs on the hot path's asyncpg
    connections (`Database.hot`), each its own transaction, on a table that is not
    written to the WAL (UNLOGGED: a crash empties it, which costs a minute of braking).
    """

    STORAGE_SCHEME = None

    def __init__(self, db: Database, *, prefix: str, wrap_exceptions: bool = True) -> None:
        super().__init__(wrap_exceptions=wrap_exceptions)
        self.db, self.prefix = db, prefix
        self._pruned_at = time.monotonic()

    @property
    def base_exceptions(self) -> tuple[type[Exception], ...]:
        return DATABASE_ERRORS

    def _key(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return (await self.incr_each({key: amount}, expiry))[key]

    async def incr_each(self, amounts: Mapping[str, int], expiry: int) -> dict[str, int]:
        """`incr` of every key by its amount, in one statement; the new counts."""
        try:
            if time.monotonic() - self._pruned_at > _PRUNE_EVERY:
                self._pruned_at = time.monotonic()
                await self.db.hot.first(_PRUNE, {})
            rows = await self.db.hot.all(_INCREMENT, {
                "keys": [self._key(key) for key in amounts], "amounts": list(amounts.values()),
                "expiry": timedelta(seconds=expiry),
            })
        except self.base_exceptions as error:  # limits wraps only its own methods
            raise StorageError(error) from error
        counts = {row.key: row.count for row in rows}
        return {key: int(counts[self._key(key)]) for key in amounts}

    async def get(self, key: str) -> int:
        row = await self.db.hot.first(_COUNT, {"key": self._key(key)})
        return 0 if row is None else int(row[0])

    async def get_expiry(self, key: str) -> float:
        # Seconds left by the server's clock, turned into this process's epoch time,
        # so that a skew between the two clocks does not shift Retry-After.
        row = await self.db.hot.first(_SECONDS_LEFT, {"key": self._key(key)})
        return time.time() + (0.0 if row is None else float(row[0]))

    async def check(self) -> bool:
        await self.db.hot.first(_COUNT, {"key": ""})
        return True

    async def reset(self) -> int | None:
        async with self.db.engine.begin() as conn:
            result = await conn.execute(
                delete(_counters).where(_counters.c.key.startswith(self.prefix + ":")))
        return result.rowcount

    async def clear(self, key: str) -> None:
        async with self.db.engine.begin() as conn:
            await conn.execute(delete(_counters).where(_counters.c.key == self._key(key)))


class MemoryCounters(Storage):
    """limits' fixed-window storage in this process's memory, for one process alone.

    Written here because limits' own `MemoryStorage` walks every live key on every hit
    (its expiry task is scheduled per hit): with the windows of 10 000 customers alive,
    that walk was a third of a validate's CPU. Here a window is a count and its end,
    a key past its end counts from zero, and ended windows are dropped once a minute.
    """

    STORAGE_SCHEME = None

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(wrap_exceptions=True)
        self._clock = clock
        self._windows: dict[str, tuple[int, float]] = {}
        self._pruned_at = clock()

    @property
    def base_exceptions(self) -> tuple[type[Exception], ...]:
        return (ValueError,)

    def _live(self, key: str, now: float) -> tuple[int, float] | None:
        window = self._windows.get(key)
        return window if window is not None and window[1] > now else None

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return (await self.incr_each({key: amount}, expiry))[key]

    async def incr_each(self, amounts: Mapping[str, int], expiry: int) -> dict[str, int]:
        now = self._clock()
        if now - self._pruned_at > WINDOW_SECONDS:
            self._pruned_at = now
            self._windows = {k: w for k, w in self._windows.items() if w[1] > now}
        counts = {}
        for key, amount in amounts.items():
            count, ends = self._live(key, now) or (0, now + expiry)
            self._windows[key] = counts[key] = (count + amount, ends)
        return {key: count for key, (count, _) in counts.items()}

    async def get(self, key: str) -> int:
        window = self._live(key, self._clock())
        return 0 if window is None else window[0]

    async def get_expiry(self, key: str) -> float:
        now = self._clock()
        window = self._live(key, now)
        return now if window is None else window[1]

    async def check(self) -> bool:
        return True

    async def reset(self) -> int | None:
        count, self._windows = len(self._windows), {}
        return count

    async def clear(self, key: str) -> None:
        self._windows.pop(key, None)


class Combined:
    """Calls of `incr_each` made while one is in flight, sent together as the next one.

    Under load every checkout call's take would be a round trip of its own to the
    store; here, while one statement is out, the takes and give-backs that arrive wait
    and then go as one, and each gets the counts it would have seen had they gone one by
    one in the order they came: its own key's count after its own amount, before the
    amounts of those after it. An idle store is called at once, so this adds no wait;
    a busy one is called once per round trip instead of once per request.

    Tried and left: on PostgreSQL, validate's take riding its own read statement (the
    upsert as a data-modifying CTE of the shopper-and-code SELECT), no round trip of its
    own. On 2 cores at 8 connections it cut validate's CPU by 13 % (0.55 → 0.48 ms); at
    32 it cut the throughput by 17–25 % (2 700–3 300/s → 2 300–2 700/s): every check's
    own upsert, and the lock it holds on the API key's row, cost the database more than
    one shared upsert per round trip.
    """

    def __init__(self, incr_each: Callable[[Mapping[str, int], int], Awaitable[dict[str, int]]]
                 ) -> None:
        self._incr_each = incr_each
        self._waiting: list[tuple[Mapping[str, int], asyncio.Future[dict[str, int]]]] = []
        self._sending: asyncio.Task[None] | None = None

    async def incr_each(self, amounts: Mapping[str, int], expiry: int) -> dict[str, int]:
        future: asyncio.Future[dict[str, int]] = asyncio.get_running_loop().create_future()
        self._waiting.append((amounts, future))
        if self._sending is None:
            self._sending = asyncio.create_task(self._send(expiry))
        return await future

    async def _send(self, expiry: int) -> None:
        batch: list[tuple[Mapping[str, int], asyncio.Future[dict[str, int]]]] = []
        try:
            while self._waiting:
                # A caller that stopped waiting (its request went away) counts nothing.
                batch = [(amounts, future) for amounts, future in self._waiting
                         if not future.done()]
                self._waiting = []
                total: collections.Counter[str] = collections.Counter()
                for amounts, _ in batch:
                    total.update(amounts)
                try:
                    counts = await self._incr_each(dict(total), expiry) if batch else {}
                except Exception as error:  # every caller of the batch gets the failure
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    continue
                after: collections.Counter[str] = collections.Counter()
                for amounts, future in reversed(batch):
                    if not future.done():
                        future.set_result({key: counts[key] - after[key] for key in amounts})
                    after.update(amounts)
        finally:
            self._sending = None
            # Whatever stopped this (the loop shutting down), nobody is left waiting: the
            # callers see an unreachable store, which lets their checks through.
            stopped = StorageError(RuntimeError("the counters' sender stopped"))
            for _, future in [*batch, *self._waiting]:
                if not future.done():
                    future.set_exception(stopped)
            self._waiting = []


@dataclass(frozen=True, slots=True)
class Scope:
    """What one counter counts (`kind`, e.g. "customer") for whom (`value`), and how many
    hits its window allows."""

    kind: str
    value: str
    limit: int


@dataclass(frozen=True, slots=True)
class Taken:
    """What one request took: the scopes where it holds one of the window's places, and,
    when a scope was already at its limit, the whole seconds until the refusing windows
    end (the request is then refused and holds nothing)."""

    held: tuple[Scope, ...]
    retry_after: int | None = None


class Counters:
    """Fixed windows of `window` seconds per scope, in a limits storage.

    A request takes its place in every scope before it is judged (`take`, one atomic
    `incr` per scope, all at once) and gives the places back unless it turned out to be
    a guessing failure (`give_back`, `incr` by -1): so checks sent at the same moment
    cannot all see room and pass a limit together, as they could if the counts were
    read first and raised after the judging. Only places taken within the limit are
    given back. A place given back after its window ended lands in the next window, but
    it had kept a place from use in the one before, so on the whole no more than the
    limit is judged per window; a hit over the limit never held a place, and giving it
    back would let a flood of refusals that straddle a window's end open the next one.

    With `settle_every`, places are not given back one request at a time but owed, and
    settled together that many seconds after the first was owed: one statement for a
    few milliseconds of checkout calls, where each call would otherwise pay a round trip
    to the store for it. A place owed is a place still held, so the brake only errs on
    the strict side, by the calls of those milliseconds (a few places of a 6000-a-minute
    key ceiling). Owed places still unsettled when the process stops are lost with it:
    the counts are high until their windows end, within a minute.
    """

    def __init__(self, storage: Storage, *, window: int = WINDOW_SECONDS,
                 namespace: str = "failures", max_in_flight: int | None = None,
                 settle_every: float | None = None) -> None:
        self.storage, self.window, self.namespace = storage, window, namespace
        self.settle_every = settle_every
        each = getattr(storage, "incr_each", None)
        # A store across the network: concurrent calls share round trips (`Combined`).
        self._incr_each = (Combined(each).incr_each if each is not None and settle_every
                           else each)
        self._owed: collections.Counter[str] = collections.Counter()
        self._settling: asyncio.Task[None] | None = None
        self._items: dict[int, RateLimitItem] = {}
        # Store calls beyond `max_in_flight` wait their turn here. A Redis connection pool
        # refuses calls past its size at once ("Too many connections"), which reads as an
        # unreachable store and lets every check through: a guesser sending a few dozen
        # checks together would pass the brake.
        self._gate = asyncio.Semaphore(max_in_flight) if max_in_flight else None

    async def _call(self, call: Callable[..., Awaitable[_T]], *args: Any, **kwargs: Any) -> _T:
        if self._gate is None:
            return await call(*args, **kwargs)
        async with self._gate:
            return await call(*args, **kwargs)

    def _item(self, limit: int) -> RateLimitItem:
        item = self._items.get(limit)
        if item is None:
            item = self._items[limit] = RateLimitItemPerSecond(limit, self.window, self.namespace)
        return item

    def _key(self, scope: Scope) -> str:
        return self._item(scope.limit).key_for(scope.kind, scope.value)

    async def _incr(self, amounts: Mapping[str, int]) -> dict[str, int]:
        """Every key's count raised by its amount, at once: one call where the storage
        counts several keys together (`incr_each`), else one per key, side by side."""
        if self._incr_each is not None:
            return await self._call(self._incr_each, amounts, self.window)  # type: ignore[no-any-return]
        counts = await asyncio.gather(*(
            self._call(self.storage.incr, key, self.window, amount=amount)
            for key, amount in amounts.items()))
        return dict(zip(amounts, counts, strict=True))

    async def take(self, scopes: Sequence[Scope]) -> Taken:
        try:
            keys = [self._key(scope) for scope in scopes]
            by_key = await self._incr(dict.fromkeys(keys, 1))
            counts = [by_key[key] for key in keys]
        except StorageError as error:
            log.warning("failure counters unreachable, not braking: %s", error)
            return Taken(())
        held = [scope for scope, count in zip(scopes, counts, strict=True)
                if count <= scope.limit]
        over = [scope for scope, count in zip(scopes, counts, strict=True)
                if count > scope.limit]
        if not over:
            return Taken(tuple(held))
        # Refused before any judging: the places taken elsewhere go back at once.
        _, *waits = await asyncio.gather(self.give_back(held),
                                         *(self._seconds_left(scope) for scope in over))
        # At least 1: a window about to end (Redis keeps whole seconds) is still closed now.
        return Taken((), max(1, math.ceil(max(waits))))

    async def _seconds_left(self, scope: Scope) -> float:
        try:
            return await self._call(self.storage.get_expiry, self._key(scope)) - time.time()
        except StorageError as error:
            # The scope was over its limit a moment ago; its window ends within `window`.
            log.warning("failure counters unreachable, window end unknown: %s", error)
            return float(self.window)

    async def give_back(self, held: Sequence[Scope]) -> None:
        if not held:
            return
        if self.settle_every is None:
            await self._settle({self._key(scope): -1 for scope in held})
            return
        self._owed.update(self._key(scope) for scope in held)
        if self._settling is None:
            self._settling = asyncio.create_task(self._settle_owed())

    async def _settle_owed(self) -> None:
        await asyncio.sleep(self.settle_every or 0)
        await self._pay_owed()

    async def _pay_owed(self) -> None:
        # What is owed from here on waits for the next settling.
        owed, self._owed, self._settling = self._owed, collections.Counter(), None
        await self._settle({key: -places for key, places in owed.items()})

    async def _settle(self, amounts: Mapping[str, int]) -> None:
        try:
            await self._incr(amounts)
        except StorageError as error:
            log.warning("failure counters unreachable, places not given back: %s", error)

    async def close(self) -> None:
        """Settle what is owed now (the process is stopping)."""
        if self._settling is not None:
            self._settling.cancel()
            await self._pay_owed()


def storage_for(cluster: Cluster) -> Storage:
    """The limits storage where `cluster` keeps what its processes share."""
    if cluster.store is Store.REDIS:
        assert cluster.redis is not None
        # limits' own client on the cluster's connection pool; the cluster closes it.
        return RedisStorage(
            "async+redis://", implementation="redispy", key_prefix=cluster.prefix,
            connection_pool=cluster.redis.connection_pool, wrap_exceptions=True,
        )
    if cluster.store is Store.DATABASE:
        return DatabaseStorage(cluster.db, prefix=cluster.prefix)
    return MemoryCounters()


# Places owed to a store across the network are settled this often (`Counters`).
SETTLE_EVERY = 0.02


def open_counters(cluster: Cluster, *, window: int = WINDOW_SECONDS) -> Counters:
    max_in_flight = None
    if cluster.redis is not None:
        # Half the cluster's pool: the rest stays for its other users in this process.
        max_in_flight = max(1, cluster.redis.connection_pool.max_connections // 2)
    settle_every = None if cluster.store is Store.MEMORY else SETTLE_EVERY
    return Counters(storage_for(cluster), window=window, max_in_flight=max_in_flight,
                    settle_every=settle_every)
