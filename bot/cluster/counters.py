"""Fixed-window counters shared by every process of a deployment (the anti-guessing
brake's failure counts), on the `limits` library.

`open_counters(cluster)` picks the storage the cluster says: limits' own async Redis
storage on the cluster's connection pool, `DatabaseStorage` below on PostgreSQL, limits'
`MemoryStorage` in one process. `Counters` then lets a request take its place in a set
of scopes before it is judged, refused when any of them is at its limit, and give the
places back when it did not fail as guessing.

A storage that fails (Redis or the database unreachable) lets requests through, logged:
the brake slows guessing down, and a checkout that stops for every shopper because a
counter is out of reach would do more harm than a minute of unbraked guessing.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import asyncpg
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.errors import StorageError
from sqlalchemy import Interval, bindparam, case, delete, extract, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.base import Executable

from bot.cluster import Cluster, Store
from bot.db import Database
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
    """One atomic upsert per hit: a row whose window has ended starts a new one."""
    insert = pg_insert(_counters).values(
        key=bindparam("key"), count=bindparam("amount"),
        expires_at=func.now() + bindparam("expiry", type_=Interval),
    )
    ended = _counters.c.expires_at <= func.now()
    return insert.on_conflict_do_update(
        index_elements=[_counters.c.key],
        set_={
            "count": case((ended, insert.excluded.count),
                          else_=_counters.c.count + insert.excluded.count),
            "expires_at": case((ended, insert.excluded.expires_at),
                               else_=_counters.c.expires_at),
        },
    ).returning(_counters.c.count)


_INCREMENT = _increment()
# Ended windows are deleted now and then; a key that comes back just starts anew.
_PRUNE_EVERY = 300.0


class DatabaseStorage(Storage):
    """limits' async storage in PostgreSQL's `rate_counters` table, enough for the
    fixed-window strategy (`incr`, `get`, `get_expiry`).

    It exists because limits has no SQL storage, and a deployment of several processes
    on PostgreSQL without Redis must still share its counters (`bot.cluster`). Each hit
    is one `INSERT … ON CONFLICT DO UPDATE … RETURNING count`, atomic under concurrent
    hits; times are the database server's (`now()`), so every process sees one clock.
    Reads go through the hot path's pool (`Database.hot`), outside any transaction.
    """

    STORAGE_SCHEME = None

    def __init__(self, db: Database, *, prefix: str, wrap_exceptions: bool = True) -> None:
        super().__init__(wrap_exceptions=wrap_exceptions)
        self.db, self.prefix = db, prefix
        self._pruned_at = time.monotonic()

    @property
    def base_exceptions(self) -> tuple[type[Exception], ...]:
        return (SQLAlchemyError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError)

    def _key(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        params = {"key": self._key(key), "amount": amount, "expiry": timedelta(seconds=expiry)}
        async with self.db.engine.begin() as conn:
            count = (await conn.execute(_INCREMENT, params)).scalar_one()
            if time.monotonic() - self._pruned_at > _PRUNE_EVERY:
                self._pruned_at = time.monotonic()
                await conn.execute(delete(_counters).where(_counters.c.expires_at < func.now()))
        return int(count)

    async def get(self, key: str) -> int:
        row = await self.db.hot.first(_COUNT, {"key": self._key(key)})
        return 0 if row is None else int(row[0])

    async def get_expiry(self, key: str) -> float:
        # Seconds left by the server's clock, turned into this process's epoch time,
        # so that a skew between the two clocks does not shift Retry-After.
        row = await self.db.hot.first(_SECONDS_LEFT, {"key": self._key(key)})
        return time.time() + (0.0 if row is None else float(row[0]))

    async def check(self) -> bool:
        async with self.db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True

    async def reset(self) -> int | None:
        async with self.db.engine.begin() as conn:
            result = await conn.execute(
                delete(_counters).where(_counters.c.key.startswith(self.prefix + ":")))
        return result.rowcount

    async def clear(self, key: str) -> None:
        async with self.db.engine.begin() as conn:
            await conn.execute(delete(_counters).where(_counters.c.key == self._key(key)))


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
    """

    def __init__(self, storage: Storage, *, window: int = WINDOW_SECONDS,
                 namespace: str = "failures", max_in_flight: int | None = None) -> None:
        self.storage, self.window, self.namespace = storage, window, namespace
        self._limiter = FixedWindowRateLimiter(storage)
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

    async def take(self, scopes: Sequence[Scope]) -> Taken:
        results = await asyncio.gather(
            *(self._call(self._limiter.hit, self._item(scope.limit), scope.kind, scope.value)
              for scope in scopes),
            return_exceptions=True,
        )
        held, over, unreachable = [], [], None
        for scope, result in zip(scopes, results, strict=True):
            if isinstance(result, StorageError):
                unreachable = result
            elif isinstance(result, BaseException):
                raise result
            elif result:
                held.append(scope)
            else:
                over.append(scope)
        if unreachable is not None:
            log.warning("failure counters unreachable, not braking: %s", unreachable)
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
        try:
            await asyncio.gather(*(
                self._call(self.storage.incr, self._key(scope), self.window, amount=-1)
                for scope in held))
        except StorageError as error:
            log.warning("failure counters unreachable, places not given back: %s", error)


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
    return MemoryStorage(wrap_exceptions=True)


def open_counters(cluster: Cluster, *, window: int = WINDOW_SECONDS) -> Counters:
    max_in_flight = None
    if cluster.redis is not None:
        # Half the cluster's pool: the rest stays for its other users in this process.
        max_in_flight = max(1, cluster.redis.connection_pool.max_connections // 2)
    return Counters(storage_for(cluster), window=window, max_in_flight=max_in_flight)
