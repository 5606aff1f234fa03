"""The API benchmark's load: request bodies per case, and the clients that send them
(wrk when installed, else aiohttp in this process), measured as phases."""

from __future__ import annotations

import asyncio
import json
import random
import resource
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from tests.bench.api_seed import API_KEY, ITEMS, PREFIX, TOTAL, Seeded
from tests.bench.api_server import Server
from tests.bench.data import (
    percentile,
)

# --------------------------------------------------------------------------- load


@dataclass
class Phase:
    case: str
    seconds: float = 0.0
    backend: str = ""
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


