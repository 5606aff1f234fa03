"""Conditional writes in a chain: each runs only when the one before it wrote its row.

A redeem's writes are conditional (take a use of the code if one is left, add the code to
the order if the order is still as read, charge the budget if it allows, record the
use), and each needs the one before it. One by one they cost a round trip each. On
PostgreSQL a `Chain` runs them as one statement of data-modifying WITH queries:

    WITH took AS (UPDATE promo_codes ... RETURNING id),
         claimed AS (INSERT INTO order_discounts ... SELECT ... FROM took
                     ON CONFLICT ... DO UPDATE ... WHERE ... RETURNING ...),
         recorded AS (INSERT INTO redemptions ... SELECT ... FROM claimed RETURNING id)
    SELECT (SELECT id FROM took) AS took, ... (SELECT id FROM recorded) AS recorded

The steps share one snapshot, but each is a conditional write that PostgreSQL checks
against the latest committed row whatever the snapshot (an UPDATE's WHERE is
re-checked on the row it waited for; ON CONFLICT DO UPDATE ... WHERE on the row it
locked), so the chain decides what the steps one by one would. A step that wrote
nothing stops the ones after it; the caller rolls back the transaction when a later
step refused what an earlier one had taken. SQLite has no data-modifying WITH: there
`run` sends the same steps one statement each, stopping at the first that wrote nothing.

Each step answers one value (its RETURNING column), None when it wrote nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, bindparam, exists, literal, select
from sqlalchemy.sql.dml import Insert, Update
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.selectable import CTE
from sqlalchemy.types import NullType

from bot.db.dialect import POSTGRESQL
from bot.db.prepared import Prepared
from bot.db.tx import Tx

# A step's write, built with `after` (the step before, None for the first): an INSERT or
# UPDATE with RETURNING of one column.
Build = Callable[[CTE | None], Insert | Update]


def one_row(insert: Insert, values: Mapping[str, Any], after: CTE | None) -> Insert:
    """`insert` of one row of `values`; after a step, only when that step wrote its row."""
    if after is None:
        return insert.values(values)
    table = insert.table
    # Outside VALUES a parameter does not take its column's type: name it, or PostgreSQL
    # guesses text.
    row = select(*(_typed(value, table.c[name]).label(name) for name, value in values.items()))
    return insert.from_select(list(values), row.select_from(after))


def only_after(update: Update, after: CTE | None) -> Update:
    """`update`, after a step only when that step wrote its row."""
    return update if after is None else update.where(exists().select_from(after))


def _typed(value: Any, column: Any) -> ColumnElement[Any]:
    if isinstance(value, BindParameter) and isinstance(value.type, NullType):
        return bindparam(value.key, type_=column.type)
    if isinstance(value, ColumnElement):
        return value
    return literal(value, column.type)


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    build: Build


class Chain:
    """Steps run in order, each only after the one before it wrote its row."""

    def __init__(self, *steps: Step) -> None:
        self._names = tuple(step.name for step in steps)
        self._each = tuple(Prepared(step.build(None)) for step in steps)
        self._at_once = Prepared(_with_queries(steps))

    async def run(self, tx: Tx, params: Mapping[str, Any]) -> tuple[str | None, Any]:
        """The step that wrote nothing (None when all wrote), and the last step's answer."""
        if tx.backend == POSTGRESQL:
            answers = await tx.first(self._at_once, params)
            assert answers is not None
        else:
            answers = []
            for statement in self._each:
                answers.append(answer := await tx.scalar(statement, params))
                if answer is None:
                    break
        stopped = next((name for name, answer in zip(self._names, answers, strict=False)
                        if answer is None), None)
        return stopped, answers[-1]


def _with_queries(steps: tuple[Step, ...]) -> Any:
    after: CTE | None = None
    queries = []
    for step in steps:
        after = step.build(after).cte(step.name)
        queries.append(after)
    return select(*(select(query.c[0]).scalar_subquery().label(query.name)
                    for query in queries))
