"""SQLite tuned for one database file shared by threads and processes.

Every connection gets WAL, a busy timeout and, on the write engines, `BEGIN IMMEDIATE`
for every transaction, so two writers queue on the lock instead of failing
mid-transaction with "database is locked" on upgrade from a read lock. Read engines keep
deferred transactions (WAL readers never wait).

The hot path's jobs (`SQLiteJobs`): a write job goes to a thread of our own with a sync
engine, so a redeem costs one hand-off between the loop and a thread instead of one per
statement (aiosqlite's way), and the write lock is held for well under a millisecond; a
read job runs in the loop itself.

Several processes on one SQLite file (API workers, `promobot api` beside `promobot run`)
queue their hot writes on an flock of `<database>.write-lock` before BEGIN IMMEDIATE:
the kernel wakes the next writer the moment the lock is free, whereas SQLite's busy
handler polls with sleeps of up to 100 ms, which left redeems waiting seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

SQLITE_BUSY_TIMEOUT_MS = 30_000
CHECKPOINT_EVERY_S = 0.5
T = TypeVar("T")


def async_engine(url: str, *, immediate: bool) -> AsyncEngine:
    """The sessions' engine: `immediate` for the write engine, deferred for reads."""
    engine = create_async_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        pool_size=8 if immediate else 16,
        max_overflow=0,
    )
    _tune(engine.sync_engine, immediate=immediate)
    return engine


def _tune(engine: Engine, *, immediate: bool, checkpoints: bool = True) -> None:
    """WAL, the busy timeout and foreign keys on every connection; BEGIN IMMEDIATE on a
    write engine; `checkpoints=False` leaves checkpoints to a `_Checkpointer`."""

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


class SQLiteJobs:
    """The hot path's jobs on one SQLite file: writes on one thread of our own, in-process
    writers queueing there and other processes on the file lock; reads on a kept
    connection in the caller's thread; checkpoints on a thread of their own."""

    def __init__(self, url: str) -> None:
        sync_url = make_url(url).set(drivername="sqlite")
        # One writer thread: in-process writers queue here, not on the file lock.
        writer = create_engine(sync_url, pool_size=1, max_overflow=0)
        reader = create_engine(sync_url, pool_size=1, max_overflow=0)
        _tune(writer, immediate=True, checkpoints=False)
        _tune(reader, immediate=False)
        self._writer, self._reader = _KeptConnection(writer), _KeptConnection(reader)
        checkpointer = create_engine(sync_url, pool_size=1, max_overflow=0)
        _tune(checkpointer, immediate=False)
        self._checkpointer = _Checkpointer(checkpointer)
        self._write_pool = ThreadPoolExecutor(1, thread_name_prefix="sqlite-write")
        self._write_lock = _write_lock_file(sync_url.database)

    async def write(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        """`fn(connection, *args)` in a transaction of its own, on the writer thread."""
        self._checkpointer.start()
        return await asyncio.get_running_loop().run_in_executor(
            self._write_pool, self._write_job, fn, args)

    def read(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        """`fn(connection, *args)` right here, as `_KeptConnection.read` reads.

        In WAL mode a reader never waits for a lock, and hot reads are single indexed
        lookups (~0.1 ms): running them in the loop beats any hand-off to a thread."""
        return self._reader.read(fn, args)

    def _write_job(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        with _locked(self._write_lock):
            return self._writer.run(fn, args)

    def close(self) -> None:
        # Each connection is closed by the thread that opened it (sqlite3 insists).
        self._write_pool.submit(self._writer.close)
        self._write_pool.shutdown(wait=True)
        self._reader.close()
        self._checkpointer.stop()
        if self._write_lock is not None:
            os.close(self._write_lock)
            self._write_lock = None


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


def _write_lock_file(database: str | None) -> int | None:
    """The lock file beside a SQLite database file (none for an in-memory database).

    A file of its own, never the database: closing any descriptor of the database file
    would drop the POSIX locks SQLite holds on it in this process."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return os.open(f"{database}.write-lock", os.O_RDWR | os.O_CREAT, 0o600)


@contextmanager
def _locked(fd: int | None) -> Iterator[None]:
    """Hold the flock of a lock file (from `_write_lock_file`) for the block."""
    if fd is None:
        yield
        return
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
