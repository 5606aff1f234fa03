"""Release: a use of a code given back when the shop cancels an order or returns it.

Each redemption is released once (a conditional UPDATE of its `released_at`); its use
goes back to the code and to the customer's counter, and its cost to the order
(`order_rules.unclaim_order`) and to the campaign's budget.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.hotpath import on_connection
from bot.db.models import CodeCustomerUsage, PromoCode, Redemption
from bot.db.prepared import Prepared
from bot.db.tx import Tx
from bot.promo.checkout.order_rules import refund_budget, unclaim_order
from bot.promo.checkout.validation import load_code
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


_LIVE = (
    select(redemptions.c.id, redemptions.c.code_id, redemptions.c.customer_id,
           redemptions.c.cost, codes.c.campaign_id)
    .join(codes, codes.c.id == redemptions.c.code_id)
    .where(redemptions.c.order_external_id == bindparam("order"),
           redemptions.c.released_at.is_(None))
    .order_by(redemptions.c.code_id)
)
_ORDER_USES = Prepared(_LIVE)
_CODE_USES = Prepared(_LIVE.where(codes.c.code == bindparam("code")))
_MARK_RELEASED = Prepared(
    update(redemptions)
    .where(redemptions.c.id == bindparam("b_id"), redemptions.c.released_at.is_(None))
    .values(released_at=bindparam("b_now"))
)
_GIVE_BACK = Prepared(
    update(codes)
    .where(codes.c.id == bindparam("b_code"), codes.c.used_count > 0)
    .values(used_count=codes.c.used_count - 1)
)
_GIVE_BACK_CUSTOMER = Prepared(
    update(usage)
    .where(usage.c.code_id == bindparam("b_code"), usage.c.customer_id == bindparam("b_customer"),
           usage.c.used_count > 0)
    .values(used_count=usage.c.used_count - 1)
)


async def release_uses(
    tx: Tx, raw_code: str | None, order_external_id: str, now: datetime
) -> int:
    """`release` as a hot-path job. Rows are locked in the order a redeem locks them —
    codes (by id), then the order, then campaigns (by id) — so that a release and a
    redeem never wait on each other in a cycle."""
    if raw_code is None:
        live = await tx.all(_ORDER_USES, {"order": order_external_id})
    else:
        live = await tx.all(_CODE_USES, {"order": order_external_id,
                                         "code": normalize(raw_code)})
    # A concurrent release may have got to a row first: it gives that one back.
    released = []
    for row in live:
        if await tx.rowcount(_MARK_RELEASED, {"b_id": row.id, "b_now": now}) == 1:
            released.append(row)
    if not released:
        return 0
    for row in released:
        await tx.rowcount(_GIVE_BACK, {"b_code": row.code_id})
        await tx.rowcount(_GIVE_BACK_CUSTOMER, {"b_code": row.code_id,
                                                "b_customer": row.customer_id})
    await unclaim_order(tx, order_external_id, len(released),
                        sum(row.cost for row in released), now)
    by_campaign: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for row in released:
        if row.campaign_id is not None:
            by_campaign[row.campaign_id][0] += 1
            by_campaign[row.campaign_id][1] += row.cost
    for campaign_id in sorted(by_campaign):
        uses, cost = by_campaign[campaign_id]
        await refund_budget(tx, campaign_id, uses, cost, now)
    return len(released)


async def release_code(
    tx: Tx, raw_code: str, order_external_id: str, now: datetime
) -> int | None:
    """The checkout's release of one code from an order, as a hot-path job: the uses given
    back, None when there is no such code."""
    if await load_code(tx, raw_code) is None:
        return None
    return await release_uses(tx, raw_code, order_external_id, now)


async def release_order(session: AsyncSession, order_external_id: str, *, now: datetime) -> int:
    """Give back every code use of a cancelled or returned order."""
    return await release(session, None, order_external_id, now=now)
