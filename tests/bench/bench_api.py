"""Benchmark: the shop API's validate and redeem over real HTTP, with concurrent clients.

Targets (2-core machine, 2 workers, 8 connections): validate >= 3 000/s on SQLite and
>= 2 000/s on PostgreSQL with p99 < 10 ms, redeem >= 1 000/s with p99 < 20 ms on both.
Run by hand:

    python -m tests.bench.bench_api --workers 2 --connections 8      # the README's figures
    python -m tests.bench.bench_api --database-url sqlite            # SQLite (temp file) only
    python -m tests.bench.bench_api --database-url \\
        postgresql+asyncpg://postgres@127.0.0.1:5432/promobot_bench_api
    python -m tests.bench.bench_api --profile                       # + py-spy top frames

By default one sitting measures SQLite, PostgreSQL (`promobot_bench_api` on the local
server, skipped if there is none) and, on the same PostgreSQL database, the bare
aiohttp + asyncpg ceiling (`api_ceiling.py`), and prints each of promobot's PostgreSQL
rates as a share of the ceiling's.

Load comes from wrk when it is installed (`apt install wrk`; see wrk_api.lua), else from
an aiohttp client in this process. The server is `promobot api` in a process of its own
(falling back to an equivalent `create_app` server, `api_server.py`, when the installed CLI
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
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp

from tests.bench.api_load import (
    Phase,
    load,
    load_wrk,
    redeem_personal_bodies,
    redeem_shared_bodies,
    validate_bodies,
    wrk_feeds,
)
from tests.bench.api_seed import Seeded, seed
from tests.bench.api_server import (
    Server,
    spawn_server,
    start_profile,
    summarize_profile,
    wait_healthy,
)
from tests.bench.data import PG_DEFAULT, backend, recreate_postgres, remove_sqlite, safe

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
    urls = args.database_url or ["sqlite", PG_DEFAULT.format(name="promobot_bench_api")]
    tables: list[tuple[str, list[Phase]]] = []
    for url in urls:
        servers = [args.server]
        if backend_of(url) == "postgresql" and args.ceiling:
            servers.append("ceiling")
        for how in servers:
            try:
                results = await measure_server(args, None if url == "sqlite" else url, how)
            except OSError as error:  # no PostgreSQL here: the other figures stand alone
                print(f"# {safe(url)}: skipped ({error})", flush=True)
                break
            tables.append((how, results))
    print_ceiling_ratios(tables)


def backend_of(url: str) -> str:
    return "sqlite" if url == "sqlite" else backend(url)


def print_ceiling_ratios(tables: list[tuple[str, list[Phase]]]) -> None:
    """promobot's PostgreSQL rates as a share of the bare asyncpg ceiling's."""
    ceiling = {p.case: p for how, phases in tables if how == "ceiling" for p in phases}
    ours = [p for how, phases in tables if how != "ceiling" for p in phases
            if p.backend == "postgresql"]
    if not ceiling or not ours:
        return
    print("\n| case | promobot on PostgreSQL | bare asyncpg ceiling | share |\n|---|---|---|---|")
    for phase in ours:
        top = ceiling.get(phase.case)
        if top is not None and top.seconds and phase.seconds:
            rate, top_rate = phase.ok / phase.seconds, top.ok / top.seconds
            print(f"| {phase.case} | {rate:,.0f}/s | {top_rate:,.0f}/s | "
                  f"{rate / top_rate:.0%} |")


async def measure_server(args: argparse.Namespace, url: str | None, how: str) -> list[Phase]:
    with tempfile.TemporaryDirectory(prefix="promobot-bench-api-") as tmp:
        workdir = Path(tmp)
        url = await prepare_database(url, workdir)
        seeded = await seed_database(url, args)
        server = await wait_healthy(spawn_server(url, workdir, how, args.workers))
        print(f"# server: {server.how}, pid {server.pid}, {args.workers} worker(s); "
              f"client: {'wrk' if args.client == 'wrk' else 'aiohttp'}, "
              f"{args.connections} connections, {args.duration_s:g} s per case after "
              f"{args.warmup_s:g} s warm-up", flush=True)
        label = backend(url) + (" (bare asyncpg ceiling)" if how == "ceiling" else "")
        try:
            results, profiles = await run_cases(args, server, seeded, workdir, label)
        finally:
            server.stop()
        for phase in results:
            phase.backend = backend(url)
        print_results(label, args.connections, results, profiles, server)
        return results


async def prepare_database(url: str | None, workdir: Path) -> str:
    """A fresh SQLite file in the scratch folder, or the PostgreSQL database made empty."""
    if url is None:
        path = workdir / "bench.sqlite3"
        remove_sqlite(path)
        return f"sqlite+aiosqlite:///{path}"
    if backend(url) != "postgresql":
        raise SystemExit("--database-url: a SQLite file is made for you; give PostgreSQL")
    await recreate_postgres(url)
    return url


async def seed_database(url: str, args: argparse.Namespace) -> Seeded:
    pool_size = args.redeem_pool or max(20_000, int((args.duration_s + args.warmup_s) * 6_000))
    seeded = await seed(url, args.customers, pool_size)
    print(f"# {safe(url)}: seeded {len(seeded.customers):,} customers, "
          f"{len(seeded.personal):,} validation codes, {len(seeded.pool):,} single-use "
          f"redeem codes, 1 shared code in {seeded.seconds:.1f} s", flush=True)
    return seeded


def case_requests(
    case: str, seeded: Seeded, rng: random.Random, pool: Iterator[tuple[str, str]], run: str,
) -> tuple[str, bool, Callable[[], bytes | None]]:
    """A case's path, whether its answers are checked, and what makes its request bodies."""
    if case == "validate":
        return "/codes/validate", True, validate_bodies(seeded, rng)
    if case == "redeem":
        return "/codes/redeem", False, redeem_personal_bodies(pool, run)
    if case == "redeem_shared":
        return "/codes/redeem", False, redeem_shared_bodies(seeded, rng, run)
    raise SystemExit(f"unknown case {case!r}")


async def run_cases(
    args: argparse.Namespace, server: Server, seeded: Seeded, workdir: Path, label: str,
) -> tuple[list[Phase], list[tuple[str, str]]]:
    """Each case: a warm-up, then the timed phase (profiled if asked); its row is printed
    as soon as it is measured. Returns the phases and the profiles' summaries."""
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    feeds = wrk_feeds(seeded, workdir) if args.client == "wrk" else {}
    rng, run = random.Random(11), f"r{int(time.time())}"
    pool = iter(seeded.pool)
    results: list[Phase] = []
    profiles: list[tuple[str, str]] = []
    connector = aiohttp.TCPConnector(limit=args.connections, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as client:
        for case in cases:
            path, check, make = case_requests(case, seeded, rng, pool, run)

            async def measure(phase: Phase, seconds: float, path: str = path,
                              make: Callable[[], bytes | None] = make,
                              check: bool = check) -> Phase:
                if args.client == "wrk":
                    return await load_wrk(server, phase, path, feeds[phase.case], run,
                                          connections=args.connections, seconds=seconds)
                return await load(client, server, phase, path, make,
                                  connections=args.connections, seconds=seconds,
                                  max_requests=args.max_requests, check_valid=check)

            if args.warmup_s > 0:
                await measure(Phase(case), args.warmup_s)
            spy, spy_out = None, workdir / f"{case}.spy.txt"
            if args.profile:
                spy = start_profile(server.pid, args.duration_s, spy_out)
            phase = await measure(Phase(case), args.duration_s)
            results.append(phase)
            print(row(label, phase, args.connections), flush=True)
            if spy is not None:
                _, err = spy.communicate(timeout=args.duration_s + 60)
                profiles.append((case, summarize_profile(spy_out) if spy_out.exists()
                                 else "py-spy failed: " + err.decode()[-500:]))
            if server.process.poll() is not None:
                raise SystemExit(f"server died:\n{server.tail()}")
    return results, profiles


def print_results(name: str, connections: int, results: list[Phase],
                  profiles: list[tuple[str, str]], server: Server) -> None:
    print()
    print(HEADER)
    for phase in results:
        print(row(name, phase, connections))
    for case, text in profiles:
        print(f"\n## server profile, {name}, {case}\n{text}")
    if any(p.statuses.keys() - {"200"} for p in results):
        print("\n# server log tail:\n" + server.tail(15))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", action="append",
                        help="`sqlite` (a temp file) or a PostgreSQL URL, created if missing "
                        "and emptied; repeatable (default: SQLite, then the local PostgreSQL)")
    parser.add_argument("--no-ceiling", dest="ceiling", action="store_false",
                        help="skip the bare asyncpg ceiling on PostgreSQL")
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
    parser.add_argument("--server", choices=("auto", "cli", "inline", "ceiling"), default="auto",
                        help="`promobot api`, the create_app server of api_server.py, or "
                        "the bare aiohttp + asyncpg ceiling of api_ceiling.py (PostgreSQL)")
    parser.add_argument("--profile", action="store_true",
                        help="py-spy the server during each timed phase; print top frames")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
