"""What `promobot run` and `promobot api` share around their work: the prologue (logging,
signals, the database with its schema checked), listening on a port, and the exit code of
whatever stops start-up.

One table says which errors stop the process, with which exit code and which words for the
operator: 2 when the configuration or the schema must be fixed first, 1 when the
environment refused (a port taken, a worker dead, the database or Telegram out of
reach). A command adds its own rows (`run`: Telegram refusing the token). What could not be
reached is said in words, with where and why (`cannot reach Telegram at
https://api.telegram.org: DNS: no such host name`), not as a driver's traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import ssl
import sys
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit

from aiohttp import ClientConnectorCertificateError, web
from aiohttp.log import access_logger
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from bot.app.process import stop_on_signals
from bot.app.workers import WorkerFailed
from bot.config import Settings
from bot.db import Database, create_database
from bot.db.migrate import SchemaNotCurrentError, ensure_schema


class StartupError(Exception):
    """Configuration that must stop start-up; the message is for the operator."""


class Unreachable(Exception):
    """A service start-up needs cannot be reached; the message says which, where, why."""


# (what was raised, exit code, what the operator reads after "promobot: ": a format
# string of `error`, or a function of it).
Exit = tuple[type[Exception], int, str | Callable[[Exception], str]]

EXITS: tuple[Exit, ...] = (
    (StartupError, 2, "{error}"),
    (SchemaNotCurrentError, 2, "{error}"),
    (Unreachable, 1, "{error}"),
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
        text = words(error) if callable(words) else words.format(error=error)
        print(f"promobot: {text}", file=sys.stderr)
        return code


def _causes(error: BaseException) -> list[BaseException]:
    """The error and what it was raised from, outermost first."""
    chain: list[BaseException] = []
    while error is not None and error not in chain:
        chain.append(error)
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    return chain


def _why(error: BaseException) -> str:
    """Why a connection failed, in the operator's words."""
    chain = _causes(error)
    for cause in chain:
        if isinstance(cause, socket.gaierror):
            if cause.errno == socket.EAI_AGAIN:
                return "DNS: no answer from the name server (is this machine online?)"
            return "DNS: no such host name"
        if isinstance(cause, ClientConnectorCertificateError | ssl.SSLCertVerificationError):
            return "TLS: the server's certificate is not trusted"
        if isinstance(cause, ssl.SSLError):
            return "TLS: the secure connection failed"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused (nothing listens there)"
        if isinstance(cause, TimeoutError):
            return "no answer in time"
        if isinstance(cause, OSError) and cause.errno in (errno.ENETUNREACH,
                                                          errno.EHOSTUNREACH):
            return "no route to it (network unreachable)"
        if isinstance(cause, DBAPIError) and cause.orig is not None:
            return str(cause.orig).splitlines()[0]
    last = chain[-1]
    return (getattr(last, "strerror", None) or str(last) or type(last).__name__).strip()


def unreachable(what: str, where: str, error: BaseException) -> str:
    """`cannot reach Telegram at https://api.telegram.org: DNS: no such host name`."""
    return f"cannot reach {what} at {where}: {_why(error)}"


def _database_where(url: str) -> str:
    """The database URL without its password; a SQLite file by its path."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or ":memory:"
    return parsed.render_as_string(hide_password=True)


def host_of(url: str) -> str:
    """`https://api.telegram.org/bot...` → `https://api.telegram.org` (no token shown)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else url


async def open_database(settings: Settings, stack: contextlib.AsyncExitStack) -> Database:
    """The database, its schema made usable first (the SQLite default migrates itself;
    PostgreSQL must be migrated already, else `SchemaNotCurrentError`); disposed of when
    `stack` closes. A database out of reach is `Unreachable`, not a driver's error."""
    try:
        await ensure_schema(settings.db.url)
    except (OSError, DBAPIError) as error:
        raise Unreachable(
            unreachable("the database", _database_where(settings.db.url), error)
        ) from error
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
