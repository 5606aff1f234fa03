"""Benchmark: the shop API's validate and redeem over real HTTP, with concurrent clients.

Targets on SQLite (2-core machine): validate >= 3 000/s with p99 < 10 ms, redeem
>= 1 000/s with p99 < 20 ms. Run by hand:

    python -m tests.bench.bench_api --workers 2 --connections 8      # the README's figures
    python -m tests.bench.bench_api                                 # SQLite (temp file)
    python -m tests.bench.bench_api --database-url \\
        postgresql+asyncpg://postgres@127.0.0.1:5432/promobot_bench_api
    python -m tests.bench.bench_api --profile                       # + py-spy top frames

Load comes from wrk when it is installed (`apt install wrk`; see wrk_api.lua), else from
an aiohttp client in this process. The server is `promobot api` in a process of its own
(falling back to an equivalent `create_app` server in this file when the installed CLI
has no `api` command), so the load generator never shares its event loop. The database
is made from empty with the migrations and seeded before the server starts: customers,
one personal code each for validation, a pool of single-use personal codes (one per
redeem request) and one shared code without limits (every redeem on the same row).
Each case gets a warm-up, then a timed phase; every loop ends by time or by count, and
all traffic goes to 127.0.0.1.
Figures only: nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from sqlalchemy import bindparam, insert, select, update

from tests.bench.data import (
    backend,
    cpu_seconds,
    percentile,
    recreate_postgres,
    remove_sqlite,
    rss_mib,
    safe,
)

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


# --------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def cli_has_api() -> bool:
    probe = subprocess.run([sys.executable, "-m", "bot", "api", "--help"],
                           capture_output=True, timeout=60, check=False)
    return probe.returncode == 0


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base: str
    log: Path
    how: str

    @property
    def pid(self) -> int:
        return self.process.pid

    def pids(self) -> list[int]:
        """The server and its worker processes, if it runs several."""
        found, queue = [], [self.pid]
        while queue:
            pid = queue.pop()
            found.append(pid)
            for task in Path(f"/proc/{pid}/task").glob("*/children"):
                with contextlib.suppress(OSError):
                    queue += [int(child) for child in task.read_text().split()]
        return found

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids())

    def rss(self) -> float:
        return sum(rss_mib(pid) for pid in self.pids())

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


def spawn_server(url: str, workdir: Path, how: str, workers: int) -> Server:
    port = free_port()
    env = {
        **os.environ,
        "PROMOBOT_API_WORKERS": str(workers),
        "PROMOBOT_DATABASE_URL": url,
        "PROMOBOT_API_KEYS": f"bench:{API_KEY}",
        "PROMOBOT_API_HOST": HOST,
        "PROMOBOT_API_PORT": str(port),
        # Failed checks are not what is measured; keep the brute-force brake out of the way.
        "PROMOBOT_API_FAILED_VALIDATIONS_PER_MINUTE": str(10**9),
    }
    if how == "auto":
        how = "cli" if cli_has_api() else "inline"
    command = ([sys.executable, "-m", "bot", "api"] if how == "cli"
               else [sys.executable, str(Path(__file__).resolve()), "--serve"])
    log = workdir / "server.log"
    with log.open("wb") as out:
        # cwd is the scratch folder: a developer's .env must not change the settings.
        process = subprocess.Popen(command, env=env, cwd=workdir, stdout=out,
                                   stderr=subprocess.STDOUT)
    return Server(process, f"http://{HOST}:{port}", log,
                  "promobot api" if how == "cli" else "create_app (inline fallback)")


async def wait_healthy(server: Server) -> Server:
    process = server.process
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"server exited with {process.returncode}:\n{server.tail()}")
            with contextlib.suppress(aiohttp.ClientError):
                async with client.get(server.base + PREFIX + "/health") as response:
                    if response.status == 200:
                        return server
            await asyncio.sleep(0.2)
    server.stop()
    raise SystemExit(f"server did not answer /health within 60 s:\n{server.tail()}")


async def serve_inline() -> None:
    """What `promobot api` does, for trees whose CLI does not have it yet."""
    from aiohttp import web

    from bot.api.app import create_app
    from bot.config import Settings
    from bot.db import create_database
    from bot.db.migrate import ensure_schema

    settings = Settings()
    await ensure_schema(settings)
    db = create_database(settings.database_url)
    runner = web.AppRunner(create_app(settings, db))
    await runner.setup()
    await web.TCPSite(runner, settings.api_host, settings.api_port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await runner.cleanup()
    await db.dispose()


# --------------------------------------------------------------------------- load


@dataclass
class Phase:
    case: str
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    rss: float = 0.0
    exhausted: bool = False
    # Set by wrk, which reports them itself; else computed from `latencies`.
    counted: int | None = None
    p50: float | None = None
    p99: float | None = None

    @property
    def requests(self) -> int:
        return len(self.latencies) if self.counted is None else self.counted

    def percentiles(self) -> tuple[float, float]:
        if self.p50 is not None and self.p99 is not None:
            return self.p50, self.p99
        lat = sorted(self.latencies)
        return percentile(lat, 0.5), percentile(lat, 0.99)

    @property
    def ok(self) -> int:
        return self.statuses["200"]

    @property
    def errors(self) -> str:
        bad = {k: v for k, v in sorted(self.statuses.items()) if k != "200"}
        return ", ".join(f"{k}×{v}" for k, v in bad.items()) or "0"


def validate_bodies(seeded: Seeded, rng: random.Random) -> Callable[[], bytes | None]:
    customers = seeded.customers

    def make() -> bytes | None:
        customer = rng.choice(customers)
        return json.dumps({"code": seeded.personal[customer], "customer_id": customer,
                           "order": {"total": TOTAL, "items": ITEMS}}).encode()

    return make


def redeem_personal_bodies(pool: Iterator[tuple[str, str]], run: str) -> Callable[[], bytes | None]:
    serial = iter(range(10**9))

    def make() -> bytes | None:
        taken = next(pool, None)
        if taken is None:
            return None
        code, customer = taken
        return json.dumps({"code": code, "customer_id": customer,
                           "order_id": f"{run}-p{next(serial)}",
                           "order": {"total": TOTAL, "items": ITEMS}}).encode()

    return make


def redeem_shared_bodies(
    seeded: Seeded, rng: random.Random, run: str
) -> Callable[[], bytes | None]:
    serial = iter(range(10**9))

    def make() -> bytes | None:
        return json.dumps({"code": seeded.shared, "customer_id": rng.choice(seeded.customers),
                           "order_id": f"{run}-s{next(serial)}",
                           "order": {"total": TOTAL, "items": ITEMS}}).encode()

    return make


async def load(
    client: aiohttp.ClientSession, server: Server, phase: Phase, path: str,
    make: Callable[[], bytes | None], *, connections: int, seconds: float, max_requests: int,
    check_valid: bool,
) -> Phase:
    url = server.base + PREFIX + path
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
    budget = iter(range(max_requests))
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline and next(budget, None) is not None:
            body = make()
            if body is None:
                phase.exhausted = True
                return
            started = time.perf_counter()
            try:
                async with client.post(url, data=body, headers=headers) as response:
                    payload = await response.read()
                    status = str(response.status)
            except (aiohttp.ClientError, OSError) as error:
                status = type(error).__name__
                payload = b""
            phase.latencies.append(time.perf_counter() - started)
            if check_valid and status == "200" and b'"valid":true' not in payload:
                status = "200-not-valid"
            phase.statuses[status] += 1

    cpu0, client0, t0 = server.cpu(), time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    phase.seconds = time.perf_counter() - t0
    phase.server_cpu = (server.cpu() - cpu0) / phase.seconds
    phase.client_cpu = (time.process_time() - client0) / phase.seconds
    phase.rss = server.rss()
    return phase


WRK_SCRIPT = Path(__file__).resolve().with_name("wrk_api.lua")
WRK_THREADS = 1  # one C thread drives tens of thousands of requests a second


@dataclass
class WrkFeed:
    """The data file wrk's script reads, and where the next phase starts in it."""

    path: Path
    next_line: int = 1


def wrk_feeds(seeded: Seeded, workdir: Path) -> dict[str, WrkFeed]:
    def write(name: str, pairs: list[tuple[str, str]]) -> WrkFeed:
        path = workdir / f"{name}.tsv"
        path.write_text("".join(f"{code}\t{customer}\n" for code, customer in pairs))
        return WrkFeed(path)

    validate = [(code, customer) for customer, code in seeded.personal.items()]
    shared = [(seeded.shared, customer) for customer in seeded.customers]
    return {"validate": write("validate", validate), "redeem": write("redeem", seeded.pool),
            "redeem_shared": write("redeem_shared", shared)}


async def load_wrk(
    server: Server, phase: Phase, path: str, feed: WrkFeed, run: str, *, connections: int,
    seconds: float,
) -> Phase:
    """The same load from wrk (C, one thread): the client costs a fraction of a core, so
    the server gets the machine's second core instead of sharing it with Python."""
    command = [
        "wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
        "--timeout", "10s", "-s", str(WRK_SCRIPT), server.base + PREFIX + path, "--",
        phase.case, str(feed.path), str(feed.next_line), f"{run}-{feed.next_line}", API_KEY,
        json.dumps({"total": TOTAL, "items": ITEMS}, separators=(",", ":")), str(WRK_THREADS),
    ]
    cpu0, t0 = server.cpu(), time.perf_counter()
    child0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    wall = time.perf_counter() - t0
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu = server.cpu() - cpu0
    line = next((x for x in out.decode().splitlines() if x.startswith("BENCH ")), None)
    if process.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed ({process.returncode}):\n{out.decode()}{err.decode()}")
    report = json.loads(line[len("BENCH "):])
    phase.seconds = report["seconds"]
    phase.counted = report["requests"]
    phase.p50, phase.p99 = report["p50_us"] / 1e6, report["p99_us"] / 1e6
    statuses = report["statuses"]
    if statuses.pop("exhausted", 0):
        phase.exhausted = True
    phase.statuses.update({k: int(v) for k, v in statuses.items()})
    if report["socket_errors"]:
        phase.statuses["socket errors"] += report["socket_errors"]
    # Every request wrk built, answered or cut off at the end, took a single-use code.
    feed.next_line += report["issued"] + connections
    phase.server_cpu = server_cpu / wall
    phase.client_cpu = (child.ru_utime + child.ru_stime
                        - child0.ru_utime - child0.ru_stime) / wall
    phase.rss = server.rss()
    return phase


# --------------------------------------------------------------------------- profile


def start_profile(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        print("(py-spy not installed: pip install py-spy to profile)", file=sys.stderr)
        return None
    return subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))),
         "--rate", "200", "--format", "raw", "--output", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


GROUPS = (
    ("sqlite3 (C, in aiosqlite's thread)", ("aiosqlite/core.py",)),
    ("aiosqlite hand-off", ("aiosqlite/",)),
    ("asyncpg", ("asyncpg/",)),
    ("SQLAlchemy", ("sqlalchemy/",)),
    ("aiohttp", ("aiohttp/",)),
    ("pydantic", ("pydantic",)),
    ("asyncio / selectors", ("asyncio/", "selectors.py")),
    ("bot (our code)", ("/bot/",)),
)


def frame_file(frame: str) -> str:
    return frame.rsplit("(", 1)[-1] if "(" in frame else frame


def summarize_profile(path: Path, top: int = 12) -> str:
    """Top frames by own and by inclusive samples (all threads), and a per-library split
    of own samples, from py-spy's raw (collapsed stacks) output."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if f]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        return "(no samples)"
    groups: Counter[str] = Counter()
    for frame, count in own.items():
        where = frame_file(frame)
        groups[next((name for name, keys in GROUPS if any(k in where for k in keys)),
                    "other")] += count
    lines = [f"{total} samples (all threads, idle excluded)", "", "own time by library:"]
    lines += [f"  {100 * c / total:5.1f}%  {name}" for name, c in groups.most_common()]
    lines += ["", "top frames by own time:"]
    lines += [f"  {100 * c / total:5.1f}%  {f}" for f, c in own.most_common(top)]
    lines += ["", "top frames by inclusive time:"]
    lines += [f"  {100 * c / total:5.1f}%  {f}" for f, c in inclusive.most_common(top * 2)
              if "<module>" not in f and "run_forever" not in f and "_run_once" not in f
              and "run_until_complete" not in f][:top]
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def row(backend_name: str, phase: Phase, connections: int) -> str:
    p50, p99 = phase.percentiles()
    rate = phase.ok / phase.seconds if phase.seconds else 0.0
    note = " (pool exhausted)" if phase.exhausted else ""
    # CPU the server spent per request: unlike the rate, not lowered by a busy machine.
    cost = 1000 * phase.server_cpu * phase.seconds / phase.requests if phase.requests else 0.0
    return (f"| {backend_name} | {phase.case} | {connections} | {phase.requests:,} | "
            f"{phase.errors} | {rate:,.0f}/s{note} | {1000 * p50:.1f} ms | "
            f"{1000 * p99:.1f} ms | {phase.server_cpu:.0%} | {cost:.2f} ms | "
            f"{phase.client_cpu:.0%} | {phase.rss:.0f} MiB |")


HEADER = ("| backend | case | conns | requests | errors | ok/s | p50 | p99 | server CPU "
          "| server CPU/req | client CPU | server RSS |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|")


async def main(args: argparse.Namespace) -> None:
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    with tempfile.TemporaryDirectory(prefix="promobot-bench-api-") as tmp:
        workdir = Path(tmp)
        url = args.database_url
        if url is None:
            path = workdir / "bench.sqlite3"
            remove_sqlite(path)
            url = f"sqlite+aiosqlite:///{path}"
        elif backend(url) == "postgresql":
            await recreate_postgres(url)
        else:
            raise SystemExit("--database-url: a SQLite file is made for you; give PostgreSQL")
        name = backend(url)
        pool_size = args.redeem_pool or max(
            20_000, int((args.duration_s + args.warmup_s) * 6_000))
        seeded = await seed(url, args.customers, pool_size)
        print(f"# {safe(url)}: seeded {len(seeded.customers):,} customers, "
              f"{len(seeded.personal):,} validation codes, {len(seeded.pool):,} single-use "
              f"redeem codes, 1 shared code in {seeded.seconds:.1f} s", flush=True)
        server = await wait_healthy(spawn_server(url, workdir, args.server, args.workers))
        client_name = "wrk" if args.client == "wrk" else "aiohttp"
        feeds = wrk_feeds(seeded, workdir) if args.client == "wrk" else {}
        print(f"# server: {server.how}, pid {server.pid}, {args.workers} worker(s); "
              f"client: {client_name}, "
              f"{args.connections} connections, {args.duration_s:g} s per case after "
              f"{args.warmup_s:g} s warm-up", flush=True)
        rng = random.Random(11)
        run = f"r{int(time.time())}"
        pool = iter(seeded.pool)
        results: list[Phase] = []
        profiles: list[tuple[str, str]] = []
        connector = aiohttp.TCPConnector(limit=args.connections, force_close=False)
        try:
            async with aiohttp.ClientSession(connector=connector) as client:
                for case in cases:
                    if case == "validate":
                        path, check = "/codes/validate", True
                        make = validate_bodies(seeded, rng)
                    elif case == "redeem":
                        path, check = "/codes/redeem", False
                        make = redeem_personal_bodies(pool, run)
                    elif case == "redeem_shared":
                        path, check = "/codes/redeem", False
                        make = redeem_shared_bodies(seeded, rng, run)
                    else:
                        raise SystemExit(f"unknown case {case!r}")

                    async def measure(
                        phase: Phase, seconds: float, path: str = path,
                        make: Callable[[], bytes | None] = make, check: bool = check,
                    ) -> Phase:
                        if args.client == "wrk":
                            return await load_wrk(server, phase, path, feeds[phase.case], run,
                                                  connections=args.connections, seconds=seconds)
                        return await load(client, server, phase, path, make,
                                          connections=args.connections, seconds=seconds,
                                          max_requests=args.max_requests, check_valid=check)

                    if args.warmup_s > 0:
                        await measure(Phase(case), args.warmup_s)
                    spy = None
                    if args.profile:
                        spy_out = workdir / f"{case}.spy.txt"
                        spy = start_profile(server.pid, args.duration_s, spy_out)
                    phase = await measure(Phase(case), args.duration_s)
                    results.append(phase)
                    print(row(name, phase, args.connections), flush=True)
                    if spy is not None:
                        _, err = spy.communicate(timeout=args.duration_s + 60)
                        if spy_out.exists():
                            profiles.append((case, summarize_profile(spy_out)))
                        else:
                            profiles.append((case, "py-spy failed: " + err.decode()[-500:]))
                    if server.process.poll() is not None:
                        raise SystemExit(f"server died:\n{server.tail()}")
        finally:
            server.stop()
        print()
        print(HEADER)
        for phase in results:
            print(row(name, phase, args.connections))
        for case, text in profiles:
            print(f"\n## server profile, {name}, {case}\n{text}")
        if any(p.statuses.keys() - {"200"} for p in results):
            print("\n# server log tail:\n" + server.tail(15))


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        asyncio.run(serve_inline())
        raise SystemExit(0)
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="PostgreSQL URL (default: a temp SQLite file); "
                        "the database is created if missing and emptied")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--client", choices=("wrk", "aiohttp"),
                        default="wrk" if shutil.which("wrk") else "aiohttp",
                        help="load generator (default: wrk when installed — apt install wrk "
                        "— since a Python client takes a core of its own)")
    parser.add_argument("--workers", type=int, default=1,
                        help="PROMOBOT_API_WORKERS for the server (default: %(default)s)")
    parser.add_argument("--duration", dest="duration_s", type=float, default=10.0,
                        help="seconds per case (default: %(default)s)")
    parser.add_argument("--warmup", dest="warmup_s", type=float, default=2.0)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--redeem-pool", type=int, default=0,
                        help="single-use codes for the redeem case (default: enough for "
                        "4 000/s)")
    parser.add_argument("--max-requests", type=int, default=1_000_000,
                        help="cap per phase, whatever the duration")
    parser.add_argument("--cases", default="validate,redeem,redeem_shared")
    parser.add_argument("--server", choices=("auto", "cli", "inline"), default="auto",
                        help="`promobot api`, or the in-file create_app server")
    parser.add_argument("--profile", action="store_true",
                        help="py-spy the server during each timed phase; print top frames")
    asyncio.run(main(parser.parse_args()))
