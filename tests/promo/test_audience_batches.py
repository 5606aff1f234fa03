"""A run's audience read in batches: every customer once, in order, whatever the density."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.db import Database
from bot.db.models import Customer
from bot.promo.campaigns.audience import audience, batches
from bot.promo.campaigns.context import Context
from tests.support import factories


async def test_batches_reach_every_customer_once_dense_or_sparse(
    db: Database, settings: Any, clock: Any
) -> None:
    customers = await factories.customers(db, 120, now=clock())
    ids = [c.id for c in customers]
    ctx = Context(db, settings, clock(), batch_size=4)
    # All of them; one in eleven (windows grow past empty stretches); the last one only.
    for wanted in (ids, ids[::11], ids[-1:]):
        query = audience(select(Customer.id).where(Customer.id.in_(wanted)))
        seen, sizes = [], []
        async for _session, rows in batches(ctx, query):
            seen += [row.id for row in rows]
            sizes.append(len(rows))
        assert seen == wanted
        assert max(sizes) <= 4
    # A sparse audience takes few trips: the window doubles while it finds little.
    trips = 0
    async for _session, _rows in batches(ctx, audience(select(Customer.id).where(
            Customer.id.in_(ids[::11])))):
        trips += 1
    assert trips <= 6
