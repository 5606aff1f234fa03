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
    Row,
    Select,
    String,
    cast,
    literal,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import (
    Customer,
    TelegramAccount,
)
from bot.promo.campaigns.context import Context, RunResult


def _linked(column: Any) -> Any:
    return (select(column).where(TelegramAccount.customer_id == Customer.id)
            .correlate(Customer).scalar_subquery())


def audience(query: Select[Any], *extra: Any, key: Any = None) -> Select[Any]:
    """A Select of customer ids turned into the rows a run needs: consent, Telegram link,
    what the message mentions, plus `extra` columns of the query's own joins. `key` is
    the column batches page by (the customer id unless rows are orders, reviews, ...).

    The Telegram link is a correlated lookup per row, not an outer join: with a LIMIT,
    PostgreSQL merge-joins and re-reads the accounts from the start on every batch."""
    return query.with_only_columns(
        (Customer.id if key is None else key).label("batch_key"),
        Customer.id,
        Customer.marketing_opt_in,
        Customer.last_order_at,
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

    The consumer writes in the session it is given; the batch commits when the consumer
    asks for the next one. Breaking out of the loop rolls the current batch back.
    """
    column = Customer.id if key is None else key
    last: Any = 0
    while True:
        async with ctx.db.session() as session:
            rows = (await session.execute(
                query.where(column > last).order_by(column).limit(ctx.batch_size)
            )).all()
            if not rows:
                return
            last = rows[-1].batch_key
            yield session, rows
            await session.commit()


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
