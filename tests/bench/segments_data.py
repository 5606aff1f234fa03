"""The segment benchmarks' data: customers with orders spread over the two years before a
fixed NOW; every customer row carries the aggregates `bot.promo.shop.orders` would have kept
(orders_count, gross/net spend, first/last order time of the counted — not cancelled —
orders), and a favourite category (drawn, since order lines are not generated). Tables come
from `Base.metadata.create_all`; rows go in through the driver's bulk path (sqlite3
executemany, asyncpg COPY) with the secondary indexes built after the load. The SQLite file
is cached in /tmp and the PostgreSQL database reused while their parameters match
(`fingerprint`, `sqlite_mark`, `postgres_mark`).
"""

from __future__ import annotations

import hashlib
import random
import sqlite3
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.db import Base
from bot.db.models import Customer, Order
from tests.bench.data import pg_dsn, recreate_postgres, remove_sqlite

NOW = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
SHOP_TZ = ZoneInfo("Europe/Moscow")
SPAN_DAYS = 730
SPAN = SPAN_DAYS * 86_400
EPOCH = NOW - timedelta(days=SPAN_DAYS)
CHUNK_CUSTOMERS = 20_000
CATEGORIES = ("shoes", "clothes", "bags", "accessories", "sport", "kids", "home", "beauty",
              "electronics", "books")
# (status, share): cancelled orders do not count; returns lower net spend.
STATUSES = (("delivered", 0.85), ("paid", 0.05), ("cancelled", 0.05), ("returned", 0.03),
            ("partially_returned", 0.02))

CUSTOMER_COLUMNS = (
    "id", "external_id", "name", "phone", "email", "locale", "timezone", "marketing_opt_in",
    "referral_code", "referred_by_id", "orders_count", "gross_spend", "net_spend",
    "first_order_at", "last_order_at", "favourite_category", "created_at", "updated_at",
)
ORDER_COLUMNS = (
    "id", "external_id", "customer_id", "placed_at", "status", "total", "currency", "discount",
    "promo_code", "returned_amount", "delivered_at", "counted_spend", "counted_in_orders",
    "created_at", "updated_at",
)


def check_columns() -> None:
    """The generator writes every column by name: a model change must stop it loudly."""
    for table, columns in ((Customer.__table__, CUSTOMER_COLUMNS),
                           (Order.__table__, ORDER_COLUMNS)):
        have = {c.name for c in table.columns}
        if have != set(columns):
            raise SystemExit(f"{table.name}: model columns changed (+{sorted(have - set(columns))}"
                             f" -{sorted(set(columns) - have)}); update bench_segments.py")


def fingerprint(customers: int, orders: int, seed: int) -> str:
    """Names the data: parameters, NOW and the schema of every table."""
    schema = ";".join(f"{t.name}:{','.join(f'{c.name}/{c.type}' for c in t.columns)}"
                      for t in Base.metadata.sorted_tables)
    text = f"v1|{customers}|{orders}|{seed}|{NOW.isoformat()}|{schema}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- generation


class Clock:
    """Seconds since EPOCH → the stored form: SQLite's text or an aware datetime."""

    def __init__(self, sqlite: bool) -> None:
        self.sqlite = sqlite
        if sqlite:
            self.days = [(EPOCH + timedelta(days=d)).strftime("%Y-%m-%d")
                         for d in range(SPAN_DAYS + 10)]
            base = EPOCH.hour * 3600 + EPOCH.minute * 60
            self.times = [f"{(base + s) // 3600 % 24:02d}:{(base + s) // 60 % 60:02d}:"
                          f"{s % 60:02d}.000000" for s in range(86_400)]

    def at(self, seconds: int) -> Any:
        if self.sqlite:
            base = EPOCH.hour * 3600 + EPOCH.minute * 60
            return f"{self.days[(base + seconds) // 86_400]} {self.times[seconds % 86_400]}"
        return EPOCH + timedelta(seconds=seconds)


def order_counts(customers: int, orders: int, rng: random.Random) -> list[int]:
    """Orders per customer: skewed (few heavy buyers, many with one or none), summing exactly."""
    counts = [0] * customers
    for _ in range(orders):
        counts[int(customers * rng.random() ** 1.7)] += 1
    rng.shuffle(counts)
    return counts


def generate(
    customers: int, orders: int, seed: int, clock: Clock
) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """(customer rows, order rows) chunk by chunk, ids ascending; orders grouped by
    customer in time order, so the (customer_id, placed_at) index is filled in order."""
    rng = random.Random(seed)
    counts = order_counts(customers, orders, rng)
    statuses = [s for s, _ in STATUSES]
    weights = [w for _, w in STATUSES]
    order_id = 0
    for chunk_start in range(0, customers, CHUNK_CUSTOMERS):
        customer_rows: list[tuple[Any, ...]] = []
        order_rows: list[tuple[Any, ...]] = []
        for index in range(chunk_start, min(customers, chunk_start + CHUNK_CUSTOMERS)):
            cid = index + 1
            n = counts[index]
            # Each customer buys within an active stretch that ends anywhere in the span.
            end = rng.randrange(SPAN)
            begin = max(0, end - rng.randrange(SPAN))
            placed = sorted(rng.randint(begin, end) for _ in range(n))
            drawn = rng.choices(statuses, weights, k=n) if n else []
            count = gross = net = 0
            first = last = None
            for when, status in zip(placed, drawn, strict=True):
                order_id += 1
                total = rng.randrange(500, 15_000) * 100
                returned = (total if status == "returned"
                            else total // 2 if status == "partially_returned" else 0)
                counted = status != "cancelled"
                counted_spend = total - returned if counted else 0
                if counted:
                    count += 1
                    gross += total
                    net += counted_spend
                    first = when if first is None else first
                    last = when
                stamp = clock.at(when)
                delivered = (clock.at(when + 3 * 86_400)
                             if status in ("delivered", "returned", "partially_returned")
                             and when + 3 * 86_400 < SPAN else None)
                order_rows.append((
                    order_id, f"o{order_id:08d}", cid, stamp, status, total, "RUB", 0, None,
                    returned, delivered, counted_spend, counted, stamp, stamp,
                ))
            created = clock.at(max(0, (placed[0] if placed else end) - 86_400))
            customer_rows.append((
                cid, f"c{cid:07d}", None, None, None, "ru" if rng.random() < 0.8 else "en", None,
                rng.random() < 0.9, None, None, count, gross, net,
                clock.at(first) if first is not None else None,
                clock.at(last) if last is not None else None,
                rng.choice(CATEGORIES) if count else None, created, created,
            ))
        yield customer_rows, order_rows


def secondary_indexes() -> list[Any]:
    return [*Customer.__table__.indexes, *Order.__table__.indexes]


# --------------------------------------------------------------------------- build


def build_sqlite(path: Path, customers: int, orders: int, seed: int, mark: str) -> float:
    """Generate into a temporary file and move it into place only when complete."""
    from sqlalchemy import create_engine

    started = time.perf_counter()
    partial = path.with_name(path.name + ".partial")
    remove_sqlite(partial)
    engine = create_engine(f"sqlite:///{partial}")
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        for index in secondary_indexes():
            index.drop(conn)
    conn_raw = sqlite3.connect(partial, isolation_level=None)
    conn_raw.execute("PRAGMA journal_mode=OFF")
    conn_raw.execute("PRAGMA synchronous=OFF")
    conn_raw.execute("PRAGMA cache_size=-1000000")
    conn_raw.execute("BEGIN")
    insert_customers = (f"INSERT INTO customers ({', '.join(CUSTOMER_COLUMNS)}) VALUES "
                        f"({', '.join('?' * len(CUSTOMER_COLUMNS))})")
    insert_orders = (f"INSERT INTO orders ({', '.join(ORDER_COLUMNS)}) VALUES "
                     f"({', '.join('?' * len(ORDER_COLUMNS))})")
    done = 0
    for customer_rows, order_rows in generate(customers, orders, seed, Clock(sqlite=True)):
        conn_raw.executemany(insert_customers, customer_rows)
        conn_raw.executemany(insert_orders, order_rows)
        done += len(customer_rows)
        print(f"\r  loading: {done:,}/{customers:,} customers "
              f"({time.perf_counter() - started:.0f} s)", end="", file=sys.stderr, flush=True)
    conn_raw.execute("COMMIT")
    print(file=sys.stderr)
    conn_raw.close()
    with engine.begin() as conn:
        for index in secondary_indexes():
            index.create(conn)
        conn.exec_driver_sql("CREATE TABLE bench_meta (mark TEXT)")
        conn.exec_driver_sql("INSERT INTO bench_meta VALUES (?)", (mark,))
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    conn_raw = sqlite3.connect(partial)
    conn_raw.execute("PRAGMA journal_mode=WAL")
    conn_raw.close()
    remove_sqlite(path)
    partial.rename(path)
    return time.perf_counter() - started


def sqlite_mark(path: Path) -> str | None:
    if not path.exists():
        return None
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            return conn.execute("SELECT mark FROM bench_meta").fetchone()[0]
    except sqlite3.Error:
        return None


async def postgres_mark(url: str) -> str | None:
    import asyncpg

    try:
        conn = await asyncpg.connect(pg_dsn(url))
    except (OSError, asyncpg.PostgresError):
        return None
    try:
        return await conn.fetchval("SELECT mark FROM bench_meta")
    except asyncpg.PostgresError:
        return None
    finally:
        await conn.close()


async def build_postgres(url: str, customers: int, orders: int, seed: int, mark: str) -> float:
    import asyncpg
    from sqlalchemy.ext.asyncio import create_async_engine

    started = time.perf_counter()
    await recreate_postgres(url)
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
        for index in secondary_indexes():
            await conn.run_sync(index.drop)
        # Checked once when added back, instead of once per copied row.
        await conn.exec_driver_sql(
            "ALTER TABLE orders DROP CONSTRAINT fk_orders_customer_id_customers")
    raw = await asyncpg.connect(pg_dsn(url))
    try:
        done = 0
        for customer_rows, order_rows in generate(customers, orders, seed, Clock(sqlite=False)):
            await raw.copy_records_to_table("customers", records=customer_rows,
                                            columns=list(CUSTOMER_COLUMNS))
            await raw.copy_records_to_table("orders", records=order_rows,
                                            columns=list(ORDER_COLUMNS))
            done += len(customer_rows)
            print(f"\r  loading: {done:,}/{customers:,} customers "
                  f"({time.perf_counter() - started:.0f} s)", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        # COPY with explicit ids leaves the sequences behind.
        for table in ("customers", "orders"):
            await raw.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"(SELECT max(id) FROM {table}))")
    finally:
        await raw.close()
    async with engine.begin() as conn:
        await conn.exec_driver_sql(
            "ALTER TABLE orders ADD CONSTRAINT fk_orders_customer_id_customers "
            "FOREIGN KEY (customer_id) REFERENCES customers (id)")
        for index in secondary_indexes():
            await conn.run_sync(index.create)
        await conn.exec_driver_sql("CREATE TABLE bench_meta (mark TEXT)")
        await conn.exec_driver_sql("INSERT INTO bench_meta VALUES ($1)", (mark,))
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.exec_driver_sql("VACUUM ANALYZE customers")
        await conn.exec_driver_sql("VACUUM ANALYZE orders")
    await engine.dispose()
    return time.perf_counter() - started


# --------------------------------------------------------------------------- queries
