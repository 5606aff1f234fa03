"""A run's audience: customer ids turned into the rows a run needs, streamed by keyset in
batches, and suppression (consent, Telegram link, blocked).

A run streams customer ids by keyset in batches; each batch is one transaction that
claims, issues codes and queues their messages, so memory stays flat for a million
customers and a crash loses at most the batch in flight (which then simply never
happened).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    String,
    cast,
    func,
    literal,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.dialect import walk_the_keys
from bot.db.models import (
    Customer,
    TelegramAccount,
)
from bot.promo.campaigns.context import Context, RunResult


def _linked(column: Any) -> Any:
    return (select(column).where(TelegramAccount.customer_id == Customer.id)
            .correlate(Customer).scalar_subquery())


def none_where(column: Any, *conditions: Any) -> ColumnElement[bool]:
    """No row where `conditions` hold for the customer: NOT EXISTS, written as a lookup
    per customer row. PostgreSQL turns a NOT EXISTS into an anti-join, and under a
    batch's LIMIT it merge-joins and re-reads the other table from its start on every
    batch (all of a campaign's assignments: 0.2 s a batch at 500 000, and growing); a
    scalar subquery stays one probe of the index per row."""
    first = select(column).where(*conditions).correlate(Customer).limit(1)
    return first.scalar_subquery().is_(None)


def audience(query: Select[Any], *extra: Any, key: Any = None) -> Select[Any]:
    """A Select of customer ids turned into the rows a run needs: consent, Telegram link,
    what the message mentions, plus `extra` columns (the query's own joins, or what one
    kind of run alone needs: a time costs a parse per row on SQLite). `key` is
    the column batches page by (the customer id unless rows are orders, reviews, ...).

    The Telegram link is a correlated lookup per row, not an outer join: with a LIMIT,
    PostgreSQL merge-joins and re-reads the accounts from the start on every batch."""
    return query.with_only_columns(
        (Customer.id if key is None else key).label("batch_key"),
        Customer.id,
        Customer.marketing_opt_in,
        Customer.favourite_category,
        Customer.name,  # a campaign text's {name}
        Customer.orders_count,
        Customer.net_spend,  # with orders_count, the tier a code is weighed with
        _linked(TelegramAccount.id).label("telegram_id"),
        _linked(TelegramAccount.is_blocked).label("is_blocked"),
        *extra,
        maintain_column_froms=True,
    )


async def batches(
    ctx: Context, query: Select[Any], key: Any = None
) -> AsyncIterator[tuple[AsyncSession, Sequence[Row[Any]]]]:
    """The `audience` rows by keyset on `key` (as given to `audience`), one write
    transaction per batch.

    Each batch reads a window of keys (`key > last AND key <= last + span`, at most a
    batch of rows), not just the next rows after `last`: a bare `key > last … LIMIT`
    lets PostgreSQL read every row of the audience after `last` through another index
    and sort them for each batch, once its plan thinks the audience small (a comeback
    window of 330 000 customers: 0.5 s a batch). The window doubles while it finds less
    than half a batch, so a sparse audience takes few trips.

    The consumer writes in the session it is given; the batch commits when the consumer
    asks for the next one. Breaking out of the loop rolls the current batch back.
    """
    column = Customer.id if key is None else key
    async with ctx.db.read_session() as session:
        top = await session.scalar(select(func.max(column)))
    last: Any = 0
    span = ctx.batch_size
    while top is not None and last < top:
        upper = last + span
        async with ctx.db.session() as session:
            await walk_the_keys(session)
            # On the session's connection: the rows are plain Core rows, and the ORM's
            # path would cost a tenth of a run's time for nothing.
            connection = await session.connection()
            rows = (await connection.execute(
                query.where(column > last, column <= upper).order_by(column)
                .limit(ctx.batch_size)
            )).all()
            if rows:
                yield session, rows
                await session.commit()
        if len(rows) == ctx.batch_size:
            last = rows[-1].batch_key
            continue
        last = upper
        if len(rows) < ctx.batch_size // 2:
            span = min(span * 2, ctx.batch_size * _MAX_SPAN)


# How many batches' worth of keys a window may grow to.
_MAX_SPAN = 1024


def admit(row: Row[Any], result: RunResult, *, promotional: bool = True) -> bool:
    """Whether a message may go to this row's customer; if not, counted by why."""
    if promotional and not row.marketing_opt_in:
        result.opted_out += 1
    elif row.telegram_id is None:
        result.no_telegram += 1
    elif row.is_blocked:
        result.blocked += 1
    else:
        return True
    return False


def reachable(rows: Sequence[Row[Any]], result: RunResult, *, promotional: bool = True
              ) -> list[Row[Any]]:
    """The rows a message may go to; the others are counted by why they were skipped."""
    result.audience += len(rows)
    return [row for row in rows if admit(row, result, promotional=promotional)]


def queued_key(prefix: str, *columns: Any) -> Any:
    """`'<prefix>' || a || ':' || b` in SQL: the dedupe key of a message, to skip it."""
    key: Any = literal(prefix, String)
    for index, column in enumerate(columns):
        if index:
            key = key + literal(":", String)
        key = key + cast(column, String)
    return key
