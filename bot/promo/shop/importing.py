"""Import of a shop's order export (CSV, read by `order_csv`): customers and orders
through the same upserts the shop API uses, so aggregates, statuses and their effects come
out the same way.

A bad row is reported (line number + reason) and its order skipped; the rest imports.
Importing the same file again changes nothing.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.clock import Clock, utcnow
from bot.config import ShopSettings
from bot.db.engine import Database
from bot.db.models import Customer
from bot.promo.customers.profiles import upsert_customer
from bot.promo.errors import DomainError
from bot.promo.shop.order_csv import (
    ImportFileError,
    LineError,
    ParsedFile,
    ParsedOrder,
    decode,
    parse_csv,
)
from bot.promo.shop.orders import upsert_order

BATCH_ORDERS = 500
_PROFILE_FIELDS = ("name", "phone", "email", "locale", "timezone", "marketing_opt_in")

Progress = Callable[[int, int], None]


@dataclass(slots=True)
class ImportSummary:
    rows: int = 0
    orders_in_file: int = 0
    customers_created: int = 0
    customers_updated: int = 0
    customers_unchanged: int = 0
    orders_created: int = 0
    orders_updated: int = 0
    orders_unchanged: int = 0
    orders_skipped: int = 0
    errors: list[LineError] = field(default_factory=list)
    # Rows whose times had no offset, read in the shop's zone `zone`.
    local_times: int = 0
    zone: str | None = None

    @property
    def changed(self) -> bool:
        return bool(
            self.customers_created or self.customers_updated
            or self.orders_created or self.orders_updated
        )


def _optional_int(value: str | None) -> int | None:
    return int(value) if value else None


async def _upsert_profile(
    session: Any, external_id: str, profile: dict[str, Any], known: dict[str, tuple[Any, ...]],
    now: datetime,
) -> tuple[int, str]:
    """Upsert one customer; an update that changes nothing is rolled back, so a re-import
    does not even touch `updated_at`. Returns the id and created/updated/unchanged."""
    savepoint = await session.begin_nested()
    try:
        customer, created = await upsert_customer(session, external_id, now=now, **profile)
    except DomainError:
        await savepoint.rollback()
        raise
    if created:
        await savepoint.commit()
        return customer.id, "created"
    after = tuple(getattr(customer, name) for name in _PROFILE_FIELDS)
    customer_id = customer.id
    if after == known.get(external_id):
        await savepoint.rollback()
        return customer_id, "unchanged"
    await savepoint.commit()
    return customer_id, "updated"


async def _known_profiles(session: Any, ids: Iterable[str]) -> dict[str, tuple[Any, ...]]:
    columns = [getattr(Customer, name) for name in _PROFILE_FIELDS]
    rows = await session.execute(
        select(Customer.external_id, *columns).where(Customer.external_id.in_(list(ids)))
    )
    return {row[0]: tuple(row[1:]) for row in rows}


async def import_orders(
    db: Database,
    parsed: ParsedFile,
    *,
    shop: ShopSettings,
    clock: Clock = utcnow,
    progress: Progress | None = None,
    batch_size: int = BATCH_ORDERS,
) -> ImportSummary:
    """Upsert the parsed customers and orders, committing every `batch_size` orders.

    A row or order the domain refuses is reported and skipped; nothing else stops it.
    A job, so it takes the `Database`: each batch is a session and a transaction of its
    own, so a large export is never one long write transaction holding the lock.
    """
    summary = ImportSummary(rows=parsed.rows, orders_in_file=len(parsed.orders),
                            errors=list(parsed.errors), local_times=parsed.local_times,
                            zone=parsed.zone)
    todo = [order for order in parsed.orders if not order.bad]
    summary.orders_skipped = len(parsed.orders) - len(todo)
    run = _Import(parsed.profiles, shop, summary)
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        async with db.session() as session:
            await run.batch(session, batch, now=clock())
            await session.commit()
        if progress is not None:
            progress(start + len(batch), len(todo))
    summary.errors.sort(key=lambda e: e.line)
    return summary


@dataclass(slots=True)
class _Import:
    """One import's tally, and the customers it has met, carried from batch to batch."""

    profiles: dict[str, dict[str, Any]]
    shop: ShopSettings
    summary: ImportSummary
    customer_ids: dict[str, int] = field(default_factory=dict)
    # The shop's customer id → why the domain refused that customer.
    failed_customers: dict[str, str] = field(default_factory=dict)

    async def batch(self, session: Any, batch: list[ParsedOrder], *, now: datetime) -> None:
        """Each order's customer, then the order; not committed."""
        fresh = {order.fields["customer_id"] for order in batch} - self.customer_ids.keys()
        known = await _known_profiles(session, fresh - self.failed_customers.keys())
        for order in batch:
            customer_id = await self._customer(session, order, known, now)
            if customer_id is None:
                continue
            outcome = await _import_order(session, order, customer_id, shop=self.shop, now=now)
            if isinstance(outcome, LineError):
                self._skip(outcome)
            else:
                self._count(f"orders_{outcome}")

    async def _customer(
        self, session: Any, order: ParsedOrder, known: dict[str, tuple[Any, ...]],
        now: datetime,
    ) -> int | None:
        """The order's customer, upserted the first time the import meets them; None (the
        order skipped and reported) when the domain refused them."""
        key = order.fields["customer_id"]
        if key in self.failed_customers:
            self._skip(LineError(order.line, self.failed_customers[key], order.external_id))
            return None
        if key not in self.customer_ids:
            try:
                customer_id, outcome = await _upsert_profile(
                    session, key, self.profiles.get(key, {}), known, now
                )
            except DomainError as error:
                reason = f"customer {key}: {error.message}"
                self.failed_customers[key] = reason
                self._skip(LineError(order.line, reason, order.external_id))
                return None
            self.customer_ids[key] = customer_id
            self._count(f"customers_{outcome}")
        return self.customer_ids[key]

    def _skip(self, error: LineError) -> None:
        self.summary.errors.append(error)
        self.summary.orders_skipped += 1

    def _count(self, name: str) -> None:
        setattr(self.summary, name, getattr(self.summary, name) + 1)


async def _import_order(
    session: Any, order: ParsedOrder, customer_id: int, *, shop: ShopSettings, now: datetime
) -> str | LineError:
    f = order.fields
    placed_at = datetime.fromisoformat(f["placed_at"])
    delivered_at = datetime.fromisoformat(f["delivered_at"]) if f.get("delivered_at") else None
    savepoint = await session.begin_nested()
    try:
        result = await upsert_order(
            session, order.external_id, customer=customer_id, placed_at=placed_at,
            status=f["status"], total=int(f["total"]),
            currency=(f.get("currency") or shop.currency).upper(),
            items=order.items if order.has_item_rows else None,
            promo_code=f.get("promo_code") or None, discount=_optional_int(f.get("discount")),
            returned_amount=_optional_int(f.get("returned_amount")),
            # History, not news: the return window of an old delivery did not start today.
            delivered_at=delivered_at or placed_at, now=now, shop=shop,
        )
    except DomainError as error:
        await savepoint.rollback()
        return LineError(order.line, error.message, order.external_id)
    await savepoint.commit()
    if result.created:
        return "created"
    return "updated" if result.changed else "unchanged"


def read_file(path: str | Path, zone: ZoneInfo | None = None) -> ParsedFile:
    """Read and parse an export (times without an offset in `zone`); ImportFileError if
    it cannot be read at all."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ImportFileError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        return parse_csv(decode(data), zone)
    except csv.Error as error:
        raise ImportFileError(f"not a CSV file: {error}") from None


async def import_file(
    db: Database, path: str | Path, *, shop: ShopSettings, clock: Clock = utcnow,
    progress: Progress | None = None, batch_size: int = BATCH_ORDERS,
) -> ImportSummary:
    """`read_file` then `import_orders`."""
    return await import_orders(
        db, read_file(path, shop.zone), shop=shop, clock=clock, progress=progress,
        batch_size=batch_size,
    )
