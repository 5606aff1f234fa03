"""Benchmark: generate and store 1 000 000 codes (target < 10 s on both databases).

Run by hand: `python -m tests.bench.bench_codes [--count N] [--database-url URL ...]`.
Without a URL it runs SQLite (a temporary file) and then PostgreSQL at
`postgresql+asyncpg://postgres@127.0.0.1:5432/promobot_bench_codes`, created and
emptied first, so the two figures come from one sitting.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from bot.clock import utcnow
from bot.db import Base, create_database
from bot.db.models import DiscountType, PromoCode
from bot.promo.codes import generator as codegen
from bot.promo.codes.issuing import issue_bulk
from bot.promo.codes.offers import Offer
from tests.bench.data import PG_DEFAULT, backend, recreate_postgres


async def run(count: int, url: str) -> str:
    if backend(url) == "postgresql":
        await recreate_postgres(url)
    db = create_database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.run_sync(Base.metadata.create_all)
    started = time.perf_counter()
    drawn = codegen.generate_many(count)
    generated = time.perf_counter() - started
    del drawn
    started = time.perf_counter()
    async with db.session() as session:
        await issue_bulk(session, Offer(DiscountType.PERCENT, 10), count, now=utcnow())
        await session.commit()
    stored = time.perf_counter() - started
    async with db.read_session() as session:
        total = await session.scalar(select(func.count()).select_from(PromoCode))
    await db.dispose()
    return (f"| {backend(url)} | {count:,} codes | generate {generated:.2f} s "
            f"| generate + store {stored:.2f} s | {total:,} rows |")


async def main(count: int, urls: list[str] | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for url in urls or [f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}",
                            PG_DEFAULT.format(name="promobot_bench_codes")]:
            try:
                print(await run(count, url), flush=True)
            except OSError as error:  # no PostgreSQL here: SQLite's figure stands alone
                print(f"| {backend(url)} | skipped: {error} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--database-url", action="append")
    args = parser.parse_args()
    asyncio.run(main(args.count, args.database_url))
