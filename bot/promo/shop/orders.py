"""Orders pushed by the shop: an idempotent upsert that keeps customer aggregates right.

The shop may send an order any number of times, concurrently too; each change of the
order applies its effects once. The order row remembers what it added to its customer
(`counted_in_orders`, `counted_spend`), so an update adds only the difference. Who applies
a change is settled by the database: on PostgreSQL the row is locked (`FOR UPDATE`) and
the UPDATE is conditional on the state that was read, checked by its row count; on SQLite
the write transaction is `BEGIN IMMEDIATE`, so writers queue on the file.

Effects of a status change:
- cancelled or fully returned: the code use the order took is given back;
- cancelled, returned or partially returned: reward codes the order earned are revoked
  and a referral whose first order it was is rejected;
- delivered: `delivered_at` is stamped (the return window counts from it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, desc, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db.dialect import insert_ignoring_conflict
from bot.db.models import (
    CodeStatus,
    Customer,
    Order,
    OrderItem,
    OrderStatus,
    PromoCode,
    Referral,
    ReferralStatus,
)
from bot.promo.checkout.redemption import release_order
from bot.promo.codes.offers import Item
from bot.promo.customers.profiles import get_by_external_id
from bot.promo.errors import DomainError, ErrorCode, NotFound

# An order line as the shop sends it; the same shape checkout baskets use.
ItemIn = Item

REVOKE_REASON_RETURNED = "order returned"
REVOKE_REASON_CANCELLED = "order cancelled"
_UNDOING = frozenset({OrderStatus.CANCELLED, OrderStatus.RETURNED, OrderStatus.PARTIALLY_RETURNED})
_RELEASING = frozenset({OrderStatus.CANCELLED, OrderStatus.RETURNED})
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_MAX_ATTEMPTS = 5

orders_table = Order.__table__
items_table = OrderItem.__table__
customers_table = Customer.__table__


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
    # The customer's aggregates after this push.
    orders_count: int = 0
    net_spend: int = 0


@dataclass(frozen=True, slots=True)
class _State:
    """The columns of an order row that a push may change."""

    customer_id: int
    placed_at: datetime
    status: str
    total: int
    currency: str
    discount: int
    promo_code: str | None
    returned_amount: int
    delivered_at: datetime | None
    counted_in_orders: bool
    counted_spend: int

    @property
    def counted_gross(self) -> int:
        return self.total if self.counted_in_orders else 0

    def columns(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


_STATE_COLUMNS = [orders_table.c[name] for name in _State.__slots__]


def _validate(
    *, status: str, total: int, currency: str, discount: int | None,
    returned_amount: int | None, placed_at: datetime, items: Sequence[Item], settings: Settings,
) -> OrderStatus:
    try:
        order_status = OrderStatus(status)
    except ValueError:
        raise DomainError(
            ErrorCode.INVALID_STATUS, "unknown order status", field="status",
            allowed=[s.value for s in OrderStatus],
        ) from None
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise DomainError(ErrorCode.INVALID_TOTAL, "total must be a non-negative integer",
                          field="total")
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        raise DomainError(ErrorCode.INVALID_CURRENCY, "currency must be 3 letters",
                          field="currency")
    if currency != settings.currency:
        raise DomainError(
            ErrorCode.UNSUPPORTED_CURRENCY, "orders must be in the shop's currency",
            field="currency", expected=settings.currency,
        )
    if discount is not None and discount < 0:
        raise DomainError(ErrorCode.INVALID_DISCOUNT, "discount must not be negative",
                          field="discount")
    if returned_amount is not None and not 0 <= returned_amount <= total:
        raise DomainError(
            ErrorCode.INVALID_RETURNED_AMOUNT, "returned amount must be between 0 and the total",
            field="returned_amount",
        )
    if placed_at.tzinfo is None:
        raise DomainError(ErrorCode.INVALID_PLACED_AT, "placed_at needs a time zone",
                          field="placed_at")
    for index, item in enumerate(items):
        if not item.sku:
            raise DomainError(ErrorCode.INVALID_ITEM, "item needs a sku",
                              field=f"items[{index}].sku")
        if item.quantity < 1:
            raise DomainError(
                ErrorCode.INVALID_ITEM, "item quantity must be at least 1",
                field=f"items[{index}].quantity",
            )
        if item.price < 0:
            raise DomainError(
                ErrorCode.INVALID_ITEM, "item price must not be negative",
                field=f"items[{index}].price",
            )
    return order_status


def _returned(status: OrderStatus, total: int, given: int | None, stored: int) -> int:
    """How much of the order went back: a full return is the whole total unless told."""
    if given is not None:
        return given
    if status is OrderStatus.RETURNED:
        return total
    if status in (OrderStatus.PARTIALLY_RETURNED, OrderStatus.CANCELLED):
        return min(stored, total)
    return 0


def _target(
    old: _State | None, *, customer_id: int, placed_at: datetime, status: OrderStatus, total: int,
    currency: str, discount: int | None, promo_code: str | None, returned_amount: int | None,
    now: datetime, delivered_at: datetime | None,
) -> _State:
    returned = _returned(status, total, returned_amount, old.returned_amount if old else 0)
    counted = status is not OrderStatus.CANCELLED
    stamped = old.delivered_at if old else None
    if stamped is None:
        # The shop's own delivery time wins; else a push that says "delivered" stamps now.
        stamped = delivered_at or (now if status is OrderStatus.DELIVERED else None)
    return _State(
        customer_id=customer_id,
        placed_at=placed_at,
        status=status.value,
        total=total,
        currency=currency,
        discount=discount if discount is not None else (old.discount if old else 0),
        promo_code=promo_code if promo_code is not None else (old.promo_code if old else None),
        returned_amount=returned,
        delivered_at=stamped,
        counted_in_orders=counted,
        counted_spend=total - returned if counted else 0,
    )


def _item_rows(order_id: int, items: Sequence[Item]) -> list[dict[str, Any]]:
    return [
        {"order_id": order_id, "sku": item.sku, "category": item.category or None,
         "price": item.price, "quantity": item.quantity}
        for item in items
    ]


def _item_key(row: Any) -> tuple[Any, ...]:
    return (row["sku"], row["category"], row["price"], row["quantity"])


async def _replace_items(
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


async def _refresh_recency(session: AsyncSession, customer_id: int, *, categories: bool) -> None:
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


async def _apply_aggregates(
    session: AsyncSession, customer_id: int, old: _State | None, new: _State, now: datetime
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


async def _undo_rewards(
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
    settings: Settings,
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
    order_status = _validate(
        status=status, total=total, currency=currency, discount=discount,
        returned_amount=returned_amount, placed_at=placed_at, items=items or (),
        settings=settings,
    )
    customer_id = await _resolve_customer(session, customer)
    fields = dict(
        customer_id=customer_id, placed_at=placed_at, status=order_status, total=total,
        currency=currency, discount=discount, promo_code=promo_code or None,
        returned_amount=returned_amount, now=now, delivered_at=delivered_at,
    )

    for _attempt in range(_MAX_ATTEMPTS):
        new = _target(None, **fields)
        inserted = (await session.execute(
            insert_ignoring_conflict(
                session, orders_table, external_id=external_id, created_at=now, updated_at=now,
                **new.columns(),
            ).returning(orders_table.c.id)
        )).first()
        if inserted is not None:
            order_id = inserted[0]
            old: _State | None = None
            await _replace_items(session, order_id, items, fresh=True)
            items_changed = bool(items)
        else:
            row = (await session.execute(
                select(orders_table.c.id, *_STATE_COLUMNS)
                .where(orders_table.c.external_id == external_id)
                .with_for_update()
            )).mappings().first()
            if row is None:  # pragma: no cover - deleted between the two statements
                continue
            order_id = row["id"]
            old = _State(**{name: row[name] for name in _State.__slots__})
            if old.customer_id != customer_id:
                raise DomainError(
                    ErrorCode.ORDER_CUSTOMER_MISMATCH, "the order belongs to another customer",
                    order_id=external_id,
                )
            new = _target(old, **fields)
            items_changed = await _replace_items(session, order_id, items, fresh=False)
            if new == old:
                if items_changed:
                    await _refresh_recency(session, customer_id, categories=True)
                return await _result(session, order_id, external_id, old, new,
                                     created=False, changed=items_changed)
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
            if moved.rowcount != 1:
                continue  # someone else changed the row since we read it: read again

        await _apply_aggregates(session, customer_id, old, new, now)
        counted_changed = old is None or old.counted_in_orders != new.counted_in_orders
        if counted_changed or items_changed or old.placed_at != new.placed_at:
            await _refresh_recency(
                session, customer_id, categories=counted_changed or items_changed
            )
        released = revoked = rejected = 0
        status_changed = old is None or old.status != new.status
        if status_changed and order_status in _RELEASING and (
            old is None or old.status not in _RELEASING
        ):
            released = await release_order(session, external_id, now=now)
        if status_changed and order_status in _UNDOING and old is not None:
            revoked, rejected = await _undo_rewards(session, order_id, new.status, now)
        return await _result(
            session, order_id, external_id, old, new, created=old is None, changed=True,
            released=released, revoked=revoked, rejected=rejected,
        )
    raise DomainError(ErrorCode.CONFLICT, "the order kept changing under us; retry")


async def _result(
    session: AsyncSession, order_id: int, external_id: str, old: _State | None, new: _State,
    *, created: bool, changed: bool, released: int = 0, revoked: int = 0, rejected: int = 0,
) -> OrderResult:
    # Bring a Customer the caller holds in this session up to date with the SQL above.
    customer = await session.get(Customer, new.customer_id, populate_existing=True)
    assert customer is not None
    return OrderResult(
        order_id=order_id,
        external_id=external_id,
        customer_id=new.customer_id,
        status=new.status,
        previous_status=old.status if old else None,
        created=created,
        changed=changed,
        released_uses=released,
        revoked_codes=revoked,
        rejected_referrals=rejected,
        orders_count=customer.orders_count,
        net_spend=customer.net_spend,
    )
