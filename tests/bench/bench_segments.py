"""Benchmark: segment queries on 1 000 000 customers / 5 000 000 orders (target < 1 s).

Run by hand:

    python -m tests.bench.bench_segments                  # SQLite, cached under /tmp
    python -m tests.bench.bench_segments --rebuild        # regenerate the SQLite file
    python -m tests.bench.bench_segments --database-url \\
        postgresql+asyncpg://postgres@127.0.0.1:5432/promobot_bench_seg

Data: `tests.bench.segments_data` (customers with two years of orders and the aggregates
the app keeps), cached in /tmp (SQLite) or reused (PostgreSQL) while its parameters match.

Then, through the app's own engine (`create_database`, read sessions), every segment in
`bot.promo.customers.segments.SEGMENTS` plus a campaign-like filtered comeback audience is timed
twice: `count()` and the full id stream (`iter_ids`, keyset batches), each with its plan
(EXPLAIN QUERY PLAN / EXPLAIN ANALYZE) so index use is visible; for comparison, the same
ids read by one ordered SELECT through a streaming cursor. Figures only: nothing asserts
a timing.
"""
from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Select, event

from bot.db import Database, create_database
from bot.db.models import Customer
from bot.promo.customers import segments
from tests.bench.data import backend, safe
from tests.bench.segments_data import (
    NOW,
    SHOP_TZ,
    build_postgres,
    build_sqlite,
    check_columns,
    fingerprint,
    postgres_mark,
    sqlite_mark,
)


@dataclass
class Captured:
    statement: str = ""
    parameters: Any = None


async def explain(session: Any, captured: Captured, sqlite: bool) -> list[str]:
    conn = await session.connection()
    if sqlite:
        rows = (await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + captured.statement,
                                           captured.parameters)).all()
        return [f"{row[3]}" for row in rows]
    rows = (await conn.exec_driver_sql("EXPLAIN (ANALYZE, COSTS OFF) " + captured.statement,
                                       captured.parameters)).all()
    return [row[0] for row in rows]


def cases() -> list[tuple[str, Select[Any]]]:
    out = [(name, seg.select(now=NOW, tz=SHOP_TZ)) for name, seg in segments.SEGMENTS.items()]
    out.append(("comeback_60 + opted-in + shoes", segments.SEGMENTS["comeback_60"].select(
        now=NOW, tz=SHOP_TZ, category="shoes", only_opted_in=True)))
    return out


async def run_queries(url: str, repeat: int, batch_size: int, plans: bool) -> list[str]:
    db = create_database(url)
    captured = Captured()

    @event.listens_for(db.read_engine.sync_engine, "before_cursor_execute")
    def _capture(_conn, _cursor, statement, parameters, _context, _many):  # type: ignore[no-untyped-def]
        captured.statement, captured.parameters = statement, parameters

    rows = [await time_segment(db, captured, name, query, repeat, batch_size, plans)
            for name, query in cases()]
    await db.dispose()
    return rows


async def time_segment(db: Database, captured: Captured, name: str, query: Select[Any],
                       repeat: int, batch_size: int, plans: bool) -> str:
    """Time one segment `repeat` times three ways and print its row (and plans)."""
    sqlite, name_backend = db.is_sqlite, db.engine.dialect.name
    counts: list[float] = []
    streams: list[float] = []
    singles: list[float] = []
    total = streamed = batches = 0
    count_plan: list[str] = []
    stream_plan: list[str] = []
    for attempt in range(repeat):
        async with db.read_session() as session:
            started = time.perf_counter()
            total = await segments.count(session, query)
            counts.append(time.perf_counter() - started)
            if attempt == 0 and plans:
                count_plan = await explain(session, captured, sqlite)
        async with db.read_session() as session:
            started = time.perf_counter()
            streamed = batches = 0
            async for batch in segments.iter_ids(session, query, batch_size=batch_size):
                if batches == 0 and attempt == 0:
                    first_batch = Captured(captured.statement, captured.parameters)
                streamed += len(batch)
                batches += 1
            streams.append(time.perf_counter() - started)
            if attempt == 0 and plans and batches:
                stream_plan = await explain(session, first_batch, sqlite)
        async with db.read_session() as session:
            # The alternative: one ordered SELECT read through a cursor, no re-planning.
            started = time.perf_counter()
            one = 0
            result = await session.stream_scalars(
                query.order_by(Customer.id).execution_options(yield_per=batch_size))
            async for partition in result.partitions():
                one += len(partition)
            singles.append(time.perf_counter() - started)
    shown = " / ".join(f"{t * 1000:,.0f}" for t in counts)
    stream_shown = " / ".join(f"{t * 1000:,.0f}" for t in streams)
    single_shown = " / ".join(f"{t * 1000:,.0f}" for t in singles)
    mismatch = "" if streamed == total == one else f" (streamed {streamed:,}/{one:,}!)"
    row = (f"| {name_backend} | {name} | {total:,}{mismatch} | {shown} ms | "
           f"{stream_shown} ms | {batches:,} | {single_shown} ms |")
    print(row, flush=True)
    if plans:
        print("    count plan:\n      " + "\n      ".join(count_plan), flush=True)
        print(f"    id-stream batch plan (batch 1 of {batches}):\n      "
              + "\n      ".join(stream_plan), flush=True)
    return row


HEADER = ("| backend | segment | customers | count (run 1 / 2) | iter_ids, all ids (run 1 / 2) "
          "| batches | one streamed SELECT (run 1 / 2) |\n|---|---|---|---|---|---|---|")


async def main(args: argparse.Namespace) -> None:
    check_columns()
    mark = fingerprint(args.customers, args.orders, args.seed)
    if args.database_url is None:
        path = Path(args.cache or f"/tmp/promobot_bench_segments_{args.customers}_"
                    f"{args.orders}_{args.seed}.sqlite3")
        if args.rebuild or sqlite_mark(path) != mark:
            print(f"# building {path} ...", flush=True)
            seconds = build_sqlite(path, args.customers, args.orders, args.seed, mark)
            print(f"# generated and loaded in {seconds:.1f} s", flush=True)
        else:
            print(f"# reusing {path} (--rebuild to regenerate)", flush=True)
        url = f"sqlite+aiosqlite:///{path}"
    else:
        url = args.database_url
        if backend(url) != "postgresql":
            raise SystemExit("--database-url: a PostgreSQL URL (SQLite is cached in /tmp)")
        if args.rebuild or await postgres_mark(url) != mark:
            print(f"# building {safe(url)} ...", flush=True)
            seconds = await build_postgres(url, args.customers, args.orders, args.seed, mark)
            print(f"# generated and loaded in {seconds:.1f} s", flush=True)
        else:
            print(f"# reusing {safe(url)} (--rebuild to regenerate)", flush=True)
    print(f"# {args.customers:,} customers, {args.orders:,} orders; segments at "
          f"{NOW.isoformat()} ({SHOP_TZ.key}); id stream in batches of {args.batch_size}\n",
          flush=True)
    print(HEADER, flush=True)
    rows = await run_queries(url, args.repeat, args.batch_size, not args.no_plans)
    print()
    print(HEADER)
    print("\n".join(rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="PostgreSQL URL (default: a cached SQLite file)")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=5_000_000)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--cache", help="SQLite file (default: /tmp/promobot_bench_segments_…)")
    parser.add_argument("--rebuild", action="store_true", help="regenerate the data")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs per query")
    parser.add_argument("--batch-size", type=int, default=1000,
                        help="iter_ids batch (default: %(default)s, as the campaign code uses)")
    parser.add_argument("--no-plans", action="store_true", help="skip EXPLAIN")
    asyncio.run(main(parser.parse_args()))
