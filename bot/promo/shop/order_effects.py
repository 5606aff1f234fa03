"""What a change of an order does around it, applied once by the push that made it:
its lines, the customer's aggregates and recency, the code use it took, and the rewards
it earned.

- cancelled or fully returned: the code use the order took is given back;
- cancelled, returned or partially returned: reward codes the order earned are revoked
  and a referral whose first order it was is rejected;
- delivered: `delivered_at` is stamped (by `order_state.target`; the return window
  counts from it);
- a new order (or one that counts again): the customer's comeback and abandoned-cart
  messages still waiting in the outbox are withdrawn and their codes given back, if they
  were queued before the order was placed. They asked for an order that has now come;
  an old order imported late changes nothing queued after it. So is the welcome code,
  delivered or not, unless this order used it: it was for a first order, and that has
  come without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, desc, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import (
    CodeSource,
    CodeStatus,
    Customer,
    Order,
    OrderItem,
    OrderStatus,
    PromoCode,
    Referral,
    ReferralStatus,
)
from bot.delivery.outbox import Reason, withdraw
from bot.promo.checkout.release import release_order
from bot.promo.checkout.validation import typed_code
from bot.promo.codes.offers import Item
from bot.promo.shop.order_state import OrderState

REVOKE_REASON_RETURNED = "order returned"
REVOKE_REASON_CANCELLED = "order cancelled"
WITHDRAW_REASON = "the customer ordered before it went out"
REVOKE_REASON_FIRST_ORDER = "it was for a first order"
# Offers whose purpose an order fulfils. Broadcasts, rewards and managers' codes keep
# their point after an order and stay queued.
_FULFILLED_BY_ORDER = (Reason.COMEBACK, Reason.CART)
_UNDOING = frozenset({OrderStatus.CANCELLED, OrderStatus.RETURNED, OrderStatus.PARTIALLY_RETURNED})
_RELEASING = frozenset({OrderStatus.CANCELLED, OrderStatus.RETURNED})

orders_table = Order.__table__
items_table = OrderItem.__table__
customers_table = Customer.__table__


@dataclass(frozen=True, slots=True)
class Effects:
    released: int = 0
    revoked: int = 0
    rejected: int = 0
    withdrawn: int = 0


async def apply_effects(
    session: AsyncSession, order_id: int, external_id: str, old: OrderState | None,
    new: OrderState, *, items_changed: bool, now: datetime,
) -> Effects:
    """Everything the move from `old` (None: a new order) to `new` means, in the caller's
    transaction; the caller has won the row, so this runs once per change."""
    counted_changed = old is None or old.counted_in_orders != new.counted_in_orders
    withdrawn = 0
    if counted_changed and new.counted_in_orders:
        # Before the customer's row is written: the sender locks a message, then its
        # customer, and the same order here keeps the two from deadlocking.
        withdrawn = await withdraw_offers(session, new, now)
        await close_welcome(session, new, now)
    await apply_aggregates(session, new.customer_id, old, new, now)
    if counted_changed or items_changed or old.placed_at != new.placed_at:
        await refresh_recency(
            session, new.customer_id, categories=counted_changed or items_changed
        )
    released = revoked = rejected = 0
    status = OrderStatus(new.status)
    status_changed = old is None or old.status != new.status
    if status_changed and status in _RELEASING and (
        old is None or old.status not in _RELEASING
    ):
        released = await release_order(session, external_id, now=now)
    if status_changed and status in _UNDOING and old is not None:
        revoked, rejected = await undo_rewards(session, order_id, new.status, now)
    return Effects(released, revoked, rejected, withdrawn)


async def withdraw_offers(session: AsyncSession, new: OrderState, now: datetime) -> int:
    """The customer's comeback and cart messages queued before this order was placed,
    withdrawn with their codes; how many messages."""
    withdrawn = await withdraw(
        session,
        customer_id=new.customer_id,
        reasons=_FULFILLED_BY_ORDER,
        queued_before=new.placed_at,
        why=WITHDRAW_REASON,
        now=now,
    )
    return withdrawn.messages


async def close_welcome(session: AsyncSession, new: OrderState, now: datetime) -> None:
    """The customer's welcome code, given before this order was placed and not used by it:
    its message withdrawn if still waiting, the code revoked if unused (a conditional
    UPDATE: a redeem of it at the same moment wins or loses whole)."""
    await withdraw(session, customer_id=new.customer_id, reasons=(Reason.WELCOME,),
                   queued_before=new.placed_at, why=REVOKE_REASON_FIRST_ORDER, now=now)
    codes = PromoCode.__table__
    await session.execute(
        update(codes)
        .where(codes.c.customer_id == new.customer_id, codes.c.source == CodeSource.WELCOME,
               codes.c.status == CodeStatus.ACTIVE, codes.c.used_count == 0,
               codes.c.created_at < new.placed_at,
               codes.c.code != (typed_code(new.promo_code or "") or ""))
        .values(status=CodeStatus.REVOKED, revoked_at=now,
                revoke_reason=REVOKE_REASON_FIRST_ORDER)
    )


def _item_rows(order_id: int, items: Sequence[Item]) -> list[dict[str, Any]]:
    return [
        {"order_id": order_id, "sku": item.sku, "category": item.category or None,
         "price": item.price, "quantity": item.quantity}
        for item in items
    ]


def _item_key(row: Any) -> tuple[Any, ...]:
    return (row["sku"], row["category"], row["price"], row["quantity"])


async def replace_items(
    session: AsyncSession, order_id: int, items: Sequence[Item] | None, *, fresh: bool
) -> bool:
    """Store the order's lines; None keeps what is stored. True if they changed."""
    if items is None:
        return False
    rows = _item_rows(order_id, items)
    if not fresh:
        stored = (await session.execute(
            select(items_table.c.sku, items_table.c.category, items_table.c.price,
                   items_table.c.quantity)
            .where(items_table.c.order_id == order_id)
            .order_by(items_table.c.id)
        )).mappings().all()
        if [_item_key(row) for row in stored] == [_item_key(row) for row in rows]:
            return False
        await session.execute(delete(items_table).where(items_table.c.order_id == order_id))
    if rows:
        await session.execute(items_table.insert(), rows)
    return bool(rows) or not fresh


async def refresh_recency(session: AsyncSession, customer_id: int, *, categories: bool) -> None:
    """First/last order time (and favourite category) from this customer's counted orders.

    One indexed query each over the customer's own orders (ix_orders_customer_placed),
    never a scan of the table.
    """
    counted = and_(orders_table.c.customer_id == customer_id, orders_table.c.counted_in_orders)
    first, last = (await session.execute(
        select(func.min(orders_table.c.placed_at), func.max(orders_table.c.placed_at))
        .where(counted)
    )).one()
    values: dict[str, Any] = {"first_order_at": first, "last_order_at": last}
    if categories:
        spend = func.sum(items_table.c.price * items_table.c.quantity)
        values["favourite_category"] = await session.scalar(
            select(items_table.c.category)
            .join(orders_table, orders_table.c.id == items_table.c.order_id)
            .where(counted, items_table.c.category.is_not(None))
            .group_by(items_table.c.category)
            .order_by(desc(spend), items_table.c.category)
            .limit(1)
        )
    await session.execute(
        update(customers_table).where(customers_table.c.id == customer_id).values(**values)
    )


async def apply_aggregates(
    session: AsyncSession, customer_id: int, old: OrderState | None, new: OrderState, now: datetime
) -> None:
    d_orders = int(new.counted_in_orders) - int(old.counted_in_orders if old else False)
    d_gross = new.counted_gross - (old.counted_gross if old else 0)
    d_net = new.counted_spend - (old.counted_spend if old else 0)
    if d_orders or d_gross or d_net:
        c = customers_table.c
        await session.execute(
            update(customers_table)
            .where(c.id == customer_id)
            .values(
                orders_count=c.orders_count + d_orders,
                gross_spend=c.gross_spend + d_gross,
                net_spend=c.net_spend + d_net,
                updated_at=now,
            )
        )


async def undo_rewards(
    session: AsyncSession, order_id: int, status: str, now: datetime
) -> tuple[int, int]:
    """Revoke reward codes this order earned and reject a referral it was to qualify."""
    reason = REVOKE_REASON_CANCELLED if status == OrderStatus.CANCELLED else REVOKE_REASON_RETURNED
    revoked = await session.execute(
        update(PromoCode)
        .where(PromoCode.earned_by_order_id == order_id, PromoCode.status == CodeStatus.ACTIVE)
        .values(status=CodeStatus.REVOKED, revoked_at=now, revoke_reason=reason)
        .execution_options(synchronize_session=False)
    )
    rejected = await session.execute(
        update(Referral)
        .where(
            Referral.first_order_id == order_id,
            Referral.status.in_([ReferralStatus.PENDING, ReferralStatus.QUALIFIED]),
        )
        .values(status=ReferralStatus.REJECTED)
        .execution_options(synchronize_session=False)
    )
    return revoked.rowcount, rejected.rowcount
