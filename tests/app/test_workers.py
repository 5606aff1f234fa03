"""`promobot api` with PROMOBOT_API_WORKERS: processes on one port, stopped together."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import ClientSession, TCPConnector

from tests.support.ports import free_port

# Process handling does not depend on the database: run once, on a SQLite file.
pytestmark = pytest.mark.skipif(bool(os.environ.get("PROMOBOT_TEST_DATABASE_URL")),
                                reason="runs in the SQLite pass")

KEY = "workers-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


def workers_of(pid: int) -> list[int]:
    """The worker processes (multiprocessing also starts a resource tracker)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(child) for child in task.read_text().split()]
    return [child for child in found
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()]


def gone(pid: int) -> bool:
    """Exited (a zombie waiting for its parent to reap it counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


async def all_gone(pids: list[int]) -> bool:
    for _ in range(100):
        if all(gone(pid) for pid in pids):
            return True
        await asyncio.sleep(0.1)
    return False


class Served:
    def __init__(self, process: asyncio.subprocess.Process, port: int) -> None:
        self.process, self.port = process, port
        self.url = f"http://127.0.0.1:{port}/api/v1"

    async def healthy(self) -> None:
        async with ClientSession() as http:
            for _ in range(300):
                if self.process.returncode is not None:
                    break
                try:
                    async with http.get(f"{self.url}/health") as response:
                        if response.status == 200:
                            return
                except OSError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError("the API did not come up")

    async def exit_code(self) -> int:
        return await asyncio.wait_for(self.process.wait(), 30)


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[object]:
    started: list[Served] = []

    async def start(workers: int = 2, port: int | None = None) -> Served:
        port = port or free_port()
        env = {**os.environ, "PROMOBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'w.db'}",
               "PROMOBOT_API_KEYS": f"shop:{KEY}", "PROMOBOT_API_PORT": str(port),
               "PROMOBOT_API_WORKERS": str(workers)}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "api", env=env, cwd=tmp_path,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        served = Served(process, port)
        started.append(served)
        return served

    yield start
    for served in started:
        if served.process.returncode is None:
            served.process.kill()  # its workers follow (see the test below)
            await served.process.wait()


async def test_workers_share_the_port_and_stop_together(start) -> None:  # type: ignore[no-untyped-def]
    served = await start(workers=2)
    await served.healthy()
    workers = workers_of(served.process.pid)
    assert len(workers) == 2
    # Every connection a new one, so the kernel spreads them over both workers; the
    # answers agree because the state is in the database.
    async with ClientSession(connector=TCPConnector(force_close=True)) as http:
        async with http.put(f"{served.url}/customers/c1", json={}, headers=AUTH) as response:
            assert response.status == 201
        async with http.post(f"{served.url}/codes", headers=AUTH, json={
                "customer_id": "c1", "discount_type": "percent", "value": 10}) as response:
            assert response.status == 201
            code = (await response.json())["code"]
        body = {"code": code, "customer_id": "c1", "order": {"total": 100_000}}
        for _ in range(20):
            async with http.post(f"{served.url}/codes/validate", json=body,
                                 headers=AUTH) as response:
                assert (response.status, (await response.json())["discount"]) == (200, 10_000)
        redeemed = []
        for _ in range(6):
            async with http.post(f"{served.url}/codes/redeem", headers=AUTH,
                                 json={**body, "order_id": "o-1"}) as response:
                redeemed.append((response.status, (await response.json())["redemption_id"]))
        assert len(set(redeemed)) == 1 and redeemed[0][0] == 200
    served.process.send_signal(signal.SIGTERM)
    assert await served.exit_code() == 0
    assert await all_gone(workers)


async def test_a_dead_worker_stops_the_api(start) -> None:  # type: ignore[no-untyped-def]
    served = await start(workers=2)
    await served.healthy()
    first, second = workers_of(served.process.pid)
    os.kill(first, signal.SIGKILL)
    assert await served.exit_code() == 1
    assert await all_gone([second])


async def test_workers_stop_when_the_supervisor_is_killed(start) -> None:  # type: ignore[no-untyped-def]
    served = await start(workers=2)
    await served.healthy()
    workers = workers_of(served.process.pid)
    served.process.kill()
    await served.process.wait()
    assert await all_gone(workers)


async def test_a_taken_port_is_reported(start) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        served = await start(workers=2, port=taken.getsockname()[1])
        assert await served.exit_code() == 1
        assert served.process.stderr is not None
        assert b"cannot serve on 127.0.0.1" in await served.process.stderr.read()
