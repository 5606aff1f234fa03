"""Benchmark: `promobot analyze` (the base analysis, `bot.promo.shop.analysis`) on
1 000 000 customers / 5 000 000 orders, on SQLite and PostgreSQL in one sitting.
Target: < 10 s each, memory flat.

    python -m tests.bench.bench_analyze [--database-url sqlite|URL ...]

Data: bench_segments' customers and orders (built when missing, `ensure_source` of
bench_audience), plus one order line per order, added once, set-based: a category of ten,
the customer's usual one two times in three, so that categories are bought again. Figures
only: nothing asserts a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from sqlalchemy import func, select, text

from bot.config import Settings
from bot.db import create_database
from bot.db.models import OrderItem
from bot.promo.shop.analysis import analyze, recommend
from bot.texts.base_analysis import analysis_lines
from tests.bench import segments_data as seg
from tests.bench.bench_audience import ensure_source
from tests.bench.data import PG_DEFAULT, backend, rss_mib

_CATEGORY = "CASE (customer_id + CASE WHEN id % 3 = 0 THEN id ELSE 0 END) % 10 " + " ".join(
    f"WHEN {n} THEN '{name}'" for n, name in enumerate(seg.CATEGORIES)) + " END"


async def ensure_items(url: str) -> None:
    db = create_database(url)
    try:
        async with db.session() as session:
            if await session.scalar(select(func.count()).select_from(
                    select(OrderItem.id).limit(1).subquery())):
                return
            started = time.perf_counter()
            await session.execute(text(
                "INSERT INTO order_items (order_id, sku, category, price, quantity) "
                f"SELECT id, 'sku-' || (id % 500), {_CATEGORY}, total, 1 FROM orders"))
            await session.commit()
            print(f"# order lines added in {time.perf_counter() - started:.1f} s", flush=True)
    finally:
        await db.dispose()


async def measure(url: str) -> str:
    db = create_database(url)
    try:
        before = rss_mib(os.getpid())
        started = time.perf_counter()
        analysis = await analyze(db, seg.NOW)
        seconds = time.perf_counter() - started
        grown = rss_mib(os.getpid()) - before
    finally:
        await db.dispose()
    settings = Settings(_env_file=None)
    for line in analysis_lines(analysis, recommend(analysis, settings.comeback), "RUB", "en"):
        print(f"  {line}")
    return (f"| {backend(url)} | {analysis.customers:,} customers, {analysis.orders:,} orders, "
            f"{analysis.intervals.count:,} intervals | {seconds:.1f} s | +{grown:.0f} MiB |")


async def main(args: argparse.Namespace) -> None:
    rows = []
    for given in args.database_url or ["sqlite", PG_DEFAULT.format(name="promobot_bench_seg")]:
        try:
            url = await ensure_source(args, None if given == "sqlite" else given)
        except OSError as error:
            print(f"# {given}: skipped ({error})", flush=True)
            continue
        await ensure_items(url)
        print(f"# {backend(url)}: analysing ...", flush=True)
        rows.append(await measure(url))
    print("\n| backend | data | analyze | memory |\n|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", action="append",
                        help="`sqlite` or a PostgreSQL URL; repeatable (default: both)")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=5_000_000)
    parser.add_argument("--seed", type=int, default=2024)
    asyncio.run(main(parser.parse_args()))
