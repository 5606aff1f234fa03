"""`promobot api`: the shop API alone, for deployments that run it apart from the bot.

The schema is made usable first (`ensure_schema`: the SQLite default migrates itself,
PostgreSQL must already be migrated), then the app serves until SIGINT/SIGTERM: in this
process, or in `PROMOBOT_API_WORKERS` worker processes (`bot.app.workers`).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable

from aiohttp import web
from aiohttp.log import access_logger

from bot.api.app import create_app
from bot.app.process import calm_garbage_collector, stop_on_signals
from bot.app.workers import ApiWorkers, WorkerFailed
from bot.clock import Clock, utcnow
from bot.config import Settings
from bot.db.engine import create_database
from bot.db.migrate import SchemaNotCurrentError, ensure_schema

log = logging.getLogger(__name__)


async def serve(
    settings: Settings, stop: asyncio.Event, clock: Clock = utcnow, *,
    reuse_port: bool = False, ready: Callable[[], None] | None = None,
) -> None:
    """Serve the API on `api_host:api_port` until `stop` is set; `ready` is called once
    it listens."""
    await ensure_schema(settings)
    db = create_database(settings.database_url)
    # Access lines for every checkout call cost more than the call's database work;
    # PROMOBOT_API_ACCESS_LOG turns them on.
    runner = web.AppRunner(create_app(settings, db, clock),
                           access_log=access_logger if settings.api_access_log else None)
    try:
        await runner.setup()
        await web.TCPSite(runner, settings.api_host, settings.api_port,
                          reuse_port=reuse_port or None).start()
        calm_garbage_collector()
        if ready is not None:
            ready()
        if not settings.api_key_map:
            log.warning("PROMOBOT_API_KEYS is empty: every call except health will get 401")
        if not reuse_port:
            log.info("shop API on http://%s:%s/api/v1", settings.api_host, settings.api_port)
        await stop.wait()
    finally:
        await runner.cleanup()
        await db.dispose()


async def run(settings: Settings) -> int:
    """The `promobot api` subcommand: 0 on a clean stop, 2 when the schema is not current."""
    stop = stop_on_signals()
    try:
        if settings.api_workers == 1:
            await serve(settings, stop)
            return 0
        await ensure_schema(settings)  # once, before the workers start
        workers = ApiWorkers(settings)
        await workers.start()
        return await workers.serve_until(stop)
    except WorkerFailed as error:
        print(f"promobot: {error}", file=sys.stderr)
        return 1
    except SchemaNotCurrentError as error:
        print(f"promobot: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"promobot: cannot listen on {settings.api_host}:{settings.api_port}: {error}",
              file=sys.stderr)
        return 1
    return 0
