"""The shop's order export as CSV: what the file holds, and its rows checked and grouped
into orders. Text in, `ParsedFile` out: no file and no database here (`importing` reads
the file and writes what is parsed).

The file: UTF-8 (a BOM is fine), `,` or `;` as delimiter (whichever the header uses
more), a header row, one row per order line. Rows with the same `order_id` form one
order (they need not be adjacent); the order's own fields are taken from its first row
and must agree on the others.

Required columns:
- `order_id`, `customer_id`: the shop's ids (at most 64 characters);
- `placed_at`: ISO 8601, `2025-03-01T14:05:00+03:00` (or `Z`); a time without an offset
  (`2025-03-01 14:05`) is the shop's local time (PROMOBOT_TIMEZONE), as most shop
  exports write it, and the import says how many it read so;
- `status`: `paid`, `delivered`, `cancelled`, `returned`, `partially_returned`;
- `total`: what the order cost, an integer in minor units (`249000` = 2 490,00 ₽).
Optional columns:
- `currency`: must be the shop's (`PROMOBOT_CURRENCY`); empty means the shop's;
- `sku`, `category`, `price`, `quantity`: the line (`price` in minor units, `quantity`
  at least 1, default 1); a row without `sku` carries no line;
- `promo_code`, `discount`, `returned_amount`: as in the API, money in minor units;
- `delivered_at`: when it was delivered (the return window); default `placed_at`;
- `name`, `phone`, `email`, `marketing_opt_in`: the customer's profile; the last
  non-empty value wins. `marketing_opt_in` is `yes`/`no` (`1`/`0`, `true`/`false`): the
  customer agreed to promotions; a new customer without it has not.

Money is never a decimal here: `2490.00` is reported as an error, not guessed at.
A bad row is reported (line number + reason) and its order skipped.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.db.models import OrderStatus
from bot.promo.codes.offers import Item

REQUIRED_COLUMNS = ("order_id", "customer_id", "placed_at", "status", "total")
ORDER_COLUMNS = (
    "customer_id", "placed_at", "status", "total", "currency", "promo_code", "discount",
    "returned_amount", "delivered_at",
)
PROFILE_COLUMNS = ("name", "phone", "email", "marketing_opt_in")
TIME_COLUMNS = ("placed_at", "delivered_at")
_YES = frozenset({"1", "yes", "true", "y", "да"})
_NO = frozenset({"0", "no", "false", "n", "нет"})
_STATUSES = ", ".join(s.value for s in OrderStatus)


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
class ParsedOrder:
    """One order assembled from its rows."""

    external_id: str
    line: int
    fields: dict[str, str]
    items: list[Item] = field(default_factory=list)
    has_item_rows: bool = False
    bad: bool = False


@dataclass(slots=True)
class ParsedFile:
    orders: list[ParsedOrder]
    profiles: dict[str, dict[str, Any]]
    errors: list[LineError]
    rows: int
    # Rows whose times had no offset and were read in `zone`.
    local_times: int = 0
    zone: str | None = None


def decode(data: bytes) -> str:
    """The file's text; ImportFileError, with where, if it is not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ImportFileError(
            f"not UTF-8 (line {line}, byte {error.start}); save the export as UTF-8"
        ) from None


def _delimiter(header: str) -> str:
    return ";" if header.count(";") > header.count(",") else ","


def parse_csv(text: str, zone: ZoneInfo | None = None) -> ParsedFile:
    """Rows → orders grouped by id, customer profiles, and the rows that were wrong.
    Times without an offset are read in `zone`; without a zone they are errors."""
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
    orders: dict[str, ParsedOrder] = {}
    profiles: dict[str, dict[str, Any]] = {}
    errors: list[LineError] = []
    rows = local_times = 0
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
        local_times += _localize(row, zone)
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
                orders[order_id] = ParsedOrder(order_id, start, row, bad=True)
            continue
        if order is None:
            order = orders[order_id] = ParsedOrder(order_id, start, row)
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
        if "marketing_opt_in" in profile:
            profile["marketing_opt_in"] = profile["marketing_opt_in"].lower() in _YES
    return ParsedFile(list(orders.values()), profiles, errors, rows, local_times,
                      zone.key if zone is not None else None)


def _localize(row: dict[str, str], zone: ZoneInfo | None) -> int:
    """Times without an offset made the shop's local time (1 if the row had any); a
    value that is not a time is left for `_check_row` to report."""
    found = 0
    for name in TIME_COLUMNS:
        try:
            moment = datetime.fromisoformat(row.get(name) or "")
        except ValueError:
            continue
        if moment.tzinfo is None and zone is not None:
            row[name] = moment.replace(tzinfo=zone).isoformat()
            found = 1
    return found


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
    consent = row.get("marketing_opt_in", "").lower()
    if consent and consent not in _YES | _NO:
        return f"marketing_opt_in {row['marketing_opt_in']!r} is not yes or no"
    return None


def _disagreement(order: ParsedOrder, row: dict[str, str]) -> str | None:
    for name in ORDER_COLUMNS:
        if row.get(name, "") != order.fields.get(name, ""):
            return (
                f"{name} {row.get(name, '')!r} differs from {order.fields.get(name, '')!r} "
                f"on line {order.line} of the same order"
            )
    return None

