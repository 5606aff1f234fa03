"""Benchmark: campaign audience selection and assignment on 1 000 000 customers /
5 000 000 orders, through the same code the scheduler and `promobot campaign run` use.

Run by hand:

    python -m tests.bench.bench_audience                     # SQLite, then PostgreSQL
    python -m tests.bench.bench_audience --database-url sqlite
    python -m tests.bench.bench_audience --database-url \\
        postgresql+asyncpg://postgres@127.0.0.1:5432/promobot_bench_audience
    python -m tests.bench.bench_audience --codes             # also a comeback run with codes

Targets (2-core machine): assign and queue a 1 000 000-customer audience in < 30 s on
SQLite and < 60 s on PostgreSQL, memory flat (< +50 MB).

Data: `tests.bench.segments_data`'s generator and cache (built if missing), copied to a database
of this benchmark's own (runs write assignments and outbox rows), where 80 % of the
customers get a linked Telegram account. Measured, each from a clean slate:

- select: the comeback ladder's audiences (three silence windows) and the `almost_lost`
  segment streamed by keyset in batches with the suppression classification, no writes;
- assign + queue: a broadcast campaign on `almost_lost` with two variants and a 10 %
  holdout and no code (message only): every reachable customer is assigned (sticky hash,
  recorded) and gets an outbox row, batch by batch in transactions;
- with `--codes`: the full comeback ladder run, a personal code per treated customer.

Resident memory is printed before and after: it must stay flat whatever the audience.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import time
from pathlib import Path

from sqlalchemy import text

import tests.bench.segments_data as seg
from bot.config import CAMPAIGN_BATCH_SIZE, Settings
from bot.db import create_database
from bot.db.models import Campaign, CampaignStatus, CampaignVariant
from bot.promo.campaigns.analytics import campaign_stats
from bot.promo.campaigns.audience import audience, batches, reachable
from bot.promo.campaigns.builtin import ensure_builtin
from bot.promo.campaigns.comeback import entry_query, ladder
from bot.promo.campaigns.context import Context, RunResult
from bot.promo.campaigns.running import run_campaign, run_kind
from bot.promo.customers.segments import get_segment
from tests.bench.data import PG_DEFAULT, backend, pg_dsn, remove_sqlite, rss_mib, safe

SQLITE_COPY = Path("/tmp/promobot_bench_audience.sqlite3")
PG_SOURCE = "promobot_bench_seg"
LINKED_SHARE_MOD = 5  # customers with id % 5 == 0 have no Telegram link


async def ensure_source(args: argparse.Namespace, database_url: str | None) -> str:
    """bench_segments' data at its usual place (built when missing), as a URL."""
    mark = seg.fingerprint(args.customers, args.orders, args.seed)
    if database_url is None:
        path = Path(f"/tmp/promobot_bench_segments_{args.customers}_{args.orders}_"
                    f"{args.seed}.sqlite3")
        if seg.sqlite_mark(path) != mark:
            print(f"# building {path} ...", flush=True)
            seg.build_sqlite(path, args.customers, args.orders, args.seed, mark)
        return f"sqlite+aiosqlite:///{path}"
    source = pg_dsn(database_url, PG_SOURCE).replace("postgresql://",
                                                           "postgresql+asyncpg://")
    if await seg.postgres_mark(source) != mark:
        print(f"# building {safe(source)} ...", flush=True)
        await seg.build_postgres(source, args.customers, args.orders, args.seed, mark)
    return source


async def fresh_copy(database_url: str | None, source: str) -> str:
    """A writable copy, with Telegram links for 80 % of the customers."""
    started = time.perf_counter()
    if database_url is None:
        remove_sqlite(SQLITE_COPY)
        shutil.copyfile(source.split("///", 1)[1], SQLITE_COPY)
        url = f"sqlite+aiosqlite:///{SQLITE_COPY}"
    else:
        import asyncpg

        url = database_url
        name = url.rsplit("/", 1)[1]
        if name in (PG_SOURCE, "test", "postgres"):
            raise SystemExit(f"refusing to overwrite {name!r}")
        admin = await asyncpg.connect(pg_dsn(url, "postgres"))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{PG_SOURCE}"')
        finally:
            await admin.close()
    db = create_database(url)
    false = "0" if db.is_sqlite else "false"
    async with db.engine.begin() as conn:
        await conn.execute(text(
            "INSERT INTO telegram_accounts (id, customer_id, chat_id, is_blocked, linked_at, "
            "created_at, updated_at) "
            f"SELECT 10000000 + id, id, 10000000 + id, {false}, created_at, created_at, "
            f"created_at FROM customers WHERE id % {LINKED_SHARE_MOD} != 0"
        ))
    if not db.is_sqlite:
        async with db.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.exec_driver_sql("VACUUM ANALYZE telegram_accounts")
    else:
        async with db.engine.begin() as conn:
            await conn.exec_driver_sql("ANALYZE telegram_accounts")
    await db.dispose()
    print(f"# writable copy with Telegram links ready in {time.perf_counter() - started:.0f} s",
          flush=True)
    return url


def row(name: str, result: RunResult, seconds: float, rss: tuple[float, float]) -> str:
    per_second = result.audience / seconds if seconds else 0
    return (f"| {name} | {result.audience:,} | {result.assigned:,} | {result.holdout:,} | "
            f"{result.queued:,} | {result.issued:,} | {seconds:.1f} | {per_second:,.0f} | "
            f"{rss[0]:.0f} → {rss[1]:.0f} |")


HEADER = ("| step | audience | assigned | holdout | queued | codes | seconds | audience/s | "
          "RSS MiB |\n|---|---|---|---|---|---|---|---|---|")


async def select_only(ctx: Context, name: str, query: object) -> RunResult:
    result = RunResult(kind=name)
    async for _session, rows in batches(ctx, audience(query)):  # type: ignore[arg-type]
        reachable(rows, result)
    return result


async def measure(url: str, args: argparse.Namespace) -> list[str]:
    settings = Settings(_env_file=None, database_url=url, campaign_batch_size=args.batch_size,
                        guardrail_average_order_value=500_000)
    db = create_database(url)
    ctx = Context(db, settings, seg.NOW, batch_size=args.batch_size)
    pid = os.getpid()
    out = []

    async def timed(name: str, work: object) -> None:
        before, started = rss_mib(pid), time.perf_counter()
        result = await work  # type: ignore[misc]
        seconds = time.perf_counter() - started
        line = row(name, result, seconds, (before, rss_mib(pid)))
        print(line, flush=True)
        out.append(line)

    steps = ladder(settings)
    comeback_id = await ensure_builtin(ctx, "comeback")
    for step in steps:
        query = entry_query(comeback_id, steps, step.index, now=seg.NOW, tz=settings.shop.zone,
                            max_days=settings.comeback.max_silent_days)
        await timed(f"select comeback step {step.index} ({step.days}+ days)",
                    select_only(ctx, "select", query))
    almost_lost = get_segment("almost_lost").select(now=seg.NOW, tz=settings.shop.zone)
    await timed("select almost_lost", select_only(ctx, "select", almost_lost))

    async with db.session() as session:
        campaign = Campaign(name="bench broadcast", kind="broadcast", segment="almost_lost",
                            status=CampaignStatus.ACTIVE, holdout_percent=10, params={},
                            offer={}, message_ru="Мы скучаем", message_en="We miss you",
                            created_at=seg.NOW, updated_at=seg.NOW)
        session.add(campaign)
        await session.flush()
        session.add_all([CampaignVariant(campaign_id=campaign.id, name=n, weight=1, offer={})
                         for n in ("A", "B")])
        await session.commit()
    await timed("assign + queue: broadcast almost_lost, 2 variants, 10 % holdout",
                run_campaign(ctx, campaign.id))
    if args.codes:
        await timed("comeback ladder run with personal codes", run_kind(ctx, "comeback"))
    # The broadcast's report, as `/stats <id>` reads it: every assignment's outcomes,
    # weighed, in grouped queries.
    before, started = rss_mib(pid), time.perf_counter()
    async with db.read_session() as session:
        stats = await campaign_stats(session, campaign_id=campaign.id, since=seg.NOW,
                                     until=seg.NOW, guardrail=settings.guardrail)
    assigned = stats.treatment.audience + stats.holdout.audience
    line = (f"| report (/stats) of the broadcast | {assigned:,} | | | | | "
            f"{time.perf_counter() - started:.1f} | | "
            f"{before:.0f} → {rss_mib(pid):.0f} |")
    print(line, flush=True)
    out.append(line)
    await db.dispose()
    return out


async def main(args: argparse.Namespace) -> None:
    tables = []
    for given in args.database_url or ["sqlite", PG_DEFAULT.format(name="promobot_bench_audience")]:
        database_url = None if given == "sqlite" else given
        try:
            source = await ensure_source(args, database_url)
        except OSError as error:  # no PostgreSQL here: SQLite's figures stand alone
            print(f"# {given}: skipped ({error})", flush=True)
            continue
        url = await fresh_copy(database_url, source)
        print(f"# {backend(url)}: {args.customers:,} customers, {args.orders:,} orders; "
              f"now = {seg.NOW.isoformat()}; batches of {args.batch_size}\n", flush=True)
        print(HEADER, flush=True)
        tables.append((backend(url), await measure(url, args)))
    for name, rows in tables:
        print(f"\n{name}\n{HEADER}")
        print("\n".join(rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", action="append",
                        help="`sqlite` (a file under /tmp) or the PostgreSQL URL of this "
                        "benchmark's database; repeatable (default: SQLite, then the local "
                        "PostgreSQL)")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=5_000_000)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--batch-size", type=int, default=CAMPAIGN_BATCH_SIZE)
    parser.add_argument("--codes", action="store_true", help="also run the comeback ladder")
    asyncio.run(main(parser.parse_args()))
