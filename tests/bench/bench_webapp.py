"""The cabinet's page load on the embedded SQLite default: the HTML, its script and style,
and the shopper's data (`/webapp/api/me`: the launch data's check, the account, the codes
with their QR codes, the tier), one load after another as a shopper opens it, and under
load from `wrk` for the data call.

    python -m tests.bench.bench_webapp [--loads 2000] [--customers 10000] [--codes 5]

The server runs in a process of its own (the client's time stays out of its CPU). Target:
a page load (HTML + data) under 50 ms p99.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import shutil
import signal
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import aiohttp
from sqlalchemy import insert

from bot.app.startup import start_site
from bot.clock import utcnow
from bot.config import Settings
from bot.db import create_database
from bot.db.migrate import ensure_schema
from bot.db.models import Customer, PromoCode, TelegramAccount
from bot.promo.codes.generator import generate_many
from bot.webapp.app import create_webapp
from tests.bench.data import percentile
from tests.support.ports import free_port
from tests.support.webapp import launch_data

TOKEN = "123456:BENCH-token"
TELEGRAM_BASE = 7_000_000


async def seed(url: str, customers: int, codes: int) -> None:
    await ensure_schema(url)
    db = create_database(url)
    now = utcnow()
    drawn = iter(generate_many(customers * codes))
    async with db.session() as session:
        await session.execute(insert(Customer), [
            {"id": i, "external_id": f"c{i}", "net_spend": 1_000 * i, "orders_count": i % 9,
             "marketing_opt_in": True} for i in range(1, customers + 1)])
        await session.execute(insert(TelegramAccount), [
            {"id": TELEGRAM_BASE + i, "chat_id": TELEGRAM_BASE + i, "customer_id": i,
             "locale": "ru"} for i in range(1, customers + 1)])
        await session.execute(insert(PromoCode), [
            {"code": next(drawn), "source": "comeback", "customer_id": i,
             "discount_type": "percent", "discount_value": 5 + n, "currency": "RUB",
             "min_order": 100_000 * n, "usage_limit": 1, "per_customer_limit": 1,
             "expires_at": now + timedelta(days=10 + n)}
            for i in range(1, customers + 1) for n in range(codes)])
        await session.commit()
    await db.dispose()


def serve(url: str, port: int) -> None:
    async def main() -> None:
        settings = Settings(_env_file=None, database_url=url, bot_token=TOKEN)
        db = create_database(url)
        runner = await start_site(create_webapp(settings, db), "127.0.0.1", port,
                                  access_log=False)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await runner.cleanup()
        await db.dispose()

    asyncio.run(main())


async def page_loads(base: str, loads: int, customers: int) -> tuple[list[float], list[float]]:
    """Each load as the Mini App makes it: the page, its two files, then the data."""
    whole, data = [], []
    async with aiohttp.ClientSession() as http:
        for n in range(loads):
            user = TELEGRAM_BASE + 1 + n % customers
            signed = launch_data(TOKEN, user, signed_at=utcnow())
            started = time.perf_counter()
            for path in ("/webapp/", "/webapp/static/app.js", "/webapp/static/app.css"):
                async with http.get(base + path) as response:
                    await response.read()
            asked = time.perf_counter()
            async with http.get(base + "/webapp/api/me",
                                headers={"Authorization": f"tma {signed}"}) as response:
                assert response.status == 200, await response.text()
                await response.read()
            done = time.perf_counter()
            whole.append(done - started)
            data.append(done - asked)
    return sorted(whole), sorted(data)


async def wrk_me(base: str, seconds: int, connections: int) -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        return "wrk not installed (apt install wrk): no load figures"
    signed = launch_data(TOKEN, TELEGRAM_BASE + 1, signed_at=utcnow())
    process = await asyncio.create_subprocess_exec(
        wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
        "-H", f"Authorization: tma {signed}", base + "/webapp/api/me",
        stdout=asyncio.subprocess.PIPE)
    out = (await process.communicate())[0].decode()
    keep = [line.strip() for line in out.splitlines()
            if line.strip().startswith(("50%", "99%", "Requests/sec", "Non-2xx"))]
    return "; ".join(keep)


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        url = f"sqlite+aiosqlite:///{Path(workdir) / 'webapp.sqlite3'}"
        started = time.perf_counter()
        await seed(url, args.customers, args.codes)
        print(f"# seeded {args.customers:,} linked customers, {args.codes} codes each "
              f"in {time.perf_counter() - started:.1f} s")
        port = free_port()
        server = multiprocessing.get_context("spawn").Process(target=serve, args=(url, port))
        server.start()
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                with contextlib.suppress(OSError):
                    async with aiohttp.ClientSession() as http, http.get(base + "/webapp/"):
                        break
                await asyncio.sleep(0.1)
            await page_loads(base, 100, args.customers)  # warm-up
            whole, data = await page_loads(base, args.loads, args.customers)
            ms = 1000
            print(f"page load (HTML, script, style, data), {args.loads} in a row: "
                  f"p50 {percentile(whole, 0.5) * ms:.1f} ms, "
                  f"p99 {percentile(whole, 0.99) * ms:.1f} ms")
            print(f"data call alone: p50 {percentile(data, 0.5) * ms:.1f} ms, "
                  f"p99 {percentile(data, 0.99) * ms:.1f} ms")
            print(f"data call under wrk, {args.connections} connections: "
                  f"{await wrk_me(base, 10, args.connections)}")
        finally:
            server.terminate()
            server.join()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loads", type=int, default=2000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--codes", type=int, default=5)
    parser.add_argument("--connections", type=int, default=8)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
