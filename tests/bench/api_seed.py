"""What the API benchmark shares: the key, the address, the basket and the seeded rows."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from sqlalchemy import bindparam, insert, select, update

API_KEY = "bench-key-0123456789"
HOST = "127.0.0.1"
PREFIX = "/api/v1"
# A basket the validation codes apply to: 10 % off, one line excluded (gift cards).
ITEMS = [
    {"sku": "SHOE-41", "category": "shoes", "price": 300_000, "quantity": 1},
    {"sku": "SOCK-3", "category": "socks", "price": 50_000, "quantity": 2},
    {"sku": "GIFT-1", "category": "gift-cards", "price": 50_000, "quantity": 1},
]
TOTAL = sum(i["price"] * i["quantity"] for i in ITEMS)



# --------------------------------------------------------------------------- seeding


@dataclass
class Seeded:
    customers: list[str]
    # Validation: customer external id -> their personal code.
    personal: dict[str, str]
    # Redeem: single-use personal codes, (code, customer external id).
    pool: list[tuple[str, str]]
    shared: str
    seconds: float


async def seed(url: str, customers: int, pool_size: int) -> Seeded:
    """Schema from the migrations, then customers and codes by bulk paths."""
    from bot.clock import utcnow
    from bot.db import create_database
    from bot.db.migrate import upgrade
    from bot.db.models import Customer, DiscountType, PromoCode
    from bot.promo.codes.issuing import issue_bulk
    from bot.promo.codes.offers import Offer

    started = time.perf_counter()
    await upgrade(url)
    db = create_database(url)
    now = utcnow()
    rng = random.Random(7)
    externals = [f"c{i:07d}" for i in range(customers)]
    rows = [
        {
            "external_id": ext, "name": f"Customer {i}", "locale": rng.choice(("ru", "en")),
            "timezone": "Europe/Moscow", "marketing_opt_in": True, "orders_count": 0,
            "gross_spend": 0, "net_spend": 0, "created_at": now, "updated_at": now,
        }
        for i, ext in enumerate(externals)
    ]
    customers_table, codes_table = Customer.__table__, PromoCode.__table__
    offer = Offer(DiscountType.PERCENT, 10, min_order=100_000,
                  exclude_categories=("gift-cards",), valid_days=30)
    async with db.session() as session:
        for start in range(0, len(rows), 5_000):
            await session.execute(insert(customers_table), rows[start : start + 5_000])
        ids = dict((await session.execute(
            select(customers_table.c.external_id, customers_table.c.id))).all())
        personal_codes = await issue_bulk(session, offer, customers, now=now, prefix="V")
        pool_codes = await issue_bulk(session, offer, pool_size, now=now, prefix="R")
        shared = (await issue_bulk(session, offer, 1, now=now, prefix="S",
                                   usage_limit=None, per_customer_limit=None))[0]
        personal = dict(zip(externals, personal_codes, strict=True))
        pool = [(code, externals[i % customers]) for i, code in enumerate(pool_codes)]
        bind = (update(codes_table).where(codes_table.c.code == bindparam("b_code"))
                .values(customer_id=bindparam("b_customer"), channel="site"))
        binds = [{"b_code": code, "b_customer": ids[ext]}
                 for code, ext in [*((c, e) for e, c in personal.items()), *pool]]
        for start in range(0, len(binds), 10_000):
            await session.execute(bind, binds[start : start + 10_000])
        await session.commit()
        limits = (await session.execute(
            select(codes_table.c.usage_limit, codes_table.c.per_customer_limit)
            .where(codes_table.c.code == shared))).one()
    await db.dispose()
    if tuple(limits) != (None, None):
        raise SystemExit(f"shared code was stored with limits {tuple(limits)}, not unlimited")
    rng.shuffle(pool)
    return Seeded(externals, personal, pool, shared, time.perf_counter() - started)


