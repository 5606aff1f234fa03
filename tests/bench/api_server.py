"""The API benchmark's server: `promobot api` in a process of its own (or an equivalent
in-file server), waited on until healthy, and optionally profiled with py-spy."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from tests.bench.api_seed import API_KEY, HOST, PREFIX
from tests.bench.data import cpu_seconds, python_module, rss_mib
from tests.support.ports import free_port

# --------------------------------------------------------------------------- server


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
    if how == "cli":
        command = [sys.executable, "-m", "bot", "api"]
    elif how == "ceiling":
        command, child_env = python_module("tests.bench.api_ceiling")
        env["PYTHONPATH"] = child_env["PYTHONPATH"]
    else:
        command, child_env = python_module(__spec__.name)
        env["PYTHONPATH"] = child_env["PYTHONPATH"]
    log = workdir / "server.log"
    with log.open("wb") as out:
        # cwd is the scratch folder: a developer's .env must not change the settings.
        process = subprocess.Popen(command, env=env, cwd=workdir, stdout=out,
                                   stderr=subprocess.STDOUT)
    names = {"cli": "promobot api", "ceiling": "bare aiohttp + asyncpg (api_ceiling.py)"}
    return Server(process, f"http://{HOST}:{port}", log,
                  names.get(how, "create_app (inline fallback)"))


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
    await ensure_schema(settings.db.url)
    db = create_database(settings.db.url)
    runner = web.AppRunner(create_app(settings, db))
    await runner.setup()
    await web.TCPSite(runner, settings.api.host, settings.api.port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await runner.cleanup()
    await db.dispose()


# --------------------------------------------------------------------------- profile


def start_profile(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        print("(py-spy not installed: pip install py-spy to profile)", file=sys.stderr)
        return None
    return subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))),
         "--rate", "200", "--format", "raw", "--output", str(out), "--nonblocking",
         "--subprocesses"],
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


if __name__ == "__main__":
    # The inline server `spawn_server` starts when the installed CLI has no `api` command.
    asyncio.run(serve_inline())
