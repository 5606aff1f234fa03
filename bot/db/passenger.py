"""A small write that travels in a hot read job's first statement instead of taking a
round trip of its own: a passenger.

On PostgreSQL every statement is a round trip, and on this path a round trip's socket
write and read cost more CPU than the statement's own work in Python. A write whose
answer is needed before the job's verdict (the anti-guessing brake's take, which must
count a check before it is judged) can go as a data-modifying CTE of the job's first
SELECT: `WITH hit AS (INSERT … RETURNING …) SELECT …` runs both at once, the read
seeing the snapshot the statement began with. PostgreSQL only: SQLite has no
data-modifying CTE, and needs no round trip saved.

The carried statement is the job's own SELECT left-joined to the passenger's one-row
SELECT (the cargo), so a row always comes back: the passenger's columns ride at the end
of it, after the job's columns and a flag that says whether the job's SELECT found a
row. The job reads its row as before, by name or position, and sees None when its
SELECT found nothing.

Run in autocommit (a hot read job's statements each commit on their own), the write's
row locks last as long as the one statement: a write job would hold them to its end.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from sqlalchemy import Select, select, true

from bot.db.prepared import Prepared
from bot.db.tx import Tx

_FOUND = "carried_row_found"


class Passenger(Protocol):
    """What rides: `cargo`, a one-row SELECT whose CTE writes (its parameters in
    `params`), and what to do with its row when it arrives."""

    @property
    def cargo(self) -> Select[Any]: ...

    @property
    def params(self) -> Mapping[str, Any]: ...

    @property
    def waiting(self) -> bool:
        """Not arrived yet: a job repeated on another connection carries it only once."""
        ...

    def arrived(self, row: Any) -> None:
        """Its columns have come back (in `row`, by name); may raise to stop the job."""


_carried: dict[tuple[Prepared, Select[Any]], Prepared] = {}


def carrying(statement: Prepared, cargo: Select[Any]) -> Prepared:
    """`statement`'s rows followed by its found flag and the cargo's columns; one row
    of the cargo alone when `statement` finds none. Built once per pair."""
    carried = _carried.get((statement, cargo))
    if carried is None:
        own = statement.statement
        if not isinstance(own, Select):
            raise TypeError("a passenger rides a SELECT")
        rows = own.add_columns(true().label(_FOUND)).subquery("carrier")
        load = cargo.subquery("cargo")
        carried = _carried[statement, cargo] = Prepared(
            select(*rows.c, *load.c).select_from(load.outerjoin(rows, true())))
    return carried


class Carrier:
    """A `Tx` whose first statement, a `first`, carries a passenger; the rest run as the
    inner `Tx` runs them."""

    __slots__ = ("backend", "passenger", "tx")

    def __init__(self, tx: Tx, passenger: Passenger) -> None:
        self.tx, self.passenger, self.backend = tx, passenger, tx.backend

    async def first(self, statement: Prepared, params: Mapping[str, Any]) -> Any | None:
        passenger = self.passenger
        if not passenger.waiting:
            return await self.tx.first(statement, params)
        row = await self.tx.first(carrying(statement, passenger.cargo),
                                  {**params, **passenger.params})
        passenger.arrived(row)
        return row if getattr(row, _FOUND) else None

    async def all(self, statement: Prepared, params: Mapping[str, Any]) -> list[Any]:
        self._alone()
        return await self.tx.all(statement, params)

    async def scalar(self, statement: Prepared, params: Mapping[str, Any]) -> Any | None:
        self._alone()
        return await self.tx.scalar(statement, params)

    async def rowcount(self, statement: Prepared, params: Mapping[str, Any]) -> int:
        self._alone()
        return await self.tx.rowcount(statement, params)

    def _alone(self) -> None:
        if self.passenger.waiting:
            raise TypeError("a passenger rides its job's first statement, which is a `first`")
