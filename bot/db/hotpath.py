"""The hot path: checkout's jobs and the bot's reads on every update, each as one job.

Checkout's calls (validate, redeem) are plain functions over a sync Core `Connection`,
run as ONE job. On SQLite a write job goes to a thread of our own with a sync engine and
a read job runs in the loop itself (`bot.db.sqlite.SQLiteJobs` says why). On PostgreSQL
the same function runs through `AsyncConnection.run_sync`.

The bot's reads on every update (`/codes`, the sender's account) are single prepared
SELECTs: `HotPath.first` and `HotPath.all`. On PostgreSQL they skip SQLAlchemy's pool
and async adapter and go to an asyncpg pool of their own, without a transaction: a pool
checkout with its pre-ping cost 0.4 ms of CPU, four times the query.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.db.dialect import SQLITE
from bot.db.prepared import Prepared
from bot.db.sqlite import SQLiteJobs

T = TypeVar("T")


async def on_connection(
    session: AsyncSession, fn: Callable[..., T], *args: Any, **kwargs: Any
) -> T:
    """Run a hot-path function (`fn(connection, ...)`) inside an async session's own
    transaction, for callers that already hold a session."""
    return await session.run_sync(lambda sync: fn(sync.connection(), *args, **kwargs))


class HotPath:
    """Runs `fn(connection, *args)` in one transaction, as one job, and single prepared
    SELECTs as hot reads (see the module doc)."""

    def __init__(self, url: str, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sqlite = SQLiteJobs(url) if engine.dialect.name == SQLITE else None
        # PostgreSQL: made by the first hot read, in the loop that will use it.
        self._driver = _DriverPool(engine)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        if self._sqlite is not None:
            return await self._sqlite.write(fn, args)
        async with self._engine.begin() as conn:
            return await conn.run_sync(fn, *args)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        if self._sqlite is not None:
            return self._sqlite.read(fn, args)
        async with self._engine.begin() as conn:
            return await conn.run_sync(fn, *args)

    async def first(self, statement: Prepared, params: Mapping[str, Any]) -> Any | None:
        """The first row of a prepared SELECT, read as `read` reads: stale by design."""
        if self._sqlite is not None:
            return self._sqlite.read(statement.first, (params,))
        return await self._driver.fetch(statement.fetch_first, params)

    async def all(self, statement: Prepared, params: Mapping[str, Any]) -> list[Any]:
        """Every row of a prepared SELECT, read as `first` reads."""
        if self._sqlite is not None:
            return self._sqlite.read(statement.all, (params,))
        return await self._driver.fetch(statement.fetch_all, params)

    async def dispose(self) -> None:
        await self._driver.close()
        if self._sqlite is not None:
            jobs, self._sqlite = self._sqlite, None
            jobs.close()


class _DriverPool:
    """PostgreSQL's hot reads on an asyncpg pool of their own, outside any transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._pool: asyncio.Task[asyncpg.Pool] | None = None

    async def fetch(self, fetch: Callable[..., Awaitable[T]], params: Mapping[str, Any]) -> T:
        if self._pool is None:
            self._pool = asyncio.ensure_future(self._connect())
        try:
            # Shielded: an update cancelled mid-connect must not cancel it for the others.
            pool = await asyncio.shield(self._pool)
        except Exception:
            self._pool = None  # the server was down: the next read connects anew
            raise
        dialect = self._engine.dialect
        # Connections the server dropped (a restart, a failover) show on use, one at a
        # time; the pool lets each go, and a read is safe to repeat on the next.
        for _ in range(pool.get_max_size()):
            with contextlib.suppress(*_LOST_CONNECTION):
                async with pool.acquire() as conn:
                    return await fetch(conn, dialect, params)
        async with pool.acquire() as conn:
            return await fetch(conn, dialect, params)

    async def _connect(self) -> asyncpg.Pool:
        # SQLAlchemy's own translation of the URL (host, port, user, password, ssl, ...).
        _, options = self._engine.dialect.create_connect_args(self._engine.url)
        server_settings = {**options.pop("server_settings", {}),
                           "application_name": "promobot-hot"}
        return await asyncpg.create_pool(
            **options, min_size=1, max_size=10, server_settings=server_settings,
            init=_json_codecs, reset=_nothing_to_reset,
        )

    async def close(self) -> None:
        if self._pool is not None:
            task, self._pool = self._pool, None
            if not task.done():
                task.cancel()
            elif not task.cancelled() and task.exception() is None:
                await task.result().close()


_LOST_CONNECTION = (
    asyncpg.InterfaceError,  # the connection is closed, or its protocol was cut mid-state
    asyncpg.exceptions.InternalClientError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # "terminating connection due to ..."
    OSError,
)


async def _nothing_to_reset(conn: asyncpg.Connection) -> None:
    """Hot reads leave no session state behind (no SET, LISTEN, cursor or advisory lock),
    so a connection goes back to the pool without asyncpg's reset round trip."""


async def _json_codecs(conn: asyncpg.Connection) -> None:
    """JSON as SQLAlchemy's asyncpg dialect has it on its own connections, where
    `Prepared` takes its conversions from: parameters arrive serialized by the bind
    processors, results are decoded by the driver."""
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=str, decoder=json.loads, schema="pg_catalog")
