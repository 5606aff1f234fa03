"""Helpers shared by the benchmarks: bench databases, bulk-load formats, figures.

Not a test module and not part of the app: the benchmarks are run by hand.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

PG_DEFAULT = "postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
ROOT = Path(__file__).resolve().parents[2]


def python_module(module: str, *args: str) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that run `python -m module` in a child process
    from any working directory: `tests` is not installed, so a child finds it only with
    the repository root on its PYTHONPATH (a script path would not do either way)."""
    paths = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    return [sys.executable, "-m", module, *args], env


def backend(url: str) -> str:
    return make_url(url).get_backend_name()


def safe(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def pg_dsn(url: str, database: str | None = None) -> str:
    """A plain asyncpg DSN for a SQLAlchemy URL (optionally another database on it)."""
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


async def recreate_postgres(url: str) -> None:
    """Create the URL's database if missing and empty its public schema.

    Refuses the shared `test` database and `postgres` itself: benchmarks get their own.
    """
    import asyncpg

    name = make_url(url).database
    if not name or name in ("test", "postgres", "template0", "template1"):
        raise SystemExit(f"refusing to wipe database {name!r}: use e.g. promobot_bench_api")
    admin = await asyncpg.connect(pg_dsn(url, "postgres"))
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    conn = await asyncpg.connect(pg_dsn(url))
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


def remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def sqlite_time(moment: datetime) -> str:
    """A UTC time as SQLAlchemy's SQLite DateTime stores it (naive, microseconds always):
    rows bulk-loaded past the ORM must compare the same as rows it wrote."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def percentile(sorted_values: list[float], share: float) -> float:
    """Nearest-rank percentile of an already sorted list (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, round(share * len(sorted_values) + 0.5) - 1))
    return sorted_values[rank]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def rss_mib(pid: int) -> float:
    """Resident set size of a process, MiB (Linux /proc)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # After the command name: state is field 3, utime 14 and stime 15 (1-based).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def shop_parser(doc: str | None, *, customers: int, orders: int) -> argparse.ArgumentParser:
    """The arguments of a benchmark over bench_segments' shop: where, and how big."""
    parser = argparse.ArgumentParser(description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", action="append",
                        help="`sqlite` or a PostgreSQL URL; repeatable (default: both)")
    parser.add_argument("--customers", type=int, default=customers)
    parser.add_argument("--orders", type=int, default=orders)
    parser.add_argument("--seed", type=int, default=2024)
    return parser
