"""`promobot demo`: a realistic demo shop, so every feature can be tried at once.

Thousands of customers with 18 months of orders: regulars, customers silent for 60 or
90+ days, one order and then nothing, new ones, some who came back with a comeback code
and some who never ordered; returns, partial returns and cancellations across a shoe and
clothing catalogue; a shared site code and personal codes, issued and redeemed.

It is fast because it writes with bulk Core inserts in one transaction instead of one
`upsert_order` per order. The customer aggregates are then computed by the database
from the orders with the same rules `bot.promo.shop.orders` applies (cancelled orders do not
count, net spend subtracts returns, favourite category by spend, ties by name), and a
test replays the orders through `upsert_order` to prove they agree. An order's `total`
is what the customer paid; its lines are at shelf price, `discount` is the difference.

Demo rows are marked by ids starting with `demo-`; a second run finds them and does
nothing. A database that holds real customers is refused unless `--force`.
"""

from __future__ import annotations

import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import desc, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock, utcnow
from bot.config import Settings
from bot.db.engine import Database
from bot.db.models import (
    CodeCustomerUsage,
    CodeSource,
    Customer,
    DiscountType,
    Order,
    OrderItem,
    OrderStatus,
    PromoCode,
    Redemption,
)
from bot.promo.codes.generator import ALPHABET
from bot.promo.codes.offers import Offer

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

# Kind of customer → share of the demo; see `_plan_orders` for what each means.
PROFILES: dict[str, float] = {
    "regular": 0.30, "lapsed_60": 0.10, "lapsed_90": 0.22, "one_silent": 0.20,
    "new": 0.10, "comeback": 0.03, "no_orders": 0.05,
}


@dataclass(slots=True)
class _OrderPlan:
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
    orders: list[_OrderPlan] = field(default_factory=list)
    # Personal codes: customer external id → (code, issued_at, redeemed by order or None).
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


def plan(customers: int, *, seed: int, now: datetime, zone: str = "Europe/Moscow") -> DemoPlan:
    """The whole demo shop, decided by `seed` alone (and `now`): nothing touches the DB."""
    rng = random.Random(seed)
    result = DemoPlan()
    taken: set[str] = {SHARED_CODE}
    order_number = 0
    shared_users: set[str] = set()
    shop_zone = ZoneInfo(zone)
    for index in range(1, customers + 1):
        external_id = f"{PREFIX}{index:05d}"
        kind = _kind(rng)
        result.kinds[external_id] = kind
        first_name = rng.choice(FIRST_NAMES)
        times = _order_times(kind, rng, now)
        registered = (times[0] if times else _days_ago(now, rng, 1, HISTORY_DAYS)) - timedelta(
            hours=rng.uniform(0.1, 72)
        )
        result.customers.append({
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
            order_number += 1
            # Orders come in during the shop's day, not at 4 a.m.
            local = placed_at.astimezone(shop_zone)
            placed_at = local.replace(hour=rng.randint(9, 22)).astimezone(placed_at.tzinfo)
            if placed_at > now:
                placed_at = now - timedelta(minutes=rng.randint(5, 120))
            edge = position in (0, len(times) - 1)
            order = _OrderPlan(
                external_id=f"{PREFIX}o{order_number:07d}", customer=external_id,
                placed_at=placed_at, status=_status(rng, placed_at, now, edge=edge),
                items=_items(rng, affinity),
            )
            if kind == "comeback" and position == len(times) - 1:
                code = _code(rng, taken)
                order.code, order.percent = code, 12
                issued = placed_at - timedelta(days=rng.uniform(2, 20))
                result.personal_codes.append((external_id, code, issued, True))
            elif (
                now - placed_at < timedelta(days=60) and order.shelf_total >= SHARED_MIN_ORDER
                and external_id not in shared_users and rng.random() < 0.15
            ):
                # The spring site code: 10 % from 3 000 ₽, once per customer.
                order.code, order.percent = SHARED_CODE, 10
                shared_users.add(external_id)
            result.orders.append(order)
        if kind == "lapsed_90" and rng.random() < 0.3:
            # Invited back a few days ago; the code waits in their wallet.
            issued = now - timedelta(days=rng.uniform(0.5, 6))
            result.personal_codes.append((external_id, _code(rng, taken), issued, False))
    return result


def _discount(order: _OrderPlan) -> int:
    return order.shelf_total * order.percent // 100


def _returned(order: _OrderPlan) -> int:
    total = order.shelf_total - _discount(order)
    if order.status is OrderStatus.RETURNED:
        return total
    if order.status is OrderStatus.PARTIALLY_RETURNED:
        # The cheapest line went back (at its share of the discount).
        cheapest = min(price * quantity for _s, _c, price, quantity in order.items)
        return min(total, cheapest - cheapest * order.percent // 100)
    return 0


def _order_row(order: _OrderPlan, customer_id: int, currency: str, now: datetime) -> dict:
    """The order columns exactly as `upsert_order` would store this final state."""
    total = order.shelf_total - _discount(order)
    counted = order.status is not OrderStatus.CANCELLED
    returned = _returned(order)
    delivered = None
    if order.status in (OrderStatus.DELIVERED, OrderStatus.RETURNED,
                        OrderStatus.PARTIALLY_RETURNED):
        delivered = order.placed_at + timedelta(days=3)
    return {
        "external_id": order.external_id, "customer_id": customer_id,
        "placed_at": order.placed_at, "status": order.status.value, "total": total,
        "currency": currency, "discount": _discount(order), "promo_code": order.code,
        "returned_amount": returned, "delivered_at": delivered,
        "counted_spend": total - returned if counted else 0, "counted_in_orders": counted,
        "created_at": order.placed_at, "updated_at": min(now, order.placed_at + timedelta(days=5)),
    }


async def fill_aggregates(session: AsyncSession, customer_filter: Any) -> None:
    """Customer aggregates from their orders, by the rules of `bot.promo.shop.orders`, for
    customers just inserted with zero aggregates (one that has no counted order keeps
    them). Two grouped passes, not a subquery per customer."""
    orders, items, customers = Order.__table__, OrderItem.__table__, Customer.__table__
    totals = (
        select(
            orders.c.customer_id,
            func.count().label("orders_count"),
            func.sum(orders.c.total).label("gross_spend"),
            func.sum(orders.c.counted_spend).label("net_spend"),
            func.min(orders.c.placed_at).label("first_order_at"),
            func.max(orders.c.placed_at).label("last_order_at"),
        )
        .where(orders.c.counted_in_orders)
        .group_by(orders.c.customer_id)
        .subquery()
    )
    await session.execute(
        update(customers)
        .where(customers.c.id == totals.c.customer_id, customer_filter)
        .values({name: totals.c[name] for name in (
            "orders_count", "gross_spend", "net_spend", "first_order_at", "last_order_at"
        )})
    )
    spend = func.sum(items.c.price * items.c.quantity)
    ranked = (
        select(
            orders.c.customer_id,
            items.c.category,
            func.row_number()
            .over(partition_by=orders.c.customer_id, order_by=(desc(spend), items.c.category))
            .label("place"),
        )
        .join(orders, orders.c.id == items.c.order_id)
        .where(orders.c.counted_in_orders, items.c.category.is_not(None))
        .group_by(orders.c.customer_id, items.c.category)
        .subquery()
    )
    await session.execute(
        update(customers)
        .where(customers.c.id == ranked.c.customer_id, ranked.c.place == 1, customer_filter)
        .values(favourite_category=ranked.c.category)
    )


async def _ids(session: AsyncSession, table: Any, prefix: str) -> dict[str, int]:
    rows = await session.execute(
        select(table.c.external_id, table.c.id).where(table.c.external_id.like(f"{prefix}%"))
    )
    return dict(rows.all())


async def _insert(session: AsyncSession, table: Any, rows: list[dict], chunk: int = 5000) -> None:
    for start in range(0, len(rows), chunk):
        await session.execute(insert(table), rows[start : start + chunk])


def _code_row(code: str, offer: Offer, *, source: CodeSource, channel: str,
              customer_id: int | None, issued: datetime, expires: datetime,
              usage_limit: int | None) -> dict:
    return {
        **offer.code_columns(), "code": code, "source": source.value, "channel": channel,
        "status": "active", "customer_id": customer_id, "starts_at": None,
        "expires_at": expires, "usage_limit": usage_limit, "per_customer_limit": 1,
        "used_count": 0, "created_at": issued,
    }


async def demo_customers(session: AsyncSession) -> int:
    return await session.scalar(
        select(func.count()).select_from(Customer).where(Customer.external_id.like(f"{PREFIX}%"))
    ) or 0


async def other_customers(session: AsyncSession) -> int:
    return await session.scalar(
        select(func.count()).select_from(Customer)
        .where(Customer.external_id.not_like(f"{PREFIX}%"))
    ) or 0


async def seed_shop(
    db: Database, settings: Settings, *, customers: int = 3000, seed: int = 42,
    clock: Clock = utcnow,
) -> DemoSummary:
    """Write the demo shop in one transaction (the caller checks it is not there yet)."""
    now = clock()
    shop = plan(customers, seed=seed, now=now, zone=settings.timezone)
    currency = settings.currency
    async with db.session() as session:
        await _insert(session, Customer.__table__, [
            {**row, "orders_count": 0, "gross_spend": 0, "net_spend": 0}
            for row in shop.customers
        ])
        customer_ids = await _ids(session, Customer.__table__, PREFIX)
        await _insert(session, Order.__table__, [
            _order_row(order, customer_ids[order.customer], currency, now)
            for order in shop.orders
        ])
        order_ids = await _ids(session, Order.__table__, PREFIX)
        item_rows = [
            {"order_id": order_ids[order.external_id], "sku": sku, "category": category,
             "price": price, "quantity": quantity}
            for order in shop.orders for sku, category, price, quantity in order.items
        ]
        await _insert(session, OrderItem.__table__, item_rows)

        code_rows = [_code_row(
            SHARED_CODE,
            Offer(DiscountType.PERCENT, 10, min_order=SHARED_MIN_ORDER, valid_days=90,
                  currency=currency),
            source=CodeSource.MANUAL, channel="site", customer_id=None,
            issued=now - timedelta(days=61), expires=now + timedelta(days=29), usage_limit=None,
        )]
        comeback = Offer(DiscountType.PERCENT, 12, free_shipping=True, valid_days=30,
                         currency=currency)
        for external_id, code, issued, _used in shop.personal_codes:
            code_rows.append(_code_row(
                code, comeback, source=CodeSource.COMEBACK, channel="telegram",
                customer_id=customer_ids[external_id], issued=issued,
                expires=issued + timedelta(days=30), usage_limit=1,
            ))
        await _insert(session, PromoCode.__table__, code_rows)
        code_ids = dict((await session.execute(
            select(PromoCode.code, PromoCode.id)
            .where(PromoCode.code.in_([row["code"] for row in code_rows]))
        )).all())

        redemptions, used, usage = [], Counter[int](), Counter[tuple[int, int]]()
        for order in shop.orders:
            if order.code is None:
                continue
            code_id, customer_id = code_ids[order.code], customer_ids[order.customer]
            released = order.status is OrderStatus.CANCELLED
            redemptions.append({
                "code_id": code_id, "customer_id": customer_id,
                "order_external_id": order.external_id, "order_total": order.shelf_total,
                "discount": _discount(order), "free_shipping": order.percent == 12,
                "created_at": order.placed_at,
                "released_at": order.placed_at + timedelta(hours=6) if released else None,
            })
            if not released:
                used[code_id] += 1
                usage[code_id, customer_id] += 1
        await _insert(session, Redemption.__table__, redemptions)
        await _insert(session, CodeCustomerUsage.__table__, [
            {"code_id": code_id, "customer_id": customer_id, "used_count": count}
            for (code_id, customer_id), count in usage.items()
        ])
        for code_id, count in used.items():
            await session.execute(
                update(PromoCode).where(PromoCode.id == code_id).values(used_count=count)
            )
        if session.get_bind().dialect.name == "postgresql":
            # Fresh tables have no statistics: without them the planner loops per customer.
            await session.execute(text("ANALYZE customers, orders, order_items"))
        await fill_aggregates(session, Customer.external_id.like(f"{PREFIX}%"))
        await session.commit()
    return DemoSummary(
        customers=len(shop.customers), orders=len(shop.orders), items=len(item_rows),
        codes=len(code_rows), redemptions=len(redemptions),
        kinds=dict(Counter(shop.kinds.values())),
        statuses=dict(Counter(order.status.value for order in shop.orders)),
    )


async def run(settings: Settings, *, customers: int, seed: int, force: bool) -> int:
    """The CLI: refuse real data unless forced, do nothing when seeded already."""
    from bot.cli import safe_url
    from bot.commands import open_database

    if customers < 1:
        print("promobot: --customers must be at least 1", file=sys.stderr)
        return 2
    db = await open_database(settings)
    if db is None:
        return 1
    where = safe_url(settings.database_url)
    try:
        async with db.read_session() as session:
            existing, others = await demo_customers(session), await other_customers(session)
        if existing:
            print(f"{where}: already seeded ({existing} demo customers), nothing to do")
            return 0
        if others and not force:
            print(
                f"promobot: {where} already has {others} real customers; a demo shop would "
                "mix with them. Use a fresh database, or --force.",
                file=sys.stderr,
            )
            return 1
        started = time.monotonic()
        summary = await seed_shop(db, settings, customers=customers, seed=seed)
    finally:
        await db.dispose()
    kinds = ", ".join(f"{name} {summary.kinds.get(name, 0)}" for name in PROFILES)
    statuses = ", ".join(f"{name} {count}" for name, count in sorted(summary.statuses.items()))
    print(
        f"{where}: seeded {summary.customers} customers ({kinds}), {summary.orders} orders "
        f"({statuses}), {summary.items} order lines, {summary.codes} promo codes, "
        f"{summary.redemptions} redemptions in {time.monotonic() - started:.1f} s"
    )
    return 0
