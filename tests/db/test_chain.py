"""Conditional writes chained (`Chain`): each runs only after the one before it wrote, on
PostgreSQL in one statement, on SQLite one by one; both answer where the chain stopped."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from bot.clock import Clock
from bot.db import Database
from bot.db.models import OrderDiscount, PromoCode, Redemption
from bot.db.tx import Tx
from bot.promo.checkout import redemption
from tests.support import factories


class _Counted:
    """A `Tx` that counts the statements sent through it."""

    def __init__(self, tx: Tx) -> None:
        self.tx, self.sent = tx, 0
        self.backend = tx.backend

    async def first(self, statement: Any, params: Any) -> Any:
        self.sent += 1
        return await self.tx.first(statement, params)

    async def scalar(self, statement: Any, params: Any) -> Any:
        self.sent += 1
        return await self.tx.scalar(statement, params)


def _params(code: Any, customer: int, order: str, now: Any, **seen: int) -> dict[str, Any]:
    return {"b_code": code.id, "b_customer": customer, "b_order": order, "b_now": now,
            "b_exclusive": True, "b_seen_codes": seen.get("codes", 0),
            "b_seen_cost": seen.get("cost", 0), "b_order_total": 10_000,
            "b_discount": 1_000, "b_tier_discount": 0, "b_free_shipping": False,
            "b_cost": 1_000}


async def _count(db: Database, model: Any) -> int:
    async with db.read_session() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_each_step_runs_only_after_the_one_before_wrote(db: Database, clock: Clock) -> None:
    customer = (await factories.customer(db, now=clock())).id
    code = await factories.code(db, now=clock(), usage_limit=3, customer_id=customer)
    chain = redemption._writes(db.engine.dialect.name, shared=False, budget=False, revive=False)
    sent = []

    async def run(tx: Tx, order: str) -> tuple[str | None, Any]:
        counted = _Counted(tx)
        answer = await chain.run(counted, _params(code, customer, order, clock()))
        sent.append(counted.sent)
        return answer

    stopped, recorded = await db.hot.write(run, "o1")
    assert stopped is None and recorded is not None
    # o1 holds a code alone: the same order again stops at the claim, after the use was
    # taken.
    stopped, recorded = await db.hot.write(run, "o1")
    assert (stopped, recorded) == ("claimed", None)
    # The last use, then none: the chain stops at its first step and writes nothing.
    assert (await db.hot.write(run, "o2"))[0] is None
    assert await db.hot.write(run, "o3") == ("took", None)
    assert await _count(db, Redemption) == 2
    async with db.read_session() as session:
        assert await session.get(OrderDiscount, "o3") is None
        # The stopped chain of o1's second run had taken a use the caller did not roll
        # back here: the chain says where it stopped, the caller decides.
        assert (await session.get(PromoCode, code.id)).used_count == 3
    # PostgreSQL: one statement a chain; SQLite: one per step until it stops.
    if not db.is_sqlite:
        assert sent == [1, 1, 1, 1]
    else:
        assert sent == [3, 2, 3, 1]
