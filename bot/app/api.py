"""`promobot api`: the shop API alone, for deployments that run it apart from the bot.

The schema is made usable first (`ensure_schema`: the SQLite default migrates itself,
PostgreSQL must already be migrated), then the app serves until SIGINT/SIGTERM: in this
process, or in `PROMOBOT_API_WORKERS` worker processes (`bot.app.workers`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from bot.api.app import create_app
from bot.app.process import calm_garbage_collector
from bot.app.startup import open_database, run_command, start_site
from bot.app.workers import ApiWorkers
from bot.clock import Clock, utcnow
from bot.cluster import Cluster
from bot.config import Settings
from bot.db import Database
from bot.db.migrate import ensure_schema
from bot.promo.campaigns.launcher import Launcher

log = logging.getLogger(__name__)


async def serve(
    settings: Settings, stop: asyncio.Event, clock: Clock = utcnow, *,
    reuse_port: bool = False, ready: Callable[[], None] | None = None,
) -> None:
    """Serve the API on `api_host:api_port` until `stop` is set; `ready` is called once
    it listens."""
    async with contextlib.AsyncExitStack() as stack:
        db = await open_database(settings, stack)
        await listen(settings, db, clock, stack, reuse_port=reuse_port)
        calm_garbage_collector()
        if ready is not None:
            ready()
        if not settings.api.keys:
            log.warning("PROMOBOT_API_KEYS is empty: every call except health will get 401")
        if not reuse_port:
            log.info("shop API on http://%s:%s/api/v1", settings.api.host, settings.api.port)
        await stop.wait()


async def listen(
    settings: Settings, db: Database, clock: Clock, stack: contextlib.AsyncExitStack, *,
    reuse_port: bool = False, launcher: Launcher | None = None, cluster: Cluster | None = None,
) -> None:
    """The shop API on `api_host:api_port`, on `db`, until `stack` closes (here, and in
    `promobot run` when the API shares its process, its campaign `launcher` and its
    `cluster`, with the bot)."""
    runner = await start_site(create_app(settings, db, clock, launcher=launcher,
                                         cluster=cluster),
                              settings.api.host,
                              settings.api.port, access_log=settings.api.access_log,
                              reuse_port=reuse_port)
    stack.push_async_callback(runner.cleanup)


async def run(settings: Settings) -> int:
    """The `promobot api` subcommand: 0 on a clean stop, 2 when the schema is not current,
    1 when a worker fails or the port is taken."""

    # The bot's modules stay out of the worker processes, which import this one.
    from bot.app.telegram import ask_username

    async def main(stop: asyncio.Event) -> int:
        named = await ask_username(settings)
        if named.api.workers == 1:
            await serve(named, stop)
            return 0
        await ensure_schema(named.db.url)  # once, before the workers start
        workers = ApiWorkers(named, serve)
        await workers.start()
        return await workers.serve_until(stop)

    return await run_command(main)
