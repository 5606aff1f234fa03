"""Hot statements, compiled once per dialect and run on the driver's cursor.

SQLAlchemy runs a cached Core statement in about 60 µs of Python: execution context,
events, result metadata. That is more than SQLite takes for the indexed lookup itself,
and a validate or redeem runs 2–6 statements, thousands of times a second. A `Prepared`
statement keeps what SQLAlchemy computes once (the SQL for the dialect, the order of
its parameters, the type conversions of parameters and columns) and runs the SQL on
the DBAPI cursor of a connection that SQLAlchemy opened and whose transaction it still
manages (`Database.hot`), so BEGIN IMMEDIATE, commit and rollback are unchanged. On
PostgreSQL the same statements run on a bare asyncpg connection (`fetch_first`,
`fetch_all`, `fetch_rowcount`), for `HotPath`'s jobs (`bot.db.tx`).

Rows come back as named tuples: `row.id`, like a Core row. Only plain statements are
supported: no expanding IN lists, no server-side defaults to fetch.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, inspect, select
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.instrumentation import manager_of_class as manager_of
from sqlalchemy.sql.base import Executable

_NOTHING = object()


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    # Per position: the parameter's name, its value when not given, its conversion.
    binds: tuple[tuple[str, Any, Callable[[Any], Any] | None], ...]
    row: type[tuple[Any, ...]] | None
    results: tuple[Callable[[Any], Any] | None, ...]
    converts_results: bool


class Prepared:
    """A Core statement, compiled for each dialect the first time it runs there."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = self._compile(dialect)
        return compiled

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect)
        if compiled.positiontup is None:
            raise TypeError(f"{dialect.name} does not use positional parameters")
        binds = []
        for name in compiled.positiontup:
            bind = compiled.binds[name]
            if bind.expanding:
                raise TypeError("expanding IN parameters are not supported")
            default = _NOTHING if bind.required else bind.effective_value
            binds.append((name, default, bind.type.dialect_impl(dialect).bind_processor(dialect)))
        columns = list(getattr(self.statement, "exported_columns", ()))
        results = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None)
                        for c in columns)
        row = namedtuple("Row", [c.key for c in columns]) if columns else None  # type: ignore[misc]
        return _Compiled(compiled.string, tuple(binds), row, results,
                         any(p is not None for p in results))

    def _bound(
        self, dialect: Dialect, params: Mapping[str, Any]
    ) -> tuple[_Compiled, tuple[Any, ...]]:
        compiled = self._for(dialect)
        values = []
        for name, default, process in compiled.binds:
            value = params.get(name, default)
            if value is _NOTHING:
                raise KeyError(f"missing parameter {name!r}")
            values.append(process(value) if process is not None else value)
        return compiled, tuple(values)

    def _run(self, conn: Connection, params: Mapping[str, Any]) -> tuple[Any, _Compiled]:
        compiled, values = self._bound(conn.dialect, params)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(compiled.sql, values)
        return cursor, compiled

    def first(self, conn: Connection, params: Mapping[str, Any]) -> Any | None:
        """The first row, or None."""
        cursor, compiled = self._run(conn, params)
        try:
            raw = cursor.fetchone()
        finally:
            cursor.close()
        return self._row(compiled, raw)

    @staticmethod
    def _row(compiled: _Compiled, raw: Sequence[Any] | None) -> Any | None:
        if raw is None or compiled.row is None:
            return None
        if compiled.converts_results:
            raw = [v if p is None or v is None else p(v)
                   for p, v in zip(compiled.results, raw, strict=True)]
        return compiled.row._make(raw)

    def all(self, conn: Connection, params: Mapping[str, Any]) -> list[Any]:
        """Every row."""
        cursor, compiled = self._run(conn, params)
        try:
            raws = cursor.fetchall()
        finally:
            cursor.close()
        assert compiled.row is not None
        return [self._row(compiled, raw) for raw in raws]

    def scalar(self, conn: Connection, params: Mapping[str, Any]) -> Any | None:
        """The first column of the first row, or None."""
        row = self.first(conn, params)
        return None if row is None else row[0]

    async def fetch_first(self, driver: Any, dialect: Dialect, params: Mapping[str, Any]) -> Any:
        """`first` over an asyncpg connection, outside any transaction (`HotPath.first`)."""
        compiled, values = self._bound(dialect, params)
        return self._row(compiled, await driver.fetchrow(compiled.sql, *values))

    async def fetch_all(
        self, driver: Any, dialect: Dialect, params: Mapping[str, Any]
    ) -> list[Any]:
        """`all` over an asyncpg connection, outside any transaction (`HotPath.all`)."""
        compiled, values = self._bound(dialect, params)
        assert compiled.row is not None
        return [self._row(compiled, record) for record in await driver.fetch(compiled.sql, *values)]

    async def fetch_rowcount(
        self, driver: Any, dialect: Dialect, params: Mapping[str, Any]
    ) -> int:
        """`rowcount` over an asyncpg connection: the count its status line ends with
        ("UPDATE 1", "INSERT 0 1")."""
        compiled, values = self._bound(dialect, params)
        status = await driver.execute(compiled.sql, *values)
        return int(status.rpartition(" ")[2])

    def rowcount(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """How many rows the statement changed."""
        cursor, _ = self._run(conn, params)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()


class TablePart:
    """A table's columns inside a wider prepared SELECT (a join that reads several things
    in one round trip), read back as the table's own row: `part.of(row)` is a named tuple
    of the table's columns, or None when the outer join found no row."""

    def __init__(self, table: Any, prefix: str) -> None:
        self.columns = [column.label(prefix + column.key) for column in table.c]
        self._row = namedtuple(f"{table.name}_row", [column.key for column in table.c])  # type: ignore[misc]
        if not table.c[0].primary_key:
            raise TypeError(f"{table.name}: the first column must be the primary key")
        self._first = self.columns[0].key

    def of(self, row: Any) -> Any | None:
        start = row._fields.index(self._first)
        values = row[start:start + len(self.columns)]
        # The primary key comes first: None means no row was joined.
        return None if values[0] is None else self._row._make(values)


class DetachedRows:
    """Mapped classes read side by side in one prepared row, turned into detached ORM
    objects, as a closed session leaves them, without a Session on the way: for hot reads
    whose callers are written for ORM objects. An entity whose primary key came back
    NULL (an outer join that found nothing) is None."""

    def __init__(self, *models: type[Any]) -> None:
        self._columns: list[Any] = []
        # Per model: its class, its attribute names, where they start in the row, and
        # the offset of its primary key among them.
        self._parts: list[tuple[type[Any], tuple[str, ...], int, int]] = []
        for number, model in enumerate(models):
            mapper = inspect(model)
            start = len(self._columns)
            keys = []
            for prop in mapper.column_attrs:
                keys.append(prop.key)
                self._columns.append(prop.columns[0].label(f"e{number}_{prop.key}"))
            primary_key = keys.index(mapper.get_property_by_column(mapper.primary_key[0]).key)
            self._parts.append((model, tuple(keys), start, primary_key))

    def select(self) -> Select[Any]:
        """SELECT of every mapped column, to be completed with FROM and WHERE."""
        return select(*self._columns)

    def objects(self, row: Sequence[Any]) -> list[Any | None]:
        found: list[Any | None] = []
        for model, keys, start, primary_key in self._parts:
            values = row[start:start + len(keys)]
            if values[primary_key] is None:
                found.append(None)
                continue
            # As the ORM's own loading does: no __init__, the values straight into the
            # instance's dict (an __init__ of 25 attributes costs 30 µs of events).
            entity = manager_of(model).new_instance()
            entity.__dict__.update(zip(keys, values, strict=True))
            make_transient_to_detached(entity)
            found.append(entity)
        return found
