"""Import of a shop's order export (CSV): customers and orders through the same upserts
the shop API uses, so aggregates, statuses and their effects come out the same way.

The file: UTF-8 (a BOM is fine), `,` or `;` as delimiter (whichever the header uses
more), a header row, one row per order line. Rows with the same `order_id` form one
order (they need not be adjacent); the order's own fields are taken from its first row
and must agree on the others.

Required columns:
- `order_id`, `customer_id`: the shop's ids (at most 64 characters);
- `placed_at`: ISO 8601 with an offset, `2025-03-01T14:05:00+03:00` (or `Z`);
- `status`: `paid`, `delivered`, `cancelled`, `returned`, `partially_returned`;
- `total`: what the order cost, an integer in minor units (`249000` = 2 490,00 ₽).
Optional columns:
- `currency`: must be the shop's (`PROMOBOT_CURRENCY`); empty means the shop's;
- `sku`, `category`, `price`, `quantity`: the line (`price` in minor units, `quantity`
  at least 1, default 1); a row without `sku` carries no line;
- `promo_code`, `discount`, `returned_amount`: as in the API, money in minor units;
- `delivered_at`: when it was delivered (the return window); default `placed_at`;
- `name`, `phone`, `email`: the customer's profile; the last non-empty value wins.

Money is never a decimal here: `2490.00` is reported as an error, not guessed at.
A bad row is reported (line number + reason) and its order skipped; the rest imports.
Importing the same file again changes nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.clock import Clock, utcnow
from bot.config import ShopSettings
from bot.db.engine import Database
from bot.db.models import Customer, OrderStatus
from bot.promo.codes.offers import Item
from bot.promo.customers.profiles import upsert_customer
from bot.promo.errors import DomainError
from bot.promo.shop.orders import upsert_order

REQUIRED_COLUMNS = ("order_id", "customer_id", "placed_at", "status", "total")
ORDER_COLUMNS = (
    "customer_id", "placed_at", "status", "total", "currency", "promo_code", "discount",
    "returned_amount", "delivered_at",
)
PROFILE_COLUMNS = ("name", "phone", "email")
BATCH_ORDERS = 500
_STATUSES = ", ".join(s.value for s in OrderStatus)
_PROFILE_FIELDS = ("name", "phone", "email", "locale", "timezone", "marketing_opt_in")

Progress = Callable[[int, int], None]


class ImportFileError(Exception):
    """The file as a whole cannot be read (missing, not UTF-8, no usable header)."""


@dataclass(frozen=True, slots=True)
class LineError:
    line: int
    reason: str
    order_id: str | None = None

    def __str__(self) -> str:
        where = f"line {self.line}"
        if self.order_id:
            where += f" (order {self.order_id})"
        return f"{where}: {self.reason}"


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

    @property
    def changed(self) -> bool:
        return bool(
            self.customers_created or self.customers_updated
            or self.orders_created or self.orders_updated
        )


@dataclass(slots=True)
class _Order:
    """One order assembled from its rows."""

    external_id: str
    line: int
    fields: dict[str, str]
    items: list[Item] = field(default_factory=list)
    has_item_rows: bool = False
    bad: bool = False


@dataclass(slots=True)
class ParsedFile:
    orders: list[_Order]
    profiles: dict[str, dict[str, str]]
    errors: list[LineError]
    rows: int


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ImportFileError(
            f"not UTF-8 (line {line}, byte {error.start}); save the export as UTF-8"
        ) from None


def _delimiter(header: str) -> str:
    return ";" if header.count(";") > header.count(",") else ","


def parse_csv(text: str) -> ParsedFile:
    """Rows → orders grouped by id, customer profiles, and the rows that were wrong."""
    header_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(header_line))
    columns = [name.strip().lower() for name in next(reader, [])]
    if not any(columns):
        raise ImportFileError("the file is empty: a header row is needed")
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise ImportFileError(
            f"missing column(s): {', '.join(missing)} (header: {', '.join(columns)})"
        )
    orders: dict[str, _Order] = {}
    profiles: dict[str, dict[str, str]] = {}
    errors: list[LineError] = []
    rows = 0
    ends = reader.line_num
    for values in reader:
        # A quoted field may span lines: a row starts right after the previous one ended.
        start, ends = ends + 1, reader.line_num
        if not any(value.strip() for value in values):
            continue
        rows += 1
        extra = values[len(columns):]
        row = {key: value.strip() for key, value in zip(columns, values, strict=False) if key}
        order_id = row.get("order_id", "")
        if any(value.strip() for value in extra):
            problem: str | None = "more fields than the header has"
        else:
            problem = _check_row(row)
        order = orders.get(order_id) if order_id else None
        if problem is None and order is not None:
            problem = _disagreement(order, row)
        if problem is not None:
            errors.append(LineError(start, problem, order_id or None))
            if order is not None:
                order.bad = True
            elif order_id:
                orders[order_id] = _Order(order_id, start, row, bad=True)
            continue
        if order is None:
            order = orders[order_id] = _Order(order_id, start, row)
        if row.get("sku"):
            order.has_item_rows = True
            order.items.append(Item(
                sku=row["sku"], price=int(row["price"]), quantity=int(row.get("quantity") or 1),
                category=row.get("category") or None,
            ))
        profile = profiles.setdefault(row["customer_id"], {})
        for name in PROFILE_COLUMNS:
            if row.get(name):
                profile[name] = row[name]
    return ParsedFile(list(orders.values()), profiles, errors, rows)


def _money(row: dict[str, str], name: str, *, required: bool = False) -> str | None:
    value = row.get(name, "")
    if not value:
        return f"{name} is empty" if required else None
    if not value.lstrip("-").isdigit():
        return f"{name} {value!r} is not an integer amount in minor units (kopecks)"
    if int(value) < 0:
        return f"{name} {value} is negative"
    return None


def _time(row: dict[str, str], name: str, *, required: bool = False) -> str | None:
    value = row.get(name, "")
    if not value:
        return f"{name} is empty" if required else None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return f"{name} {value!r} is not an ISO 8601 date and time"
    if moment.tzinfo is None:
        return f"{name} {value!r} has no UTC offset (e.g. +03:00)"
    return None


def _check_row(row: dict[str, str]) -> str | None:
    """What is wrong with one row, in words; None if nothing."""
    if not row.get("order_id"):
        return "order_id is empty"
    if not row.get("customer_id"):
        return "customer_id is empty"
    if len(row["order_id"]) > 64 or len(row["customer_id"]) > 64:
        return "ids are at most 64 characters"
    if row.get("status", "").lower() not in OrderStatus._value2member_map_:
        return f"unknown status {row.get('status', '')!r} (one of: {_STATUSES})"
    row["status"] = row["status"].lower()
    for check in (
        _time(row, "placed_at", required=True), _money(row, "total", required=True),
        _money(row, "discount"), _money(row, "returned_amount"), _time(row, "delivered_at"),
    ):
        if check:
            return check
    if row.get("sku"):
        problem = _money(row, "price", required=True)
        if problem:
            return problem
        quantity = row.get("quantity") or "1"
        if not quantity.isdigit() or int(quantity) < 1:
            return f"quantity {quantity!r} is not a whole number of at least 1"
    elif row.get("price") or row.get("category"):
        return "a line with a price or category needs a sku"
    return None


def _disagreement(order: _Order, row: dict[str, str]) -> str | None:
    for name in ORDER_COLUMNS:
        if row.get(name, "") != order.fields.get(name, ""):
            return (
                f"{name} {row.get(name, '')!r} differs from {order.fields.get(name, '')!r} "
                f"on line {order.line} of the same order"
            )
    return None


def _optional_int(value: str | None) -> int | None:
    return int(value) if value else None


async def _upsert_profile(
    session: Any, external_id: str, profile: dict[str, str], known: dict[str, tuple[Any, ...]],
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
    summary = ImportSummary(rows=parsed.rows, orders_in_file=len(parsed.orders))
    errors = list(parsed.errors)
    todo = [order for order in parsed.orders if not order.bad]
    summary.orders_skipped = len(parsed.orders) - len(todo)
    customer_ids: dict[str, int] = {}
    failed_customers: dict[str, str] = {}
    done = 0
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        async with db.session() as session:
            now = clock()
            fresh = {o.fields["customer_id"] for o in batch} - customer_ids.keys()
            known = await _known_profiles(session, fresh - failed_customers.keys())
            for order in batch:
                customer_key = order.fields["customer_id"]
                if customer_key in failed_customers:
                    errors.append(LineError(order.line, failed_customers[customer_key],
                                            order.external_id))
                    summary.orders_skipped += 1
                    continue
                if customer_key not in customer_ids:
                    try:
                        customer_id, outcome = await _upsert_profile(
                            session, customer_key, parsed.profiles.get(customer_key, {}), known,
                            now,
                        )
                    except DomainError as error:
                        reason = f"customer {customer_key}: {error.message}"
                        failed_customers[customer_key] = reason
                        errors.append(LineError(order.line, reason, order.external_id))
                        summary.orders_skipped += 1
                        continue
                    customer_ids[customer_key] = customer_id
                    setattr(summary, f"customers_{outcome}",
                            getattr(summary, f"customers_{outcome}") + 1)
                outcome = await _import_order(
                    session, order, customer_ids[customer_key], shop=shop, now=now
                )
                if isinstance(outcome, LineError):
                    errors.append(outcome)
                    summary.orders_skipped += 1
                else:
                    setattr(summary, f"orders_{outcome}", getattr(summary, f"orders_{outcome}") + 1)
            await session.commit()
        done += len(batch)
        if progress is not None:
            progress(done, len(todo))
    summary.errors = sorted(errors, key=lambda e: e.line)
    return summary


async def _import_order(
    session: Any, order: _Order, customer_id: int, *, shop: ShopSettings, now: datetime
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


def read_file(path: str | Path) -> ParsedFile:
    """Read and parse an export; ImportFileError if it cannot be read at all."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ImportFileError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        return parse_csv(_decode(data))
    except csv.Error as error:
        raise ImportFileError(f"not a CSV file: {error}") from None


async def import_file(
    db: Database, path: str | Path, *, shop: ShopSettings, clock: Clock = utcnow,
    progress: Progress | None = None, batch_size: int = BATCH_ORDERS,
) -> ImportSummary:
    """`read_file` then `import_orders`."""
    return await import_orders(
        db, read_file(path), shop=shop, clock=clock, progress=progress,
        batch_size=batch_size,
    )
