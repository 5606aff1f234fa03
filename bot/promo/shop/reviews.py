"""Reviews the shop reports: one per order; the reward code is issued later by a job."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.dialect import insert_ignoring_conflict
from bot.db.models import Customer, Order, Review
from bot.promo.errors import DomainError, ErrorCode, NotFound

MIN_RATING, MAX_RATING = 1, 5


async def record_review(
    session: AsyncSession,
    customer: Customer,
    order_external_id: str,
    *,
    rating: int,
    has_photo: bool,
    now: datetime,
) -> tuple[Review, bool]:
    """Store the review of an order (not committed); returns it and whether it is new.

    A second report for the same order changes nothing and returns the first, so a
    retried webhook cannot earn two rewards.
    """
    if not MIN_RATING <= rating <= MAX_RATING:
        raise DomainError(ErrorCode.INVALID_RATING, "rating must be 1 to 5", field="rating")
    order = (await session.execute(
        select(Order.id, Order.customer_id).where(Order.external_id == order_external_id)
    )).first()
    if order is None:
        raise NotFound(ErrorCode.UNKNOWN_ORDER, "no such order", order_id=order_external_id)
    if order.customer_id != customer.id:
        raise DomainError(ErrorCode.ORDER_CUSTOMER_MISMATCH,
                          "the order belongs to another customer", order_id=order_external_id)
    inserted = await session.execute(insert_ignoring_conflict(
        session, Review.__table__, order_id=order.id, customer_id=customer.id,
        rating=rating, has_photo=has_photo, created_at=now,
    ).returning(Review.__table__.c.id))
    created = inserted.first() is not None
    review = await session.scalar(
        select(Review).where(Review.order_id == order.id).execution_options(populate_existing=True)
    )
    assert review is not None
    return review, created
