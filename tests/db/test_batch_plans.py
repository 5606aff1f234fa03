"""A campaign run's batches cost the same at the millionth customer as at the first.

A run prepares its per-batch statements once; PostgreSQL soon plans them once for all
parameters (a generic plan), from statistics taken when the campaign had assigned
nobody. Planned so, a list of ids as N parameters of an IN read all of the campaign's
assignments for each batch and filtered the list over them, and a NOT EXISTS became an
anti-join that re-read them from the start: a campaign of a million customers took six
minutes to assign, and slowed down as it went. And PostgreSQL's JIT compiled a batch
whose cost it estimated high for 340 ms, to run it in 9.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from sqlalchemy import func, select, text

from bot.db import Database
from bot.db.dialect import one_of
from bot.db.models import CampaignAssignment, Customer
from bot.db.prepared import Prepared
from bot.promo.campaigns.audience import none_where
from tests.support import factories

pytestmark = pytest.mark.skipif(not os.environ.get("PROMOBOT_TEST_DATABASE_URL"),
                                reason="PostgreSQL's generic plans")


def _literal(value: Any) -> str:
    if isinstance(value, list):
        return "ARRAY[" + ", ".join(str(int(v)) for v in value) + "]"
    return str(int(value))


async def _assigned_midway(session: Any, campaign_id: int) -> None:
    """Statistics of a campaign that has assigned nobody; then 20 000 customers assigned."""
    await session.execute(text("ANALYZE campaign_assignments"))
    await session.execute(text(
        "INSERT INTO customers (external_id, marketing_opt_in, orders_count, gross_spend, "
        "net_spend, created_at, updated_at) SELECT 'c' || n, true, 0, 0, 0, now(), now() "
        "FROM generate_series(1, 20000) AS n"))
    await session.execute(text(
        "INSERT INTO campaign_assignments (campaign_id, customer_id, is_holdout, step, "
        "assigned_at, escalated) SELECT :campaign, id, false, 0, now(), false "
        "FROM customers"), {"campaign": campaign_id})


async def _generic_plan(session: Any, query: Any) -> list[str]:
    """The plan PostgreSQL keeps for a statement prepared as a run's batches are."""
    await session.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
    compiled = query.compile(session.get_bind(), compile_kwargs={"render_postcompile": True})
    await session.execute(text(f"PREPARE batch AS {compiled}"))
    values = ", ".join(_literal(compiled.params[name]) for name in compiled.positiontup or ())
    plan = [line for (line,) in await session.execute(text(f"EXPLAIN EXECUTE batch({values})"))]
    await session.execute(text("DEALLOCATE batch"))
    return plan


async def test_a_batch_of_ids_is_an_index_condition_in_a_generic_plan(
    db: Database, clock: Any
) -> None:
    campaign = await factories.campaign(db, now=clock())
    a = CampaignAssignment.__table__.c
    async with db.session() as session:
        await _assigned_midway(session, campaign.id)
        ids = list(range(30_001, 30_501))  # the next batch: none assigned yet
        plan = await _generic_plan(session, select(a.customer_id).where(
            a.campaign_id == campaign.id, one_of(session, a.customer_id, ids)))
    conditions = [line for line in plan if "Index Cond" in line]
    assert any("customer_id = ANY" in line for line in conditions), conditions


async def test_customers_not_yet_assigned_are_probed_one_by_one(
    db: Database, clock: Any
) -> None:
    campaign = await factories.campaign(db, now=clock())
    async with db.session() as session:
        await _assigned_midway(session, campaign.id)
        await session.execute(text("ANALYZE customers"))
        batch = (
            select(Customer.id)
            .where(Customer.id > 15_000, none_where(
                CampaignAssignment.id, CampaignAssignment.campaign_id == campaign.id,
                CampaignAssignment.customer_id == Customer.id))
            .order_by(Customer.id).limit(500)
        )
        plan = await _generic_plan(session, batch)
    assert not any("Join" in line for line in plan), plan


async def test_no_jit_on_our_connections(db: Database) -> None:
    async with db.read_session() as session:
        assert await session.scalar(text("SHOW jit")) == "off"
    assert (await db.hot.first(_SHOW_JIT, {})).jit == "off"


_SHOW_JIT = Prepared(select(func.current_setting("jit").label("jit")))
