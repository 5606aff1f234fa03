"""Orders pushed by the shop: an idempotent upsert that keeps customer aggregates right.

The shop may send an order any number of times, concurrently too; each change of the
order applies its effects once. The order row remembers what it added to its customer
(`counted_in_orders`, `counted_spend`), so an update adds only the difference. Who applies
a change is settled by the database: on PostgreSQL the row is locked (`FOR UPDATE`) and
the UPDATE is conditional on the state that was read, checked by its row count; on SQLite
the write transaction is `BEGIN IMMEDIATE`, so writers queue on the file.

What a push means for the row is `order_state`; what a change does around it (aggregates,
released code uses, revoked rewards) is `order_effects`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import ShopSettings
from bot.db.dialect import insert_ignoring_conflict
from bot.db.models import Customer, Order
from bot.promo.codes.offers import Item
from bot.promo.customers.profiles import get_by_external_id
from bot.promo.errors import DomainError, ErrorCode, NotFound
from bot.promo.shop.order_effects import (
    apply_effects,
    refresh_recency,
    replace_items,
)
from bot.promo.shop.order_state import STATE_COLUMNS, OrderState, target, validate

# An order line as the shop sends it; the same shape checkout baskets use.
ItemIn = Item

_MAX_ATTEMPTS = 5

orders_table = Order.__table__


@dataclass(frozen=True, slots=True)
class OrderResult:
    order_id: int
    external_id: str
    customer_id: int
    status: str
    previous_status: str | None
    created: bool
    # False when the push repeated what was stored: nothing was written.
    changed: bool
    released_uses: int = 0
    revoked_codes: int = 0
    rejected_referrals: int = 0
    # Comeback and cart messages this order withdrew before they went out.
    withdrawn_messages: int = 0
    # The customer's aggregates after this push.
    orders_count: int = 0
    net_spend: int = 0


async def _resolve_customer(session: AsyncSession, customer: Customer | str | int) -> int:
    if isinstance(customer, Customer):
        return customer.id
    if isinstance(customer, int) and not isinstance(customer, bool):
        return customer
    found = await get_by_external_id(session, str(customer))
    if found is None:
        raise NotFound(ErrorCode.UNKNOWN_CUSTOMER, "no such customer", customer_id=str(customer))
    return found.id


async def upsert_order(
    session: AsyncSession,
    external_id: str,
    *,
    customer: Customer | str | int,
    placed_at: datetime,
    status: str,
    total: int,
    currency: str,
    items: Sequence[Item] | None = None,
    promo_code: str | None = None,
    discount: int | None = None,
    returned_amount: int | None = None,
    delivered_at: datetime | None = None,
    now: datetime,
    shop: ShopSettings,
) -> OrderResult:
    """Create or update an order and apply what its change means, exactly once.

    `customer` is a Customer, its database id, or the shop's customer id (NotFound if
    unknown). `items=None` keeps the stored lines. `returned_amount=None` means: all of it
    for `returned`, what was stored for `partially_returned`, nothing otherwise.
    `delivered_at` is kept once known; without it, the first push with status `delivered`
    stamps `now` (the return window counts from it).
    Runs in the caller's transaction and does not commit.
    """
    external_id = (external_id or "").strip()
    if not external_id or len(external_id) > 64:
        raise DomainError(ErrorCode.INVALID_ORDER_ID, "order id must be 1-64 characters")
    order_status = validate(
        status=status, total=total, currency=currency, discount=discount,
        returned_amount=returned_amount, placed_at=placed_at, items=items or (), shop=shop,
    )
    customer_id = await _resolve_customer(session, customer)
    fields = dict(
        customer_id=customer_id, placed_at=placed_at, status=order_status, total=total,
        currency=currency, discount=discount, promo_code=promo_code or None,
        returned_amount=returned_amount, now=now, delivered_at=delivered_at,
    )
    for _attempt in range(_MAX_ATTEMPTS):
        change = (await _insert_row(session, external_id, items, fields, now)
                  or await _update_row(session, external_id, customer_id, items, fields, now))
        if change is None:
            continue  # deleted, or changed by someone else since we read it: again
        if change.new == change.old:
            return await _result(session, external_id, change, changed=change.items_changed)
        effects = await apply_effects(session, change.order_id, external_id, change.old,
                                      change.new, items_changed=change.items_changed, now=now)
        return await _result(
            session, external_id, change, changed=True,
            released=effects.released, revoked=effects.revoked, rejected=effects.rejected,
            withdrawn=effects.withdrawn,
        )
    raise DomainError(ErrorCode.CONFLICT, "the order kept changing under us; retry")


class _Change(NamedTuple):
    """What a push did to the order's row: `old` is None when it created the row."""

    order_id: int
    old: OrderState | None
    new: OrderState
    items_changed: bool


async def _insert_row(
    session: AsyncSession, external_id: str, items: Sequence[Item] | None,
    fields: dict[str, Any], now: datetime,
) -> _Change | None:
    """Create the row of an order seen for the first time, with its lines; None when the
    row exists (a concurrent push may have just created it): update it instead."""
    new = target(None, **fields)
    inserted = (await session.execute(
        insert_ignoring_conflict(
            session, orders_table, external_id=external_id, created_at=now, updated_at=now,
            **new.columns(),
        ).returning(orders_table.c.id)
    )).first()
    if inserted is None:
        return None
    order_id = inserted[0]
    await replace_items(session, order_id, items, fresh=True)
    return _Change(order_id, None, new, bool(items))


async def _update_row(
    session: AsyncSession, external_id: str, customer_id: int, items: Sequence[Item] | None,
    fields: dict[str, Any], now: datetime,
) -> _Change | None:
    """Move an existing row to its new state: locked, then a conditional UPDATE checked by
    its row count. None when the row changed under us (read it again); `new == old`
    when the push repeats what is stored (only changed lines are written)."""
    row = (await session.execute(
        select(orders_table.c.id, *STATE_COLUMNS)
        .where(orders_table.c.external_id == external_id)
        .with_for_update()
    )).mappings().first()
    if row is None:  # pragma: no cover - deleted between the two statements
        return None
    order_id = row["id"]
    old = OrderState(**{name: row[name] for name in OrderState.__slots__})
    if old.customer_id != customer_id:
        raise DomainError(
            ErrorCode.ORDER_CUSTOMER_MISMATCH, "the order belongs to another customer",
            order_id=external_id,
        )
    new = target(old, **fields)
    items_changed = await replace_items(session, order_id, items, fresh=False)
    if new == old:
        if items_changed:
            await refresh_recency(session, customer_id, categories=True)
        return _Change(order_id, old, new, items_changed)
    moved = await session.execute(
        update(orders_table)
        .where(
            orders_table.c.id == order_id,
            orders_table.c.status == old.status,
            orders_table.c.counted_in_orders == old.counted_in_orders,
            orders_table.c.counted_spend == old.counted_spend,
        )
        .values(updated_at=now, **new.columns())
    )
    return _Change(order_id, old, new, items_changed) if moved.rowcount == 1 else None


async def _result(
    session: AsyncSession, external_id: str, change: _Change,
    *, changed: bool, released: int = 0, revoked: int = 0, rejected: int = 0,
    withdrawn: int = 0,
) -> OrderResult:
    # Bring a Customer the caller holds in this session up to date with the SQL above.
    customer = await session.get(Customer, change.new.customer_id, populate_existing=True)
    assert customer is not None
    return OrderResult(
        order_id=change.order_id,
        external_id=external_id,
        customer_id=change.new.customer_id,
        status=change.new.status,
        previous_status=change.old.status if change.old else None,
        created=change.old is None,
        changed=changed,
        released_uses=released,
        revoked_codes=revoked,
        rejected_referrals=rejected,
        withdrawn_messages=withdrawn,
        orders_count=customer.orders_count,
        net_spend=customer.net_spend,
    )
