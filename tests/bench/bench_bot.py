"""Benchmark: `/codes` through the real Dispatcher and Bot against the fake Bot API, next
to a bare aiogram echo handler measured in the same run. Run by hand:

    python -m tests.bench.bench_bot [--users 500] [--updates 2000] [--rounds 5]
                                    [--concurrency 32]

`PROMOBOT_BENCH_DATABASE_URL` selects a database (default: a fresh SQLite file). The
target is `/codes` at ≥ 0.5 of echo's updates per second. The two alternate, round after
round: each reports its median round, and "vs echo" is the median of the rounds' ratios,
so a slow patch of the machine slows both sides of a ratio alike.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from aiogram import Dispatcher, Router
from aiogram.types import Message
from sqlalchemy import insert, text

import tests.support.updates as u
from bot.app.process import calm_garbage_collector
from bot.app.telegram import create_bot, create_dispatcher
from bot.config import Settings
from bot.db import Base, Database, create_database
from bot.db.models import Customer, PromoCode, TelegramAccount
from tests.support.fake_bot_api import FakeBotAPI

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
FIRST_USER = 10_000_000


async def seed(db: Database, users: int) -> None:
    async with db.engine.begin() as conn:
        if db.is_sqlite:
            await conn.run_sync(Base.metadata.create_all)
        else:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
            await conn.run_sync(Base.metadata.create_all)
        ids = range(1, users + 1)
        await conn.execute(insert(Customer), [
            {"id": i, "external_id": f"c{i}", "name": f"Shopper {i}", "locale": "ru",
             "marketing_opt_in": True, "orders_count": 2, "gross_spend": 0, "net_spend": 0,
             "created_at": NOW, "updated_at": NOW} for i in ids])
        await conn.execute(insert(TelegramAccount), [
            {"id": FIRST_USER + i, "customer_id": i, "chat_id": FIRST_USER + i,
             "first_name": "Anna", "language_code": "ru", "is_blocked": False,
             "created_at": NOW, "updated_at": NOW, "linked_at": NOW} for i in ids])
        await conn.execute(insert(PromoCode), [
            {"code": f"C{i}X{k}", "source": "manual", "channel": "telegram", "status": "active",
             "customer_id": i, "discount_type": "percent", "discount_value": 10 + k,
             "free_shipping": False, "currency": "RUB", "min_order": 300_000,
             "include_categories": [], "exclude_categories": ["sale"], "include_skus": [],
             "exclude_skus": [], "expires_at": NOW + timedelta(days=10 + k),
             "usage_limit": 1, "per_customer_limit": 1, "used_count": 0, "created_at": NOW}
            for i in ids for k in range(3)])


def echo_dispatcher() -> Dispatcher:
    router = Router()

    @router.message()
    async def echo(message: Message) -> None:
        await message.answer(message.text or "")

    dp = Dispatcher()
    dp.include_router(router)
    return dp


async def measure(dp: Dispatcher, bot: Any, updates: list[dict[str, Any]],
                  concurrency: int) -> tuple[float, list[float]]:
    """Updates/s and each update's latency (s)."""
    latencies: list[float] = []
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for update in updates:
        queue.put_nowait(update)

    async def worker() -> None:
        while not queue.empty():
            update = queue.get_nowait()
            started = time.perf_counter()
            await dp.feed_raw_update(bot, update)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(updates) / (time.perf_counter() - started), latencies


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--updates", type=int, default=2000, help="per handler and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("PROMOBOT_BENCH_DATABASE_URL") or \
            f"sqlite+aiosqlite:///{tmp}/bench.sqlite3"
        db = create_database(url)
        await seed(db, args.users)
        async with FakeBotAPI() as api:
            settings = Settings(_env_file=None, database_url=url, telegram_api_url=api.url,
                                bot_token="123456:BENCH-token-for-benchmarks")
            bot = create_bot(settings)
            # Throttling is per user; the run spreads updates over users within its burst.
            codes_dp = create_dispatcher(settings, db, lambda: NOW, throttle_burst=1000)
            echo_dp = echo_dispatcher()

            def batch(text: str) -> list[dict[str, Any]]:
                return [u.message(FIRST_USER + 1 + n % args.users, text)
                        for n in range(args.updates)]

            await measure(echo_dp, bot, batch("warm-up")[:200], args.concurrency)
            await measure(codes_dp, bot, batch("/codes")[:200], args.concurrency)
            # What `promobot run` does once it has started (bot.app.run.serve).
            calm_garbage_collector()
            api.clear()
            rates: dict[str, list[float]] = {"echo (bare aiogram)": [], "/codes": []}
            latencies: dict[str, list[float]] = {name: [] for name in rates}
            for _ in range(args.rounds):
                for name, dp, text_ in (("echo (bare aiogram)", echo_dp, "hello"),
                                        ("/codes", codes_dp, "/codes")):
                    rate, times = await measure(dp, bot, batch(text_), args.concurrency)
                    rates[name].append(rate)
                    latencies[name] += times
            sent = api.calls("sendMessage")
            assert sent and all("<code>" in r.text for r in sent if "X0" in r.text)
            await bot.session.close()
        await db.dispose()

    print_report(args, url, rates, latencies)


def print_report(args: argparse.Namespace, url: str, rates: dict[str, list[float]],
                 latencies: dict[str, list[float]]) -> None:
    echo_rates = rates["echo (bare aiogram)"]
    backend = "PostgreSQL" if "postgresql" in url else "SQLite"
    print(f"\n{args.rounds} rounds × {args.updates} updates per handler, {args.users} linked "
          f"users × 3 codes, concurrency {args.concurrency}, {backend}")
    print(f"{'handler':<22}{'updates/s':>11}{'p50 ms':>9}{'p99 ms':>9}{'vs echo':>9}"
          "   rounds (updates/s)")
    for name, round_rates in rates.items():
        rate = statistics.median(round_rates)
        ratio = statistics.median(r / e for r, e in zip(round_rates, echo_rates, strict=True))
        times = sorted(latencies[name])
        p50, p99 = times[len(times) // 2] * 1000, times[int(len(times) * 0.99)] * 1000
        spread = " ".join(f"{r:.0f}" for r in round_rates)
        print(f"{name:<22}{rate:>11.0f}{p50:>9.1f}{p99:>9.1f}{ratio:>9.2f}   {spread}")


if __name__ == "__main__":
    asyncio.run(main())
