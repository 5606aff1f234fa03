"""A batch's list of ids is looked up through the index, whatever plan PostgreSQL keeps.

A run prepares its per-batch statements once; PostgreSQL soon plans them once for all
parameters (a generic plan). With the list as N parameters of an IN, that plan read all
of a campaign's assignments for each batch and filtered the list over them: a campaign
of a million customers took six minutes to assign. As one array (`one_of`), the list is
part of the index condition.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from sqlalchemy import select, text

from bot.db import Database
from bot.db.dialect import one_of
from bot.db.models import CampaignAssignment
from tests.support import factories

pytestmark = pytest.mark.skipif(not os.environ.get("PROMOBOT_TEST_DATABASE_URL"),
                                reason="PostgreSQL's generic plans")


def _literal(value: Any) -> str:
    if isinstance(value, list):
        return "ARRAY[" + ", ".join(str(int(v)) for v in value) + "]"
    return str(int(value))


async def test_a_batch_of_ids_is_an_index_condition_in_a_generic_plan(
    db: Database, clock: Any
) -> None:
    campaign = await factories.campaign(db, now=clock())
    a = CampaignAssignment.__table__.c
    async with db.session() as session:
        # Planned from statistics taken at the run's start; then 20 000 customers assigned.
        await session.execute(text("ANALYZE campaign_assignments"))
        await session.execute(text(
            "INSERT INTO customers (external_id, marketing_opt_in, orders_count, gross_spend, "
            "net_spend, created_at, updated_at) SELECT 'c' || n, true, 0, 0, 0, now(), now() "
            "FROM generate_series(1, 20000) AS n"))
        await session.execute(text(
            "INSERT INTO campaign_assignments (campaign_id, customer_id, is_holdout, step, "
            "assigned_at, escalated) SELECT :campaign, id, false, 0, now(), false "
            "FROM customers"), {"campaign": campaign.id})
        await session.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
        ids = list(range(30_001, 30_501))  # the next batch: none assigned yet
        query = select(a.customer_id).where(a.campaign_id == campaign.id,
                                            one_of(session, a.customer_id, ids))
        compiled = query.compile(session.get_bind(),
                                 compile_kwargs={"render_postcompile": True})
        # Prepared as a run's batches are, and planned for any parameters.
        await session.execute(text(f"PREPARE batch AS {compiled}"))
        values = ", ".join(_literal(compiled.params[name]) for name in compiled.positiontup or ())
        plan = await session.execute(text(f"EXPLAIN EXECUTE batch({values})"))
        conditions = [line for (line,) in plan if "Index Cond" in line]
        await session.execute(text("DEALLOCATE batch"))
    assert any("customer_id = ANY" in line for line in conditions), conditions
