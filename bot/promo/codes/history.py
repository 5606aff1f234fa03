"""A customer's rewards over time: every personal code they were given, newest first, with
what became of it (in use, not started yet, used, expired, cancelled and why).

A code whose lifetime starts when its message is delivered is not shown until it is:
until then it does not work, and one whose message never arrived was never given."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, func, or_, select

from bot.db.hotpath import HotPath
from bot.db.models import CodeStatus, PromoCode, Redemption
from bot.db.prepared import Prepared
from bot.db.tx import Tx

codes = PromoCode.__table__
redemptions = Redemption.__table__
# A cabinet shows the recent ones; the rest is the shop's to look up.
HISTORY_LENGTH = 30


class Fate(StrEnum):
    UPCOMING = "upcoming"
    ACTIVE = "active"
    USED = "used"
    EXPIRED = "expired"
    REVOKED = "revoked"


_USED_AT = (
    select(func.max(redemptions.c.created_at))
    .where(redemptions.c.code_id == codes.c.id, redemptions.c.released_at.is_(None))
    .scalar_subquery()
)
_HISTORY = Prepared(
    select(codes.c.id, codes.c.code, codes.c.source, codes.c.status, codes.c.discount_type,
           codes.c.discount_value, codes.c.free_shipping, codes.c.currency, codes.c.min_order,
           codes.c.max_discount, codes.c.include_categories, codes.c.exclude_categories,
           codes.c.include_skus, codes.c.exclude_skus, codes.c.starts_at, codes.c.expires_at,
           codes.c.valid_days, codes.c.usage_limit, codes.c.used_count, codes.c.created_at,
           codes.c.revoked_at, codes.c.revoke_reason, codes.c.gift_sku, codes.c.gift_name,
           codes.c.gift_cost, codes.c.launch_at, _USED_AT.label("used_at"))
    .where(codes.c.customer_id == bindparam("customer_id"),
           or_(codes.c.expires_at.is_not(None), codes.c.valid_days.is_(None)))
    .order_by(codes.c.created_at.desc(), codes.c.id.desc())
    .limit(bindparam("limit"))
)


def fate(code: Any, now: datetime) -> Fate:
    """What became of a code by `now`. A use counts first: a reward spent before its
    order was returned was spent."""
    used_up = code.usage_limit is not None and code.used_count >= code.usage_limit
    over = code.expires_at is not None and code.expires_at <= now
    if used_up or (code.used_at is not None and (over or code.status == CodeStatus.REVOKED)):
        return Fate.USED
    if code.status == CodeStatus.REVOKED:
        return Fate.REVOKED
    if over:
        return Fate.EXPIRED
    if code.starts_at is not None and code.starts_at > now:
        return Fate.UPCOMING
    return Fate.ACTIVE


async def history(hot: HotPath, customer_id: int, limit: int = HISTORY_LENGTH) -> Sequence[Any]:
    """The customer's codes, newest first, each with the time of its last live use."""
    return await hot.read(_history, customer_id, limit)


async def _history(tx: Tx, customer_id: int, limit: int) -> list[Any]:
    return await tx.all(_HISTORY, {"customer_id": customer_id, "limit": limit})
