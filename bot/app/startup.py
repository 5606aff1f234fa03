"""What `promobot run` and `promobot api` share around their work: the prologue (logging,
signals, the database with its schema checked), listening on a port, and the exit code of
whatever stops start-up.

One table says which errors stop the process, with which exit code and which words for the
operator: 2 when the configuration or the schema must be fixed first, 1 when the
environment refused (a port taken, a worker dead). A command adds its own rows (`run`:
Telegram refusing the token).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from aiohttp.log import access_logger

from bot.app.process import stop_on_signals
from bot.app.workers import WorkerFailed
from bot.config import Settings
from bot.db import Database, create_database
from bot.db.migrate import SchemaNotCurrentError, ensure_schema


class StartupError(Exception):
    """Configuration that must stop start-up; the message is for the operator."""


# (what was raised, exit code, what the operator reads after "promobot: ").
Exit = tuple[type[Exception], int, str]

EXITS: tuple[Exit, ...] = (
    (StartupError, 2, "{error}"),
    (SchemaNotCurrentError, 2, "{error}"),
    (WorkerFailed, 1, "shop API: {error}"),
    (OSError, 1, "cannot listen: {error}"),
)


async def run_command(
    main: Callable[[asyncio.Event], Awaitable[int | None]], *, exits: Sequence[Exit] = ()
) -> int:
    """Set up logging and stop on SIGINT/SIGTERM, run `main(stop)` and return its exit
    code (None: 0); an error of `EXITS` (or of the command's own `exits`) is told on
    stderr and becomes its exit code, any other propagates."""
    stop = stop_on_signals()
    table = (*EXITS, *exits)
    try:
        return await main(stop) or 0
    except tuple(kind for kind, _, _ in table) as error:
        code, words = next((code, words) for kind, code, words in table
                           if isinstance(error, kind))
        print(f"promobot: {words.format(error=error)}", file=sys.stderr)
        return code


async def open_database(settings: Settings, stack: contextlib.AsyncExitStack) -> Database:
    """The database, its schema made usable first (the SQLite default migrates itself;
    PostgreSQL must be migrated already, else `SchemaNotCurrentError`); disposed of when
    `stack` closes."""
    await ensure_schema(settings.db.url)
    db = create_database(settings.db.url)
    stack.push_async_callback(db.dispose)
    return db


async def start_site(
    app: web.Application, host: str, port: int, *, access_log: bool, reuse_port: bool = False
) -> web.AppRunner:
    """Serve `app` on `host:port`; the runner is the caller's to clean up (on failure to
    listen it is cleaned up here). Access lines are off unless asked for: on a busy
    checkout they cost more than the call's database work (PROMOBOT_API_ACCESS_LOG)."""
    runner = web.AppRunner(app, access_log=access_logger if access_log else None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, reuse_port=reuse_port or None).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner
