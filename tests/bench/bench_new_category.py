"""Benchmark: the "try a new category" campaign on 100 000 customers / 500 000 orders,
through the code `promobot campaign run` uses.

    python -m tests.bench.bench_new_category [--database-url sqlite|URL ...]
        [--customers 100000] [--orders 500000]

Data: bench_segments' customers and orders with bench_analyze's order lines (one an
order, ten categories, the customer's usual one two times in three), copied to a
writable database with Telegram links for 80 % of the customers (bench_audience's
`fresh_copy`). Measured: the co-purchase pair counts alone (one grouped self-join), the
preview's count of suggested categories over the reachable `almost_lost` customers, and
the run (suggest, assign with a 10 % holdout, issue a code per treated customer, queue),
with the process's resident memory before and after. Figures only: nothing asserts a
timing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from bot.config import Settings
from bot.db import create_database
from bot.db.models import Campaign, CampaignStatus
from bot.promo.campaigns.admin import preview
from bot.promo.campaigns.context import Context
from bot.promo.campaigns.running import run_campaign
from bot.promo.shop.copurchase import co_purchase
from tests.bench import segments_data as seg
from tests.bench.bench_analyze import ensure_items
from tests.bench.bench_audience import ensure_source, fresh_copy
from tests.bench.data import PG_DEFAULT, backend, rss_mib, shop_parser


async def measure(url: str, args: argparse.Namespace) -> list[str]:
    settings = Settings(_env_file=None, database_url=url, guardrail_average_order_value=500_000,
                        guardrail_category_ceilings="electronics:5")
    db = create_database(url)
    # The order lines were bulk-added: statistics, as a live shop's autovacuum keeps them
    # (without, PostgreSQL reads all 500 000 lines for each batch's customers: 0.65 s).
    async with db.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.exec_driver_sql("ANALYZE")
    ctx = Context(db, settings, seg.NOW, batch_size=args.batch_size)
    pid = os.getpid()
    out = []

    def line(step: str, seconds: float, before: float, what: str) -> None:
        text = (f"| {backend(url)} | {step} | {seconds:.2f} | {before:.0f} → {rss_mib(pid):.0f} "
                f"| {what} |")
        print(text, flush=True)
        out.append(text)

    before, started = rss_mib(pid), time.perf_counter()
    async with db.read_session() as session:
        counted = await co_purchase(session)
    pairs = sum(len(row) for row in counted.pairs.values())
    line("pair counts", time.perf_counter() - started, before, f"{pairs} pairs")

    async with db.session() as session:
        campaign = Campaign(name="bench new category", kind="new_category",
                            segment="almost_lost", status=CampaignStatus.ACTIVE,
                            holdout_percent=10, params={},
                            offer={"discount_type": "percent", "value": 10, "valid_days": 14},
                            created_at=seg.NOW, updated_at=seg.NOW)
        session.add(campaign)
        await session.commit()

    before, started = rss_mib(pid), time.perf_counter()
    async with db.read_session() as session:
        seen = await preview(session, campaign.id, settings=settings, now=seg.NOW)
    assert seen.categories is not None
    top = ", ".join(f"{name} {n:,}" for name, n in seen.categories.categories[:3])
    line("preview (suggested categories)", time.perf_counter() - started, before,
         f"{seen.reachable:,} reachable: {top}; nothing for {seen.categories.without:,}")

    before, started = rss_mib(pid), time.perf_counter()
    result = await run_campaign(ctx, campaign.id)
    line("run", time.perf_counter() - started, before,
         f"audience {result.audience:,}, assigned {result.assigned:,}, holdout "
         f"{result.holdout:,}, codes {result.issued:,}, queued {result.queued:,}, "
         f"nothing to suggest {result.no_category:,}")
    await db.dispose()
    return out


async def main(args: argparse.Namespace) -> None:
    rows = []
    for given in args.database_url or ["sqlite", PG_DEFAULT.format(name="promobot_bench_newcat")]:
        database_url = None if given == "sqlite" else given
        try:
            source = await ensure_source(args, database_url)
        except OSError as error:
            print(f"# {given}: skipped ({error})", flush=True)
            continue
        await ensure_items(source)
        url = await fresh_copy(database_url, source)
        rows += await measure(url, args)
    print("\n| backend | step | seconds | RSS MiB | |\n|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    parser = shop_parser(__doc__, customers=100_000, orders=500_000)
    parser.add_argument("--batch-size", type=int, default=2000)
    asyncio.run(main(parser.parse_args()))
