"""Abandoned carts the shop reports; a job later offers a small code for those items."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.dialect import insert_ignoring_conflict
from bot.db.models import AbandonedCart, Customer
from bot.promo.codes.offers import Item
from bot.promo.errors import DomainError, ErrorCode


async def record_abandoned_cart(
    session: AsyncSession,
    customer: Customer,
    cart_id: str,
    items: Sequence[Item],
    *,
    now: datetime,
) -> tuple[AbandonedCart, bool]:
    """Store the cart once (not committed); a repeat report of the same cart is a no-op.

    The total is computed from the lines, never taken from the caller.
    """
    if not items:
        raise DomainError(ErrorCode.EMPTY_CART, "a cart needs at least one item", field="items")
    rows = [
        {"sku": i.sku, "category": i.category, "price": i.price, "quantity": i.quantity}
        for i in items
    ]
    inserted = await session.execute(insert_ignoring_conflict(
        session, AbandonedCart.__table__, cart_id=cart_id, customer_id=customer.id, items=rows,
        total=sum(i.amount for i in items), created_at=now,
    ).returning(AbandonedCart.__table__.c.id))
    created = inserted.first() is not None
    cart = await session.scalar(
        select(AbandonedCart).where(AbandonedCart.cart_id == cart_id)
        .execution_options(populate_existing=True)
    )
    assert cart is not None
    if cart.customer_id != customer.id:
        raise DomainError(ErrorCode.CART_CUSTOMER_MISMATCH, "the cart belongs to another customer",
                          cart_id=cart_id)
    return cart, created
