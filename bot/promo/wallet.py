"""A customer's wallet: the personal codes they can still use right now."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import CodeStatus, PromoCode


async def active_codes(
    session: AsyncSession, customer_id: int, now: datetime
) -> Sequence[PromoCode]:
    """Codes bound to the customer, active, started, not expired, with uses left; soonest
    deadline first (codes whose lifetime starts on delivery come last)."""
    query = (
        select(PromoCode)
        .where(
            PromoCode.customer_id == customer_id,
            PromoCode.status == CodeStatus.ACTIVE,
            or_(PromoCode.starts_at.is_(None), PromoCode.starts_at <= now),
            or_(PromoCode.expires_at.is_(None), PromoCode.expires_at > now),
            or_(PromoCode.usage_limit.is_(None), PromoCode.used_count < PromoCode.usage_limit),
        )
        .order_by(PromoCode.expires_at.is_(None), PromoCode.expires_at, PromoCode.id)
    )
    return (await session.scalars(query)).all()
