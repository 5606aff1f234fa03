"""What customers like this one buy next: category co-purchase counts from order lines.

A customer *bought* a category when one of their orders that stands (paid, delivered,
partially returned; not cancelled, not returned) has a line in it. The co-purchase count
of (A, B) is how many customers bought both. A customer's score for a category B they
never bought is the sum of (A, B) over the categories A they did buy: "customers who buy
A also buy B", added up over everything they share with those customers.

The pair counts are one grouped self-join in SQL, read once per run: a shop has tens or
hundreds of categories, so the matrix is small (K² integers) whatever the number of
customers or orders. Each batch of a run then reads its own customers' categories (one
query by customer id) and ranks in Python; memory stays flat in the audience's size.
Ties go to the category whose name sorts first, so two runs suggest the same.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.dialect import one_of
from bot.db.models import Order, OrderItem, OrderStatus

# Orders whose lines count as bought: a cancelled or fully returned one does not.
BOUGHT = (OrderStatus.PAID, OrderStatus.DELIVERED, OrderStatus.PARTIALLY_RETURNED)


def bought() -> Select[Any]:
    """(customer id, category) of every category a customer bought, each pair once."""
    return (
        select(Order.customer_id.label("customer_id"), OrderItem.category.label("category"))
        .join(OrderItem, OrderItem.order_id == Order.id)
        .where(Order.status.in_([s.value for s in BOUGHT]),
               OrderItem.category.is_not(None), OrderItem.category != "")
        .distinct()
    )


async def pair_counts(session: AsyncSession) -> dict[str, dict[str, int]]:
    """For each category A, how many customers bought both A and each other B."""
    # One CTE read twice: both databases compute it once (two subqueries took SQLite
    # twice as long on 500 000 order lines).
    once = bought().cte("bought")
    mine, theirs = once.alias("mine"), once.alias("theirs")
    rows = await session.execute(
        select(mine.c.category, theirs.c.category, func.count())
        .join(theirs, and_(theirs.c.customer_id == mine.c.customer_id,
                           theirs.c.category != mine.c.category))
        .group_by(mine.c.category, theirs.c.category)
    )
    pairs: dict[str, dict[str, int]] = defaultdict(dict)
    for first, second, count in rows:
        pairs[first][second] = count
    return dict(pairs)


async def categories_of(session: AsyncSession, customer_ids: Iterable[int]
                        ) -> dict[int, frozenset[str]]:
    """The categories each of these customers bought (none: absent)."""
    ids = list(customer_ids)
    if not ids:
        return {}
    query = bought().where(one_of(session, Order.customer_id, ids))
    found: dict[int, set[str]] = defaultdict(set)
    for customer_id, category in await session.execute(query):
        found[customer_id].add(category)
    return {k: frozenset(v) for k, v in found.items()}


@dataclass(frozen=True, slots=True)
class CoPurchase:
    """The pair counts of one run, and the ranking they give each customer."""

    pairs: Mapping[str, Mapping[str, int]]

    def ranked(self, owned: Iterable[str]) -> list[tuple[str, int]]:
        """The categories these customers' peers bought and they never did, best first:
        (category, score), ties by name."""
        owned = frozenset(owned)
        scores: Counter[str] = Counter()
        for category in owned:
            for other, count in self.pairs.get(category, {}).items():
                if other not in owned:
                    scores[other] += count
        return sorted(scores.items(), key=lambda item: (-item[1], item[0]))

    def suggest(self, owned: Iterable[str], allowed: Callable[[str], bool]) -> str | None:
        """The best category `allowed` lets through (e.g. the guardrail), else None."""
        return next((category for category, _score in self.ranked(owned)
                     if allowed(category)), None)


async def co_purchase(session: AsyncSession) -> CoPurchase:
    return CoPurchase(await pair_counts(session))
