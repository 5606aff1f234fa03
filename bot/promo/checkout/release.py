"""Release: a use of a code given back when the shop cancels an order or returns it.

Each redemption is released once (a conditional UPDATE of its `released_at`); its use
goes back to the code and to the customer's counter, and its cost to the order
(`order_rules.unclaim_order`) and to the campaign's budget.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import Connection, and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.hotpath import on_connection
from bot.db.models import CodeCustomerUsage, PromoCode, Redemption
from bot.promo.checkout.order_rules import refund_budget, unclaim_order
from bot.promo.codes.generator import normalize

codes = PromoCode.__table__
usage = CodeCustomerUsage.__table__
redemptions = Redemption.__table__


async def release(
    session: AsyncSession, raw_code: str | None, order_external_id: str, *, now: datetime
) -> int:
    """Give back the use(s) an order took; each redemption is released once.

    Runs inside the caller's transaction. Returns how many uses were given back.
    """
    return await on_connection(session, release_uses, raw_code, order_external_id, now)


def release_uses(
    conn: Connection, raw_code: str | None, order_external_id: str, now: datetime
) -> int:
    """`release` over a sync connection. Rows are locked in the order a redeem locks
    them — codes (by id), then the order, then campaigns (by id) — so that a release and
    a redeem never wait on each other in a cycle."""
    query = (
        select(redemptions.c.id, redemptions.c.code_id, redemptions.c.customer_id,
               redemptions.c.cost, codes.c.campaign_id)
        .join(codes, codes.c.id == redemptions.c.code_id)
        .where(redemptions.c.order_external_id == order_external_id,
               redemptions.c.released_at.is_(None))
        .order_by(redemptions.c.code_id)
    )
    if raw_code is not None:
        query = query.where(codes.c.code == normalize(raw_code))
    # A concurrent release may have got to a row first: it gives that one back.
    released = [row for row in conn.execute(query).all() if _mark_released(conn, row.id, now)]
    if not released:
        return 0
    for row in released:
        conn.execute(
            update(codes)
            .where(codes.c.id == row.code_id, codes.c.used_count > 0)
            .values(used_count=codes.c.used_count - 1)
        )
        conn.execute(
            update(usage)
            .where(and_(usage.c.code_id == row.code_id, usage.c.customer_id == row.customer_id),
                   usage.c.used_count > 0)
            .values(used_count=usage.c.used_count - 1)
        )
    unclaim_order(conn, order_external_id, len(released), sum(row.cost for row in released), now)
    by_campaign: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for row in released:
        if row.campaign_id is not None:
            by_campaign[row.campaign_id][0] += 1
            by_campaign[row.campaign_id][1] += row.cost
    for campaign_id in sorted(by_campaign):
        uses, cost = by_campaign[campaign_id]
        refund_budget(conn, campaign_id, uses, cost)
    return len(released)


def _mark_released(conn: Connection, redemption_id: int, now: datetime) -> bool:
    done = conn.execute(
        update(redemptions)
        .where(redemptions.c.id == redemption_id, redemptions.c.released_at.is_(None))
        .values(released_at=now)
    )
    return done.rowcount == 1


async def release_order(session: AsyncSession, order_external_id: str, *, now: datetime) -> int:
    """Give back every code use of a cancelled or returned order."""
    return await release(session, None, order_external_id, now=now)
