"""What a push of an order means for its row: the checks on what the shop sent, and the
state the row moves to (pure; `bot.promo.shop.orders` writes it).

The row remembers what it added to its customer (`counted_in_orders`, `counted_spend`), so
an update adds only the difference between the old state and the new one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.config import ShopSettings
from bot.db.models import Order, OrderStatus
from bot.promo.codes.offers import Item
from bot.promo.errors import DomainError, ErrorCode

_CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True, slots=True)
class OrderState:
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


STATE_COLUMNS = [Order.__table__.c[name] for name in OrderState.__slots__]


def validate(
    *, status: str, total: int, currency: str, discount: int | None,
    returned_amount: int | None, placed_at: datetime, items: Sequence[Item], shop: ShopSettings,
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
    if currency != shop.currency:
        raise DomainError(
            ErrorCode.UNSUPPORTED_CURRENCY, "orders must be in the shop's currency",
            field="currency", expected=shop.currency,
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


def target(
    old: OrderState | None, *, customer_id: int, placed_at: datetime, status: OrderStatus,
    total: int, currency: str, discount: int | None, promo_code: str | None,
    returned_amount: int | None, now: datetime, delivered_at: datetime | None,
) -> OrderState:
    returned = _returned(status, total, returned_amount, old.returned_amount if old else 0)
    counted = status is not OrderStatus.CANCELLED
    stamped = old.delivered_at if old else None
    if stamped is None:
        # The shop's own delivery time wins; else a push that says "delivered" stamps now.
        stamped = delivered_at or (now if status is OrderStatus.DELIVERED else None)
    return OrderState(
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
