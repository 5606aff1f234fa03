"""Which Telegram updates the deployment has already taken, so that a second copy (a
webhook retry that lands on another instance, a polling restart) is dropped.

`SeenUpdates.first_time(update_id)` is True for exactly one caller per update id among
every process sharing the store, while the store answers:

- Redis: `SET <prefix>:update:<id> 1 NX EX <ttl>`; only the SET that creates the key wins.
- PostgreSQL without Redis: `INSERT ... ON CONFLICT DO NOTHING RETURNING` into
  `seen_updates`, one short transaction; a concurrent insert of the same id waits for the
  first to commit and then inserts nothing. Rows older than `TTL` are deleted now and then,
  in a job of their own, so that no update waits for the purge.
- Memory (SQLite, one process): the last ids this process saw.

A day is plenty to remember an update: Telegram keeps an undelivered one for 24 hours.

When the shared store cannot be asked (Redis down, the database unreachable), the update
is handled anyway and a warning logged: better answered twice than never. Handlers stay
safe to repeat for that reason. An update is marked seen before it is handled, so a retry
of one whose handler failed is dropped too, as it always was in one process's memory.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import bindparam, delete

from bot.clock import Clock, utcnow
from bot.cluster import Cluster, Store
from bot.db.dialect import POSTGRESQL, SQLITE, conflict_insert
from bot.db.hotpath import DATABASE_ERRORS
from bot.db.models import SeenUpdate
from bot.db.prepared import Prepared
from bot.db.tx import Tx

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from bot.db import Database

log = logging.getLogger(__name__)

TTL = timedelta(days=1)
# A Redis that hangs rather than refuses (no socket timeout is configured) must not hold
# every update: after this long the update is handled as if Redis were down.
REDIS_TIMEOUT = 1.0
# The database store deletes expired rows once per this many inserts of a process.
PURGE_EVERY = 1000


class SeenUpdates(Protocol):
    async def first_time(self, update_id: int) -> bool:
        """True for the first caller with this id; True also when the store cannot be
        asked (logged), since an update handled twice beats one never handled."""
        ...

    async def close(self) -> None:
        """Wait for this process's own background work on the store (not the store's
        connection: the Cluster owns it)."""
        ...


def seen_updates(cluster: Cluster | None, clock: Clock = utcnow) -> SeenUpdates:
    """The deployment's store of seen updates; this process's memory without a cluster."""
    if cluster is None or cluster.store is Store.MEMORY:
        return RecentUpdates()
    if cluster.store is Store.REDIS:
        assert cluster.redis is not None
        return RedisSeenUpdates(cluster.redis, cluster.prefix)
    return DatabaseSeenUpdates(cluster.db, clock)


class RecentUpdates:
    """The last `size` update ids seen by this process."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._seen: OrderedDict[int, None] = OrderedDict()

    async def first_time(self, update_id: int) -> bool:
        if update_id in self._seen:
            return False
        self._seen[update_id] = None
        if len(self._seen) > self.size:
            self._seen.popitem(last=False)
        return True

    async def close(self) -> None:
        pass


class RedisSeenUpdates:
    """One key per update id, expiring after `TTL`."""

    def __init__(self, redis: Redis, prefix: str, ttl: timedelta = TTL) -> None:
        from redis.exceptions import RedisError

        self.redis = redis
        self.prefix = prefix
        self.ttl = ttl
        self._unreachable = (RedisError, OSError, TimeoutError)

    async def first_time(self, update_id: int) -> bool:
        try:
            async with asyncio.timeout(REDIS_TIMEOUT):
                created = await self.redis.set(f"{self.prefix}:update:{update_id}", 1,
                                               nx=True, ex=self.ttl)
        except self._unreachable as error:
            log.warning("update %s handled without dedupe: Redis did not answer (%s)",
                        update_id, error)
            return True
        return bool(created)

    async def close(self) -> None:
        pass


class DatabaseSeenUpdates:
    """One `seen_updates` row per update id; rows older than `ttl` purged every
    `purge_every` inserts of this process (the first insert included, so that a process
    restarted often still purges)."""

    def __init__(self, db: Database, clock: Clock = utcnow, *, ttl: timedelta = TTL,
                 purge_every: int = PURGE_EVERY) -> None:
        self.db = db
        self.clock = clock
        self.ttl = ttl
        self.purge_every = purge_every
        self._insert = _insert_statement(SQLITE if db.is_sqlite else POSTGRESQL)
        self._inserted = 0
        self._purge: asyncio.Task[None] | None = None

    async def first_time(self, update_id: int) -> bool:
        try:
            inserted = await self.db.hot.write_first(
                self._insert, {"update_id": update_id, "seen_at": self.clock()})
        except DATABASE_ERRORS as error:
            log.warning("update %s handled without dedupe: the database did not answer (%s)",
                        update_id, error)
            return True
        if inserted is None:
            return False
        self._inserted += 1
        if (self._inserted - 1) % self.purge_every == 0 and self._purge is None:
            self._purge = asyncio.create_task(self._purge_expired())
        return True

    async def _purge_expired(self) -> None:
        try:
            await self.db.hot.write(_delete_before, self.clock() - self.ttl)
        except DATABASE_ERRORS as error:
            log.warning("old seen updates not purged (%s): the next purge retries", error)
        finally:
            self._purge = None

    async def close(self) -> None:
        if self._purge is not None:
            await self._purge


def _insert_statement(backend: str) -> Prepared:
    table: Any = SeenUpdate.__table__
    return Prepared(
        conflict_insert(backend, table)
        .values(update_id=bindparam("update_id", type_=table.c.update_id.type),
                seen_at=bindparam("seen_at", type_=table.c.seen_at.type))
        .on_conflict_do_nothing()
        .returning(table.c.update_id)
    )


_DELETE_BEFORE = Prepared(delete(SeenUpdate.__table__).where(
    SeenUpdate.__table__.c.seen_at < bindparam("cutoff")))


async def _delete_before(tx: Tx, cutoff: datetime) -> None:
    await tx.rowcount(_DELETE_BEFORE, {"cutoff": cutoff})
