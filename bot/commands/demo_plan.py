"""The demo shop's plan: who the customers are, when they order, what and at what
status, drawn from one seeded random generator so that a seed always gives the same shop.

Pure: nothing here touches the database (`bot.commands.demo` writes the plan).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.db.models import OrderStatus
from bot.promo.codes.generator import ALPHABET

PREFIX = "demo-"
HISTORY_DAYS = 548  # 18 months
SHARED_CODE = "DEMOVESNA10"
SHARED_MIN_ORDER = 300_000

# Category → (sku, shelf price in kopecks).
CATALOG: dict[str, list[tuple[str, int]]] = {
    "Обувь": [("SHOE-SNEAKER-W", 699_000), ("SHOE-SNEAKER-M", 749_000),
              ("SHOE-BOOT-W", 1_299_000), ("SHOE-LOAFER-M", 899_000),
              ("SHOE-SANDAL-W", 399_000), ("SHOE-RUNNER-U", 599_000)],
    "Одежда": [("CLO-TSHIRT-BASIC", 129_000), ("CLO-HOODIE", 449_000),
               ("CLO-JEANS-SLIM", 549_000), ("CLO-DRESS-MIDI", 699_000),
               ("CLO-JACKET-DOWN", 1_499_000), ("CLO-SHIRT-LINEN", 389_000)],
    "Аксессуары": [("ACC-BELT-LEATHER", 249_000), ("ACC-SCARF-WOOL", 199_000),
                   ("ACC-CAP", 99_000), ("ACC-SOCKS-3", 59_000), ("ACC-WALLET", 349_000)],
    "Сумки": [("BAG-TOTE", 499_000), ("BAG-BACKPACK", 649_000),
              ("BAG-CROSSBODY", 579_000), ("BAG-CLUTCH", 329_000)],
    "Распродажа": [("SALE-SNEAKER-LAST", 349_000), ("SALE-TSHIRT-2PACK", 99_000),
                   ("SALE-BAG-MINI", 199_000), ("SALE-SCARF", 79_000)],
}
CATEGORIES = tuple(CATALOG)

FIRST_NAMES = ("Анна", "Мария", "Елена", "Ольга", "Наталья", "Екатерина", "Ирина", "Дарья",
               "Алексей", "Дмитрий", "Сергей", "Андрей", "Иван", "Михаил", "Артём", "Павел",
               "Emma", "Olivia", "James", "Liam")
LAST_INITIALS = "АБВГДЕЖЗИКЛМНОПРСТУФХЧШЭЮЯ"
ZONES = (None,) * 8 + ("Asia/Yekaterinburg", "Europe/Kaliningrad", "Asia/Novosibirsk")

# Kind of customer → share of the demo; see `_order_times` for what each means.
PROFILES: dict[str, float] = {
    "regular": 0.30, "lapsed_60": 0.10, "lapsed_90": 0.22, "one_silent": 0.20,
    "new": 0.10, "comeback": 0.03, "no_orders": 0.05,
}


@dataclass(slots=True)
class OrderPlan:
    external_id: str
    customer: str
    placed_at: datetime
    status: OrderStatus
    items: list[tuple[str, str, int, int]]  # sku, category, price, quantity
    code: str | None = None
    percent: int = 0

    @property
    def shelf_total(self) -> int:
        return sum(price * quantity for _sku, _category, price, quantity in self.items)


@dataclass(slots=True)
class DemoPlan:
    customers: list[dict[str, Any]] = field(default_factory=list)
    kinds: dict[str, str] = field(default_factory=dict)
    orders: list[OrderPlan] = field(default_factory=list)
    # Personal codes: (customer external id, code, issued_at, redeemed by an order).
    personal_codes: list[tuple[str, str, datetime, bool]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DemoSummary:
    customers: int
    orders: int
    items: int
    codes: int
    redemptions: int
    kinds: dict[str, int]
    statuses: dict[str, int]


def _code(rng: random.Random, taken: set[str]) -> str:
    while True:
        code = "DM" + "".join(rng.choice(ALPHABET) for _ in range(10))
        if code not in taken:
            taken.add(code)
            return code


def _kind(rng: random.Random) -> str:
    return rng.choices(list(PROFILES), weights=list(PROFILES.values()))[0]


def _days_ago(now: datetime, rng: random.Random, low: float, high: float) -> datetime:
    return now - timedelta(days=rng.uniform(low, high))


def _order_times(kind: str, rng: random.Random, now: datetime) -> list[datetime]:
    """When a customer of this kind ordered; the list is sorted, oldest first."""
    if kind == "no_orders":
        return []
    if kind == "one_silent":
        return [_days_ago(now, rng, 35, HISTORY_DAYS - 5)]
    if kind == "new":
        return sorted(_days_ago(now, rng, 0.2, 25) for _ in range(rng.choice((1, 1, 2))))
    if kind == "comeback":
        old = sorted(_days_ago(now, rng, 160, HISTORY_DAYS - 5) for _ in range(rng.randint(1, 4)))
        return [*old, _days_ago(now, rng, 3, 25)]
    last_span = {"regular": (0.2, 40), "lapsed_60": (61, 88), "lapsed_90": (95, 420)}[kind]
    last = _days_ago(now, rng, *last_span)
    count = {"regular": rng.randint(3, 14), "lapsed_60": rng.randint(2, 5),
             "lapsed_90": rng.randint(2, 6)}[kind]
    first = now - timedelta(days=rng.uniform((now - last).days + 30, HISTORY_DAYS))
    span = (last - first).total_seconds()
    middle = sorted(first + timedelta(seconds=rng.uniform(0, span)) for _ in range(count - 2))
    return [first, *middle, last]


def _status(rng: random.Random, placed_at: datetime, now: datetime, *, edge: bool) -> OrderStatus:
    """Recent orders are still on their way; first and last orders are never cancelled,
    so that a customer's kind is what its dates say."""
    if now - placed_at < timedelta(days=4):
        return OrderStatus.PAID
    roll = rng.random()
    if not edge and roll < 0.07:
        return OrderStatus.CANCELLED
    if roll > 0.95:
        return OrderStatus.RETURNED
    if roll > 0.92:
        return OrderStatus.PARTIALLY_RETURNED
    return OrderStatus.DELIVERED


def _items(rng: random.Random, affinity: list[float]) -> list[tuple[str, str, int, int]]:
    lines = []
    for _ in range(rng.choices((1, 2, 3), weights=(6, 3, 1))[0]):
        category = rng.choices(CATEGORIES, weights=affinity)[0]
        sku, price = rng.choice(CATALOG[category])
        lines.append((sku, category, price, rng.choices((1, 2), weights=(9, 1))[0]))
    return lines


@dataclass(slots=True)
class _Draw:
    """What the plan carries from one customer to the next. Every random value comes from
    `rng` in one fixed order, so the steps below must keep the order of their draws."""

    rng: random.Random
    now: datetime
    zone: ZoneInfo
    shop: DemoPlan = field(default_factory=DemoPlan)
    taken: set[str] = field(default_factory=lambda: {SHARED_CODE})
    shared_users: set[str] = field(default_factory=set)
    order_number: int = 0


def plan(customers: int, *, seed: int, now: datetime, zone: str = "Europe/Moscow") -> DemoPlan:
    """The whole demo shop, decided by `seed` alone (and `now`): nothing touches the DB."""
    draw = _Draw(random.Random(seed), now, ZoneInfo(zone))
    for index in range(1, customers + 1):
        _add_customer(draw, index)
    return draw.shop


def _add_customer(draw: _Draw, index: int) -> None:
    """One customer: its profile, its orders, and a waiting comeback code for some of
    those who lapsed."""
    rng, now = draw.rng, draw.now
    external_id = f"{PREFIX}{index:05d}"
    kind = _kind(rng)
    draw.shop.kinds[external_id] = kind
    first_name = rng.choice(FIRST_NAMES)
    times = _order_times(kind, rng, now)
    registered = (times[0] if times else _days_ago(now, rng, 1, HISTORY_DAYS)) - timedelta(
        hours=rng.uniform(0.1, 72)
    )
    draw.shop.customers.append({
        "external_id": external_id,
        "name": f"{first_name} {rng.choice(LAST_INITIALS)}.",
        "phone": f"+79{rng.randrange(10**9):09d}",
        "email": f"customer{index}@demo.example",
        "locale": "en" if first_name.isascii() else "ru",
        "timezone": rng.choice(ZONES),
        "marketing_opt_in": rng.random() < 0.92,
        "created_at": registered,
        "updated_at": registered,
    })
    affinity = [1.0] * len(CATEGORIES)
    affinity[rng.randrange(len(CATEGORIES))] = 6.0
    for position, placed_at in enumerate(times):
        last = position == len(times) - 1
        _add_order(draw, external_id, kind, placed_at, affinity,
                   edge=position == 0 or last, last=last)
    if kind == "lapsed_90" and rng.random() < 0.3:
        # Invited back a few days ago; the code waits in their wallet.
        issued = now - timedelta(days=rng.uniform(0.5, 6))
        draw.shop.personal_codes.append((external_id, _code(rng, draw.taken), issued, False))


def _add_order(
    draw: _Draw, customer: str, kind: str, placed_at: datetime, affinity: list[float],
    *, edge: bool, last: bool,
) -> None:
    """One order at its final status, with the code it used if any."""
    rng, now = draw.rng, draw.now
    draw.order_number += 1
    # Orders come in during the shop's day, not at 4 a.m.
    local = placed_at.astimezone(draw.zone)
    placed_at = local.replace(hour=rng.randint(9, 22)).astimezone(placed_at.tzinfo)
    if placed_at > now:
        placed_at = now - timedelta(minutes=rng.randint(5, 120))
    order = OrderPlan(
        external_id=f"{PREFIX}o{draw.order_number:07d}", customer=customer,
        placed_at=placed_at, status=_status(rng, placed_at, now, edge=edge),
        items=_items(rng, affinity),
    )
    if kind == "comeback" and last:
        code = _code(rng, draw.taken)
        order.code, order.percent = code, 12
        issued = placed_at - timedelta(days=rng.uniform(2, 20))
        draw.shop.personal_codes.append((customer, code, issued, True))
    elif (
        now - placed_at < timedelta(days=60) and order.shelf_total >= SHARED_MIN_ORDER
        and customer not in draw.shared_users and rng.random() < 0.15
    ):
        # The spring site code: 10 % from 3 000 ₽, once per customer.
        order.code, order.percent = SHARED_CODE, 10
        draw.shared_users.add(customer)
    draw.shop.orders.append(order)
