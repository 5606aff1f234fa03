"""The hot path: checkout's jobs and the bot's reads on every update, each as one job.

Checkout's calls (validate, redeem, release) are coroutines over a `Tx` (`bot.db.tx`):
`fn(tx, *args)`, run as ONE job. On PostgreSQL the job runs on one of the process's own
asyncpg connections (`bot.db.connections`), each statement one round trip on the driver's
prepared-statement cache: a write job in a transaction, a read job statement by statement
(each reads what has committed, as checkout's validation may). On SQLite a write job goes
to a thread of our own with a sync engine and a read job runs in the loop itself
(`bot.db.sqlite.SQLiteJobs` says why), driven through SQLAlchemy's connection (`SyncTx`).

The bot's reads on every update (`/codes`, the sender's account) are single prepared
SELECTs: `HotPath.first` and `HotPath.all`, on the same connections.

Why not SQLAlchemy's async engine on PostgreSQL: per statement it hands off between
greenlets and goes through an adapted cursor, and per job it checks a connection out
with a pre-ping: measured, four times a query's own cost, and the checkout at a quarter
of what the driver alone reaches (README, "Benchmarks").
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.db.connections import UNSURE, Connections
from bot.db.dialect import POSTGRESQL_SETTINGS, SQLITE
from bot.db.prepared import Prepared
from bot.db.sqlite import SQLiteJobs
from bot.db.tx import DriverTx, SyncTx, Tx, drive

T = TypeVar("T")
Job = Callable[..., Coroutine[Any, Any, T]]
# What a hot-path job raises when the database fails or cannot be reached, whichever path
# ran it (TimeoutError is an OSError).
DATABASE_ERRORS = (SQLAlchemyError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError)


async def on_connection(session: AsyncSession, fn: Job[T], *args: Any, **kwargs: Any) -> T:
    """Run a hot-path job (`fn(tx, ...)`) inside an async session's own transaction, for
    callers that already hold a session."""
    return await session.run_sync(lambda sync: _driven(sync.connection(), fn, *args, **kwargs))


def _driven(conn: Connection, fn: Job[T], *args: Any, **kwargs: Any) -> T:
    return drive(fn(SyncTx(conn), *args, **kwargs))


class HotPath:
    """Runs `fn(tx, *args)` as one job, and single prepared SELECTs as hot reads (see
    the module doc). `through_driver=False` runs PostgreSQL's jobs through SQLAlchemy's
    async engine instead: the path the driver's answers are checked against."""

    def __init__(self, url: str, engine: AsyncEngine, *, through_driver: bool = True) -> None:
        self._engine = engine
        self._sqlite = SQLiteJobs(url) if engine.dialect.name == SQLITE else None
        # PostgreSQL: made by the first job, in the loop that will use it.
        self._driver = _Driver(engine) if through_driver else None

    async def write(self, fn: Job[T], *args: Any) -> T:
        """`fn` in a transaction of its own."""
        if self._sqlite is not None:
            return await self._sqlite.write(_driven, (fn, *args))
        if self._driver is not None:
            return await self._driver.transaction(fn, args)
        async with self._engine.begin() as conn:
            return await conn.run_sync(_driven, fn, *args)

    async def read(self, fn: Job[T], *args: Any) -> T:
        """`fn` as reads that may be a moment stale: SQLite's kept reader, PostgreSQL's
        statements each on its own."""
        if self._sqlite is not None:
            return self._sqlite.read(_driven, (fn, *args))
        if self._driver is not None:
            return await self._driver.statements(fn, args)
        async with self._engine.begin() as conn:
            return await conn.run_sync(_driven, fn, *args)

    async def first(self, statement: Prepared, params: Mapping[str, Any]) -> Any | None:
        """The first row of a prepared SELECT, read as `read` reads: stale by design."""
        return await self.read(_first, statement, params)

    async def all(self, statement: Prepared, params: Mapping[str, Any]) -> list[Any]:
        """Every row of a prepared SELECT, read as `first` reads."""
        return await self.read(_all, statement, params)

    async def write_first(self, statement: Prepared, params: Mapping[str, Any]) -> Any | None:
        """The first row of a prepared write (INSERT … RETURNING), in a job of its own."""
        return await self.write(_first, statement, params)

    async def dispose(self) -> None:
        if self._driver is not None:
            await self._driver.close()
        if self._sqlite is not None:
            jobs, self._sqlite = self._sqlite, None
            jobs.close()


async def _first(tx: Tx, statement: Prepared, params: Mapping[str, Any]) -> Any | None:
    return await tx.first(statement, params)


async def _all(tx: Tx, statement: Prepared, params: Mapping[str, Any]) -> list[Any]:
    return await tx.all(statement, params)


class _Driver:
    """PostgreSQL's hot-path jobs on asyncpg connections of their own (`Connections`)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connections = Connections(self._connect, size=_POOL_SIZE)

    async def statements(self, fn: Job[T], args: tuple[Any, ...]) -> T:
        """`fn` outside any transaction: each statement commits on its own."""
        connections, dialect = self._connections, self._engine.dialect
        for attempt in range(connections.size + 1):
            conn = await connections.acquire()  # a server out of reach fails the job now
            try:
                result = await fn(DriverTx(conn, dialect), *args)
            except BaseException as error:
                connections.release(conn, error)
                # Connections the server dropped (a restart, a failover) show on use, one
                # at a time; a read job is safe to repeat on the next.
                if isinstance(error, _LOST_CONNECTION) and attempt < connections.size:
                    continue
                raise
            connections.release(conn)
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    async def transaction(self, fn: Job[T], args: tuple[Any, ...]) -> T:
        """`fn` in one transaction, committed if it returns, rolled back if it raises."""
        connections, dialect = self._connections, self._engine.dialect
        for attempt in range(connections.size + 1):
            conn = await connections.acquire()
            transaction = conn.transaction()
            try:
                await transaction.start()
            except BaseException as error:
                conn.terminate()  # a failed BEGIN leaves asyncpg's transaction state unsure
                connections.release(conn, error)
                # A dropped connection shows at BEGIN, before the job did anything: the
                # next connection may run it. Later, a job is never repeated.
                if isinstance(error, _LOST_CONNECTION) and attempt < connections.size:
                    continue
                raise
            try:
                try:
                    result = await fn(DriverTx(conn, dialect), *args)
                except BaseException:
                    # A connection lost mid-job cannot roll back: the server already has.
                    with contextlib.suppress(*_LOST_CONNECTION):
                        await transaction.rollback()
                    raise
                await transaction.commit()
            except BaseException as error:  # the job's, or the rollback's (a cancellation)
                connections.release(conn, error)
                raise
            connections.release(conn)
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    async def _connect(self) -> asyncpg.Connection:
        # SQLAlchemy's own translation of the URL (host, port, user, password, ssl, ...).
        _, options = self._engine.dialect.create_connect_args(self._engine.url)
        server_settings = {**options.pop("server_settings", {}), **POSTGRESQL_SETTINGS,
                           "application_name": "promobot-hot"}
        conn = await asyncpg.connect(**options, server_settings=server_settings)
        try:
            await _json_codecs(conn)
        except BaseException:
            conn.terminate()
            raise
        return conn

    async def close(self) -> None:
        # As an engine's dispose: a job after this connects anew.
        connections = self._connections
        self._connections = Connections(self._connect, size=_POOL_SIZE)
        await connections.close()


# Enough for the checkout's concurrent jobs of one process: a redeem holds its connection
# for a handful of round trips (about a millisecond).
_POOL_SIZE = 10
_LOST_CONNECTION = (
    *UNSURE,  # the connection is closed, its protocol was cut mid-state, its socket is gone
    asyncpg.PostgresConnectionError,
    # "terminating connection due to ..." (not a statement cancelled or timed out, which
    # the next connection would only repeat)
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.IdleSessionTimeoutError,
)


async def _json_codecs(conn: asyncpg.Connection) -> None:
    """JSON as SQLAlchemy's asyncpg dialect has it on its own connections, where
    `Prepared` takes its conversions from: parameters arrive serialized by the bind
    processors, results are decoded by the driver."""
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=str, decoder=json.loads, schema="pg_catalog")
