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

import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import desc, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock, utcnow
from bot.commands import demo_next
from bot.commands.demo_plan import (
    PREFIX,
    PROFILES,
    SHARED_CODE,
    SHARED_MIN_ORDER,
    DemoPlan,
    DemoSummary,
    OrderPlan,
    plan,
)
from bot.config import Settings
from bot.db.dialect import is_postgresql
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
from bot.promo.codes.offers import Offer


def _discount(order: OrderPlan) -> int:
    return order.shelf_total * order.percent // 100


def _returned(order: OrderPlan) -> int:
    total = order.shelf_total - _discount(order)
    if order.status is OrderStatus.RETURNED:
        return total
    if order.status is OrderStatus.PARTIALLY_RETURNED:
        # The cheapest line went back (at its share of the discount).
        cheapest = min(price * quantity for _s, _c, price, quantity in order.items)
        return min(total, cheapest - cheapest * order.percent // 100)
    return 0


def _order_row(order: OrderPlan, customer_id: int, currency: str, now: datetime) -> dict:
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
    shop = plan(customers, seed=seed, now=now, zone=settings.shop.timezone)
    currency = settings.shop.currency
    async with db.session() as session:
        customer_ids = await _write_customers(session, shop)
        items = await _write_orders(session, shop, customer_ids, currency, now)
        code_rows = _code_rows(shop, customer_ids, currency, now)
        await _insert(session, PromoCode.__table__, code_rows)
        code_ids = dict((await session.execute(
            select(PromoCode.code, PromoCode.id)
            .where(PromoCode.code.in_([row["code"] for row in code_rows]))
        )).all())
        redemptions = await _write_redemptions(session, shop, customer_ids, code_ids)
        if is_postgresql(session):
            # Fresh tables have no statistics: without them the planner loops per customer.
            await session.execute(text("ANALYZE customers, orders, order_items"))
        await fill_aggregates(session, Customer.external_id.like(f"{PREFIX}%"))
        await session.commit()
    return DemoSummary(
        customers=len(shop.customers), orders=len(shop.orders), items=items,
        codes=len(code_rows), redemptions=redemptions,
        kinds=dict(Counter(shop.kinds.values())),
        statuses=dict(Counter(order.status.value for order in shop.orders)),
    )


async def _write_customers(session: AsyncSession, shop: DemoPlan) -> dict[str, int]:
    """Insert the customers with zero aggregates (`fill_aggregates` sets them last);
    returns their ids by external id."""
    await _insert(session, Customer.__table__, [
        {**row, "orders_count": 0, "gross_spend": 0, "net_spend": 0}
        for row in shop.customers
    ])
    return await _ids(session, Customer.__table__, PREFIX)


async def _write_orders(
    session: AsyncSession, shop: DemoPlan, customer_ids: dict[str, int], currency: str,
    now: datetime,
) -> int:
    """Insert the orders and their lines; returns how many lines."""
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
    return len(item_rows)


def _code_rows(
    shop: DemoPlan, customer_ids: dict[str, int], currency: str, now: datetime,
) -> list[dict]:
    """The shared site code, then one personal comeback code per planned one."""
    rows = [_code_row(
        SHARED_CODE,
        Offer(DiscountType.PERCENT, 10, min_order=SHARED_MIN_ORDER, valid_days=90,
              currency=currency),
        source=CodeSource.MANUAL, channel="site", customer_id=None,
        issued=now - timedelta(days=61), expires=now + timedelta(days=29), usage_limit=None,
    )]
    comeback = Offer(DiscountType.PERCENT, 12, free_shipping=True, valid_days=30,
                     currency=currency)
    for external_id, code, issued, _used in shop.personal_codes:
        rows.append(_code_row(
            code, comeback, source=CodeSource.COMEBACK, channel="telegram",
            customer_id=customer_ids[external_id], issued=issued,
            expires=issued + timedelta(days=30), usage_limit=1,
        ))
    return rows


async def _write_redemptions(
    session: AsyncSession, shop: DemoPlan, customer_ids: dict[str, int],
    code_ids: dict[str, int],
) -> int:
    """A redemption per order that used a code (released when the order was cancelled),
    and the code counters that the kept ones add up to; returns how many redemptions."""
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
    return len(redemptions)


async def run(settings: Settings, *, customers: int, seed: int, force: bool) -> int:
    """The CLI: refuse real data unless forced, do nothing when seeded already; either
    way end with what to try next."""
    from bot.commands import open_database, safe_url

    if customers < 1:
        print("promobot: --customers must be at least 1", file=sys.stderr)
        return 2
    db = await open_database(settings)
    if db is None:
        return 1
    where = safe_url(settings.db.url)
    try:
        async with db.read_session() as session:
            existing, others = await demo_customers(session), await other_customers(session)
        if existing:
            print(f"{where}: already seeded ({existing} demo customers), not seeded again")
        elif others and not force:
            print(
                f"promobot: {where} already has {others} real customers; a demo shop would "
                "mix with them. Use a fresh database, or --force.",
                file=sys.stderr,
            )
            return 1
        else:
            started = time.monotonic()
            summary = await seed_shop(db, settings, customers=customers, seed=seed)
            print(_seeded(where, summary, time.monotonic() - started))
        steps = await demo_next.prepare(db, settings, prefix=PREFIX)
    finally:
        await db.dispose()
    print("\n".join(demo_next.render(steps, settings)))
    return 0


def _seeded(where: str, summary: DemoSummary, seconds: float) -> str:
    kinds = ", ".join(f"{name} {summary.kinds.get(name, 0)}" for name in PROFILES)
    statuses = ", ".join(f"{name} {count}" for name, count in sorted(summary.statuses.items()))
    return (
        f"{where}: seeded {summary.customers} customers ({kinds}), {summary.orders} orders "
        f"({statuses}), {summary.items} order lines, {summary.codes} promo codes, "
        f"{summary.redemptions} redemptions in {seconds:.1f} s"
    )
