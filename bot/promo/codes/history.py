"""A customer's rewards over time: every personal code they were given, newest first, with
what became of it (in use, used, expired, cancelled and why)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, func, select

from bot.db.hotpath import HotPath
from bot.db.models import CodeStatus, PromoCode, Redemption
from bot.db.prepared import Prepared
from bot.db.tx import Tx

codes = PromoCode.__table__
redemptions = Redemption.__table__
# A cabinet shows the recent ones; the rest is the shop's to look up.
HISTORY_LENGTH = 30


class Fate(StrEnum):
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
           codes.c.revoked_at, codes.c.revoke_reason, _USED_AT.label("used_at"))
    .where(codes.c.customer_id == bindparam("customer_id"))
    .order_by(codes.c.created_at.desc(), codes.c.id.desc())
    .limit(bindparam("limit"))
)


def fate(code: Any, now: datetime) -> Fate:
    """What became of a code by `now`."""
    if code.status == CodeStatus.REVOKED:
        return Fate.REVOKED
    if code.usage_limit is not None and code.used_count >= code.usage_limit:
        return Fate.USED
    if code.expires_at is not None and code.expires_at <= now:
        return Fate.USED if code.used_at is not None else Fate.EXPIRED
    return Fate.ACTIVE


async def history(hot: HotPath, customer_id: int, limit: int = HISTORY_LENGTH) -> Sequence[Any]:
    """The customer's codes, newest first, each with the time of its last live use."""
    return await hot.read(_history, customer_id, limit)


async def _history(tx: Tx, customer_id: int, limit: int) -> list[Any]:
    return await tx.all(_HISTORY, {"customer_id": customer_id, "limit": limit})
