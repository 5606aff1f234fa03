"""Where SQLite and PostgreSQL differ in the SQL we build: the one place that asks which.

The two backends agree on the SQL we write except in a few spots: `INSERT ... ON
CONFLICT` is built by each dialect's own `insert` (the generic one has no ON CONFLICT),
and some statements exist on PostgreSQL alone (row and advisory locks, COPY, ANALYZE)
because SQLite's single write lock already serialises what they serialise. Code that
needs the difference asks here instead of comparing dialect names itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    ColumnElement,
    Connection,
    FromClause,
    all_,
    any_,
    bindparam,
    cast,
    column,
    func,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert
from sqlalchemy.types import TypeEngine

POSTGRESQL = "postgresql"
SQLITE = "sqlite"
BACKENDS = (POSTGRESQL, SQLITE)
# What every PostgreSQL connection of ours sets. No JIT: our statements are short,
# batched and run over and over, and PostgreSQL compiles a statement whose estimated cost
# passes `jit_above_cost` on every execution — an audience batch whose cost was estimated
# high spent 340 ms compiling to run in 9 ms.
POSTGRESQL_SETTINGS = {"jit": "off"}
_DIALECTS = {POSTGRESQL: postgresql.dialect(), SQLITE: sqlite.dialect()}
# Each dialect's own INSERT: the generic one has no ON CONFLICT clause.
ConflictInsert = postgresql.Insert | sqlite.Insert


def backend(bind: AsyncSession | Connection) -> str:
    """The backend (`postgresql`, `sqlite`) a session or a sync connection talks to."""
    if isinstance(bind, AsyncSession):
        return bind.get_bind().dialect.name
    return bind.dialect.name


def is_postgresql(bind: AsyncSession | Connection) -> bool:
    return backend(bind) == POSTGRESQL


def is_sqlite_url(url: str) -> bool:
    """Whether a database URL (any driver) names SQLite, before any engine exists."""
    return make_url(url).get_backend_name() == SQLITE


def is_postgresql_url(url: str) -> bool:
    return make_url(url).get_backend_name() == POSTGRESQL


def conflict_insert(on: AsyncSession | Connection | str, table: Any) -> ConflictInsert:
    """An INSERT that takes `on_conflict_do_nothing` / `on_conflict_do_update`.

    `on` is a session or connection, or a backend's name for statements built once per
    backend ahead of time (the hot path's prepared statements).
    """
    name = on if isinstance(on, str) else backend(on)
    return (postgresql.insert if name == POSTGRESQL else sqlite.insert)(table)


def insert_ignoring_conflict(session: AsyncSession, table: Any, **values: Any) -> Insert:
    """`INSERT ... ON CONFLICT DO NOTHING` for the session's backend.

    A concurrent insert of the same key waits for the first one to commit and then does
    nothing, instead of failing the whole transaction with an IntegrityError.
    """
    return conflict_insert(session, table).values(**values).on_conflict_do_nothing()


def one_of(on: AsyncSession | Connection, column: Any, values: Iterable[Any]
           ) -> ColumnElement[bool]:
    """`column IN values`, for a list of ids that changes from one batch to the next.

    PostgreSQL gets the list as one array parameter (`= ANY($1)`). As an IN list of N
    parameters, the statement's prepared plan is made for all lists alike, and a plan made
    while a table was small (a campaign's assignments at the first batch) may read every
    row the other conditions allow and filter the list over them: 1.5 s a batch at 140 000
    assignments, where `ANY` walks the index for the list alone (0.8 ms).
    """
    values = list(values)
    if backend(on) == POSTGRESQL:
        return column == any_(bindparam(None, values, type_=postgresql.ARRAY(column.type)))
    return column.in_(values)


def none_of(on: AsyncSession | Connection, column: Any, values: Iterable[Any]
            ) -> ColumnElement[bool]:
    """`column NOT IN values`, as `one_of` (`<> ALL($1)` on PostgreSQL)."""
    values = list(values)
    if backend(on) == POSTGRESQL:
        return column != all_(bindparam(None, values, type_=postgresql.ARRAY(column.type)))
    return column.not_in(values)


def json_records(on: str, document: Any, columns: Sequence[Column[Any]]
                 ) -> tuple[FromClause, list[ColumnElement[Any]]]:
    """The rows of a JSON document (an array of objects, keyed by the columns' names) as
    a FROM clause and one expression per column: `jsonb_to_recordset` typed as the
    columns on PostgreSQL, `json_extract` over `json_each` on SQLite (a time must come
    as SQLite stores it, a JSON column's value as JSON)."""
    if on == POSTGRESQL:
        record = func.jsonb_to_recordset(cast(document, postgresql.JSONB)).table_valued(
            *(column(c.key, c.type) for c in columns)
        ).render_derived(with_types=True)
        return record, [record.c[c.key] for c in columns]
    each = func.json_each(document).table_valued("value")
    # `->` keeps a JSON column's value as JSON text (`json_extract` would unwrap a bare
    # string); other columns take the SQL value.
    return each, [each.c.value.op("->")(f"$.{c.key}") if isinstance(c.type, JSON)
                  else func.json_extract(each.c.value, f"$.{c.key}") for c in columns]


def json_time(on: str, type_: TypeEngine[datetime]) -> Callable[[datetime], Any]:
    """A time as `json_records` reads it into a column of `type_`: SQLite keeps times as
    text in SQLAlchemy's format (naive UTC, by the column's own type); PostgreSQL reads ISO
    8601 with its offset into `timestamptz`. A naive time is refused by the type, as
    anywhere else."""
    dialect = _DIALECTS[on]
    processor = type_.dialect_impl(dialect).bind_processor(dialect) or (lambda value: value)
    if on == POSTGRESQL:
        return lambda value: processor(value).isoformat()
    return processor


def day_number(on: AsyncSession | Connection, moment: Any) -> ColumnElement[Any]:
    """A time as a number of days (with their fraction) on a fixed scale, so that the days
    between two times are a subtraction: the epoch's seconds ÷ 86 400 on PostgreSQL;
    SQLite keeps times as text, which `julianday` reads (once per row: reading it is most
    of the cost)."""
    if is_postgresql(on):
        return func.extract("epoch", moment) / 86_400
    return func.julianday(moment)


async def walk_the_keys(session: AsyncSession) -> None:
    """PostgreSQL: this transaction reads a window of keys (a run's batch); plan it as a
    walk of the keys' index. Left to itself, PostgreSQL ANDs that index with another one
    the audience's conditions allow (a comeback window's dates) in a bitmap, and reads
    330 000 of the dates' entries for a batch of 330 rows: 35 ms, where the walk takes 3."""
    if is_postgresql(session):
        await session.execute(text("SET LOCAL enable_bitmapscan = off"))
