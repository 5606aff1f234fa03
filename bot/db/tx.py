"""One transaction's prepared statements, whichever driver runs them: `Tx`.

Checkout's rules (validate, redeem, release) are written once, as coroutines over a `Tx`
(`await tx.first(statement, params)`), and run two ways:

- on PostgreSQL, `DriverTx` runs each statement on a bare asyncpg connection of the hot
  path's pool (`bot.db.hotpath`): one round trip per statement, on the driver's own
  prepared-statement cache, with no greenlet hand-off or adapted cursor between;
- over a SQLAlchemy `Connection`, `SyncTx` runs them on the connection's DBAPI cursor:
  SQLite's writer thread and kept reader, and a session's own transaction (an order's
  codes released when the shop cancels it). Its statements never suspend, so `drive`
  runs the coroutine to its end in one step, in whichever thread holds the connection.

The two give the same answers for the same inputs (tests/db/test_tx.py runs checkout
through both on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, Protocol, TypeVar

import asyncpg
from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError

from bot.db.dialect import backend
from bot.db.prepared import Prepared

T = TypeVar("T")


class Tx(Protocol):
    """The statements of one transaction (or, for a read job on PostgreSQL, each its own)."""

    @property
    def backend(self) -> str: ...

    async def first(self, statement: Prepared, params: Mapping[str, Any]) -> Any | None: ...

    async def all(self, statement: Prepared, params: Mapping[str, Any]) -> list[Any]: ...

    async def scalar(self, statement: Prepared, params: Mapping[str, Any]) -> Any | None: ...

    async def rowcount(self, statement: Prepared, params: Mapping[str, Any]) -> int: ...


class SyncTx:
    """A `Tx` over a SQLAlchemy sync `Connection` whose transaction the caller manages."""

    __slots__ = ("backend", "conn")

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.backend = backend(conn)

    async def first(self, statement: Prepared, params: Mapping[str, Any]) -> Any | None:
        return statement.first(self.conn, params)

    async def all(self, statement: Prepared, params: Mapping[str, Any]) -> list[Any]:
        return statement.all(self.conn, params)

    async def scalar(self, statement: Prepared, params: Mapping[str, Any]) -> Any | None:
        return statement.scalar(self.conn, params)

    async def rowcount(self, statement: Prepared, params: Mapping[str, Any]) -> int:
        return statement.rowcount(self.conn, params)


class DriverTx:
    """A `Tx` over an asyncpg connection; the caller opens and ends its transaction.

    A unique or foreign key violation is raised as SQLAlchemy's `IntegrityError`, as the
    other path raises it, so the rules catch one exception whichever path runs them."""

    __slots__ = ("conn", "dialect")
    backend = "postgresql"

    def __init__(self, conn: asyncpg.Connection, dialect: Dialect) -> None:
        self.conn, self.dialect = conn, dialect

    async def first(self, statement: Prepared, params: Mapping[str, Any]) -> Any | None:
        return await self._run(statement.fetch_first, statement, params)

    async def all(self, statement: Prepared, params: Mapping[str, Any]) -> list[Any]:
        return await self._run(statement.fetch_all, statement, params)

    async def scalar(self, statement: Prepared, params: Mapping[str, Any]) -> Any | None:
        row = await self.first(statement, params)
        return None if row is None else row[0]

    async def rowcount(self, statement: Prepared, params: Mapping[str, Any]) -> int:
        return await self._run(statement.fetch_rowcount, statement, params)

    async def _run(self, fetch: Callable[..., Awaitable[Any]], statement: Prepared,
                   params: Mapping[str, Any]) -> Any:
        try:
            return await fetch(self.conn, self.dialect, params)
        except asyncpg.IntegrityConstraintViolationError as error:
            raise IntegrityError(str(statement.statement), dict(params), error) from error


def drive(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine over a `SyncTx` to its end, here and now."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coroutine.close()
    raise RuntimeError("a job over a SyncTx awaited something other than its statements")
