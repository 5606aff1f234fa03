"""A customer's wallet: the personal codes they can still use right now."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.hotpath import HotPath, on_connection
from bot.db.models import CodeStatus, PromoCode
from bot.db.prepared import Prepared
from bot.db.tx import Tx

codes = PromoCode.__table__

# What the shopper is shown of a code (`describe`, the API's `code_out`): every column
# read costs a conversion on each `/codes`, so the bookkeeping ones stay behind.
_SHOWN = (
    codes.c.id, codes.c.code, codes.c.channel, codes.c.discount_type, codes.c.discount_value,
    codes.c.free_shipping, codes.c.combinable, codes.c.currency, codes.c.min_order,
    codes.c.max_discount,
    codes.c.include_categories, codes.c.exclude_categories, codes.c.include_skus,
    codes.c.exclude_skus, codes.c.starts_at, codes.c.expires_at, codes.c.valid_days,
    codes.c.usage_limit, codes.c.used_count, codes.c.gift_sku, codes.c.gift_name,
    codes.c.gift_cost, codes.c.launch_at,
)

# Bound to the customer, active, started, delivered, not expired, with uses left; soonest
# deadline first. A code whose lifetime starts on delivery (a lifetime, no deadline yet)
# is not shown until its message arrives: until then it does not work either.
_ACTIVE = Prepared(
    select(*_SHOWN)
    .where(
        codes.c.customer_id == bindparam("customer_id"),
        codes.c.status == CodeStatus.ACTIVE,
        or_(codes.c.starts_at.is_(None), codes.c.starts_at <= bindparam("now")),
        or_(codes.c.expires_at > bindparam("now"),
            and_(codes.c.expires_at.is_(None), codes.c.valid_days.is_(None))),
        or_(codes.c.usage_limit.is_(None), codes.c.used_count < codes.c.usage_limit),
    )
    .order_by(codes.c.expires_at.is_(None), codes.c.expires_at, codes.c.id)
)


async def wallet(hot: HotPath, customer_id: int, now: datetime) -> Sequence[Any]:
    """The active codes as rows, as a hot read (`/codes` on every press)."""
    return await hot.read(_active, customer_id, now)


async def active_codes(session: AsyncSession, customer_id: int, now: datetime) -> Sequence[Any]:
    """`wallet` inside an async session's transaction."""
    return await on_connection(session, _active, customer_id, now)


async def _active(tx: Tx, customer_id: int, now: datetime) -> list[Any]:
    return await tx.all(_ACTIVE, {"customer_id": customer_id, "now": now})
