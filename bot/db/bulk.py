"""Many rows in one INSERT … SELECT whose one parameter is the rows as a JSON document.

Why ours and not SQLAlchemy's executemany: "insertmanyvalues" binds every value of every
row as a parameter of its own and runs each through its type's processor in Python. A
campaign's batch of 500 assignments and 500 messages is 9 000 parameters, and that was
most of our CPU in a million-customer run. Here a batch is one `json.dumps` (in C), and
the database unpacks it (`json_records`: `jsonb_to_recordset` with the table's own column
types on PostgreSQL, `json_each` on SQLite). Columns the rows leave out take their defaults, once
per statement, as an `INSERT … SELECT` of SQLAlchemy does.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Result, Table, Text, bindparam, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from bot.db.dialect import backend, conflict_insert, json_records, json_time
from bot.db.types import UTCDateTime


async def insert_rows(
    session: AsyncSession,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    skip_conflicts: bool | tuple[str, ...] = False,
    returning: tuple[Column[Any], ...] = (),
    **same: Any,
) -> Result[Any]:
    """`INSERT INTO table (…) SELECT …` of `rows` (each with the same keys) plus the
    columns in `same`, bound once for all of them; in the session's transaction.

    `skip_conflicts`: ON CONFLICT DO NOTHING (True), or on the unique index of these
    columns. The statement is built once per shape: building it per batch cost more
    than encoding the rows.
    """
    name = backend(session)
    first = rows[0].keys() if rows else {}.keys()
    keys = tuple(first)
    if any(row.keys() != first for row in rows) or not first.isdisjoint(same):
        raise ValueError("every row needs the same columns, none of them in `same`")
    statement = _statement(name, table, keys, tuple(same), skip_conflicts,
                           tuple(column.key for column in returning))
    times = {key: json_time(name, table.c[key].type) for key in keys
             if isinstance(table.c[key].type, UTCDateTime)}
    document = json.dumps([_encoded(row, times) for row in rows], ensure_ascii=False)
    params = {f"same_{key}": value for key, value in same.items()}
    return await session.execute(statement, {"rows": document, **params})


@functools.cache
def _statement(name: str, table: Table, keys: tuple[str, ...], same: tuple[str, ...],
               skip_conflicts: bool | tuple[str, ...], returning: tuple[str, ...]) -> Insert:
    records, per_row = json_records(name, bindparam("rows", type_=Text),
                                    [table.c[key] for key in keys])
    # SQLite parses `INSERT … SELECT … FROM x ON CONFLICT` only with a WHERE clause.
    source = select(*per_row).select_from(records).where(true())
    shared = [bindparam(f"same_{key}", type_=table.c[key].type) for key in same]
    statement = conflict_insert(name, table).from_select([*keys, *same],
                                                         source.add_columns(*shared))
    if skip_conflicts is not False:
        statement = statement.on_conflict_do_nothing(
            index_elements=None if skip_conflicts is True else list(skip_conflicts)
        )
    if returning:
        statement = statement.returning(*(table.c[key] for key in returning))
    return statement


def _encoded(row: Mapping[str, Any], times: Mapping[str, Callable[[datetime], Any]]
             ) -> Mapping[str, Any]:
    if all(row[key] is None for key in times):
        return row
    out = dict(row)
    for key, encode in times.items():
        if out[key] is not None:
            out[key] = encode(out[key])
    return out
