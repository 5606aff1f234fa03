"""The async engine and session factory, tuned per backend, and the hot path.

SQLite gets WAL, a busy timeout and `BEGIN IMMEDIATE` for every transaction of the
write engine, so two writers queue on the lock instead of failing mid-transaction
with "database is locked" on upgrade from a read lock. Reads that may be stale
(code validation, listings) use the read engine, whose transactions are deferred.

Checkout's calls (validate, redeem) take the hot path: a plain function over a sync
Core `Connection`, run as ONE job. On SQLite a write job goes to a thread of our own with
a sync engine, so a redeem costs one hand-off between the loop and a thread instead of
one per statement (aiosqlite's way), and the write lock is held for well under a
millisecond; a read job runs in the loop itself (WAL readers never wait). On PostgreSQL
the same function runs through `AsyncConnection.run_sync`.

The bot's reads on every update (`/codes`, the sender's account) are single prepared
SELECTs: `HotPath.first` and `HotPath.all`. On PostgreSQL they skip SQLAlchemy's pool
and async adapter and go to an asyncpg pool of their own, without a transaction: a pool
checkout with its pre-ping cost 0.4 ms of CPU, four times the query.

Several processes on one SQLite file (API workers, `promobot api` beside `promobot run`)
queue their hot writes on an flock of `<database>.write-lock` before BEGIN IMMEDIATE:
the kernel wakes the next writer the moment the lock is free, whereas SQLite's busy
handler polls with sleeps of up to 100 ms, which left redeems waiting seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bot.db.prepared import Prepared

SQLITE_BUSY_TIMEOUT_MS = 30_000
CHECKPOINT_EVERY_S = 0.5
T = TypeVar("T")


def _sqlite_engine(url: str, *, immediate: bool) -> AsyncEngine:
    engine = create_async_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        pool_size=8 if immediate else 16,
        max_overflow=0,
    )
    _tune_sqlite(engine.sync_engine, immediate=immediate)
    return engine


def _tune_sqlite(engine: Engine, *, immediate: bool, checkpoints: bool = True) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # Take transaction control away from the driver so that "begin" below decides.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        if not checkpoints:
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:  # type: ignore[no-untyped-def]
        # On the driver's cursor: SQLAlchemy's execution path costs more than BEGIN does.
        cursor = connection.connection.dbapi_connection.cursor()
        cursor.execute(begin)
        cursor.close()


class _Checkpointer:
    """Copies the WAL back into the database file from a thread of its own.

    SQLite checkpoints by default in the commit that crosses 1 000 WAL pages, fsync
    included: every so often a redeem held the write lock for 10–20 ms, and the
    redeems queued behind it made the p99. A PASSIVE checkpoint here never blocks a
    writer, so the hot writer's connection leaves checkpoints to this thread."""

    def __init__(self, engine: Engine, every: float = CHECKPOINT_EVERY_S) -> None:
        self.engine, self.every = engine, every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="sqlite-checkpoint",
                                            daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        with self.engine.connect() as conn:
            driver = conn.connection.dbapi_connection
            assert driver is not None
            while not self._stop.wait(self.every):
                with contextlib.suppress(sqlite3.Error):
                    driver.execute("PRAGMA wal_checkpoint(PASSIVE)").close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.engine.dispose()


class _KeptConnection:
    """A sync engine's one connection, kept open between jobs by the one thread that runs
    them: a pool checkout and return cost more than the indexed lookup in between."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None

    def _connection(self) -> Connection:
        conn = self._conn
        if conn is None or conn.invalidated:
            conn = self._conn = self.engine.connect()
        return conn

    def run(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        """`fn` in a transaction of its own."""
        with self._connection().begin() as transaction:
            return fn(transaction.connection, *args)

    def read(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        """`fn` without BEGIN and COMMIT around it: each of its SELECTs reads a snapshot
        of its own, which hot reads (stale by design) can take; a statement that went
        through SQLAlchemy began a transaction, which is rolled back."""
        conn = self._connection()
        try:
            return fn(conn, *args)
        finally:
            if conn.in_transaction():
                conn.rollback()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self.engine.dispose()


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
        self._sqlite = engine.dialect.name == "sqlite"
        # PostgreSQL: made by the first hot read, in the loop that will use it.
        self._driver_pool: asyncio.Task[asyncpg.Pool] | None = None
        self._writer: _KeptConnection | None = None
        self._reader: _KeptConnection | None = None
        self._write_lock: int | None = None
        if self._sqlite:
            sync_url = make_url(url).set(drivername="sqlite")
            # One writer thread: in-process writers queue here, not on the file lock.
            writer = create_engine(sync_url, pool_size=1, max_overflow=0)
            reader = create_engine(sync_url, pool_size=1, max_overflow=0)
            _tune_sqlite(writer, immediate=True, checkpoints=False)
            _tune_sqlite(reader, immediate=False)
            self._writer, self._reader = _KeptConnection(writer), _KeptConnection(reader)
            checkpointer = create_engine(sync_url, pool_size=1, max_overflow=0)
            _tune_sqlite(checkpointer, immediate=False)
            self._checkpointer = _Checkpointer(checkpointer)
            self._write_pool = ThreadPoolExecutor(1, thread_name_prefix="sqlite-write")
            self._write_lock = _write_lock_file(sync_url.database)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        if self._writer is not None:
            self._checkpointer.start()
            return await asyncio.get_running_loop().run_in_executor(
                self._write_pool, self._write_job, fn, args)
        async with self._engine.begin() as conn:
            return await conn.run_sync(fn, *args)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        if self._reader is not None:
            # In WAL mode a reader never waits for a lock, and hot reads are single indexed
            # lookups (~0.1 ms): running them right here beats any hand-off to a thread.
            return self._reader.read(fn, args)
        async with self._engine.begin() as conn:
            return await conn.run_sync(fn, *args)

    async def first(self, statement: Prepared, params: Mapping[str, Any]) -> Any | None:
        """The first row of a prepared SELECT, read as `read` reads: stale by design."""
        if self._reader is not None:
            return self._reader.read(statement.first, (params,))
        return await self._on_driver(statement.fetch_first, params)

    async def all(self, statement: Prepared, params: Mapping[str, Any]) -> list[Any]:
        """Every row of a prepared SELECT, read as `first` reads."""
        if self._reader is not None:
            return self._reader.read(statement.all, (params,))
        return await self._on_driver(statement.fetch_all, params)

    async def _on_driver(
        self, fetch: Callable[..., Awaitable[T]], params: Mapping[str, Any]
    ) -> T:
        if self._driver_pool is None:
            self._driver_pool = asyncio.ensure_future(self._connect_driver())
        try:
            # Shielded: an update cancelled mid-connect must not cancel it for the others.
            pool = await asyncio.shield(self._driver_pool)
        except Exception:
            self._driver_pool = None  # the server was down: the next read connects anew
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

    async def _connect_driver(self) -> asyncpg.Pool:
        # SQLAlchemy's own translation of the URL (host, port, user, password, ssl, ...).
        _, options = self._engine.dialect.create_connect_args(self._engine.url)
        server_settings = {**options.pop("server_settings", {}),
                           "application_name": "promobot-hot"}
        return await asyncpg.create_pool(
            **options, min_size=1, max_size=10, server_settings=server_settings,
            init=_json_codecs, reset=_nothing_to_reset,
        )

    def _write_job(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        assert self._writer is not None
        with _locked(self._write_lock):
            return self._writer.run(fn, args)

    async def dispose(self) -> None:
        if self._driver_pool is not None:
            task, self._driver_pool = self._driver_pool, None
            if not task.done():
                task.cancel()
            elif not task.cancelled() and task.exception() is None:
                await task.result().close()
        if self._writer is not None and self._reader is not None:
            # Each connection is closed by the thread that opened it (sqlite3 insists).
            self._write_pool.submit(self._writer.close)
            self._write_pool.shutdown(wait=True)
            self._reader.close()
            self._checkpointer.stop()
            self._writer = self._reader = None
            if self._write_lock is not None:
                os.close(self._write_lock)
                self._write_lock = None


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


def _write_lock_file(database: str | None) -> int | None:
    """The lock file beside a SQLite database file (none for an in-memory database).

    A file of its own, never the database: closing any descriptor of the database file
    would drop the POSIX locks SQLite holds on it in this process."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return os.open(f"{database}.write-lock", os.O_RDWR | os.O_CREAT, 0o600)


@contextmanager
def _locked(fd: int | None) -> Iterator[None]:
    if fd is None:
        yield
        return
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


@dataclass(slots=True)
class Database:
    """Engines and session factories for one database URL."""

    url: str
    engine: AsyncEngine
    read_engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    read_session_factory: async_sessionmaker[AsyncSession]
    hot: HotPath

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A write session; the caller commits."""
        async with self.session_factory() as session:
            yield session

    @asynccontextmanager
    async def read_session(self) -> AsyncIterator[AsyncSession]:
        async with self.read_session_factory() as session:
            yield session

    async def dispose(self) -> None:
        await self.hot.dispose()
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()


def create_database(url: str, *, echo: bool = False) -> Database:
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        engine = _sqlite_engine(url, immediate=True)
        read_engine = _sqlite_engine(url, immediate=False)
    else:
        engine = create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)
        read_engine = engine
    engine.echo = echo
    return Database(
        url=url,
        engine=engine,
        read_engine=read_engine,
        session_factory=async_sessionmaker(engine, expire_on_commit=False),
        read_session_factory=async_sessionmaker(read_engine, expire_on_commit=False),
        hot=HotPath(url, engine),
    )
