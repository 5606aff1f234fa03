"""`promobot run`: the bot (`bot.app.telegram`), the shop API and the background
services (scheduler, sender) in one process, sharing one database.

A background service plugs in with one line in `SERVICES`: a factory taking the `Runtime`
and returning something with `start()`/`stop()`. Each part, once started, puts its own
stopping on one exit stack, so that shutting down goes in the reverse order of start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError

from bot.app.api import listen
from bot.app.api import serve as serve_api
from bot.app.process import calm_garbage_collector
from bot.app.send_turns import SendTurns
from bot.app.startup import (
    Exit,
    host_of,
    open_database,
    run_command,
    start_site,
    unreachable,
)
from bot.app.telegram import (
    adopt_username,
    check_identity,
    create_bot,
    create_dispatcher,
    receive_updates,
    set_menus,
    webhook_secret,
)
from bot.app.workers import ApiWorkers, WorkerFailed
from bot.clock import Clock, utcnow
from bot.cluster import Cluster, open_cluster
from bot.cluster.send_budget import SendBudget, open_budget
from bot.config import Settings
from bot.db import Database
from bot.promo.campaigns.launcher import Launcher
from bot.webapp.app import create_webapp
from scheduler import SchedulerService

log = logging.getLogger(__name__)


class Service(Protocol):
    """A background part of the process (scheduler, sender)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class Runtime:
    """What a background service may need; built once per process."""

    settings: Settings
    db: Database
    clock: Clock
    bot: Bot
    dispatcher: Dispatcher
    # Runs the campaigns that managers and the shop API start (both share this one).
    launcher: Launcher
    # What this deployment's processes share, and the one send budget taken from it.
    cluster: Cluster
    budget: SendBudget
    services: list[Service] = field(default_factory=list)


# Background services, started after the bot and the API and stopped before them.
def _scheduler(runtime: Runtime) -> Service:
    return SchedulerService(runtime.settings, runtime.db, runtime.clock)


def _sender(runtime: Runtime) -> Service:
    from bot.delivery.sender import Sender
    from bot.texts.shop_messages import ShopMessages
    from bot.texts.surveys import survey_poll

    shop = ShopMessages.of(runtime.settings.shop)
    sender = Sender(runtime.db, runtime.bot, runtime.settings, render=shop.render,
                    buttons=shop.buttons, polls=survey_poll, clock=runtime.clock,
                    budget=runtime.budget)
    # A started campaign's messages go out now rather than at the next poll.
    runtime.launcher.after_run.append(lambda _result: sender.wake())
    return sender


# Started in this order after the bot and the API, stopped in reverse before them.
SERVICES: list[Callable[[Runtime], Service]] = [_scheduler, _sender]


async def serve(settings: Settings, stop: asyncio.Event, clock: Clock = utcnow) -> None:
    """Run bot + shop API + services until `stop` is set, then shut down in reverse."""
    webhook_secret(settings)  # a bad secret stops start-up before anything starts
    bot = create_bot(settings)
    async with contextlib.AsyncExitStack() as stack:
        db = await open_database(settings, stack)
        stack.push_async_callback(bot.session.close)
        cluster = open_cluster(settings, db)
        stack.push_async_callback(cluster.close)
        budget = open_budget(cluster, settings.send.delivery_rate)
        stack.push_async_callback(budget.close)
        bot.session.middleware(SendTurns(budget))
        try:
            me = await check_identity(bot, settings)
            settings = adopt_username(settings, me)
            launcher = Launcher(db, settings, clock)
            stack.push_async_callback(launcher.close)
            dp = create_dispatcher(settings, db, clock, launcher=launcher, cluster=cluster)
            runtime = Runtime(settings, db, clock, bot, dp, launcher, cluster, budget)
            await set_menus(bot, db, settings)
            api_workers = await _start_api(runtime, stack)
            await _start_webapp(runtime, stack)
            polling = await receive_updates(settings, bot, dp, me, stack)
            for factory in SERVICES:
                service = factory(runtime)
                await service.start()
                runtime.services.append(service)
                stack.push_async_callback(_stop_service, service)
            await launcher.resume_interrupted()
            calm_garbage_collector()
            await _wait(stop, polling, api_workers)
        finally:
            log.info("shutting down")


async def _start_api(runtime: Runtime, stack: contextlib.AsyncExitStack) -> ApiWorkers | None:
    """The shop API in this process, on its database; or, with PROMOBOT_API_WORKERS > 1,
    in worker processes: those are returned, to be watched."""
    settings = runtime.settings
    if settings.api.workers == 1:
        await listen(settings, runtime.db, runtime.clock, stack, launcher=runtime.launcher,
                     cluster=runtime.cluster)
        log.info("shop API on http://%s:%s", settings.api.host, settings.api.port)
        return None
    api_workers = ApiWorkers(settings, serve_api)
    stack.push_async_callback(api_workers.stop)
    await api_workers.start()
    return api_workers


async def _start_webapp(runtime: Runtime, stack: contextlib.AsyncExitStack) -> None:
    """The Mini App on a listener of its own (`bot.webapp`)."""
    settings = runtime.settings
    runner = await start_site(create_webapp(settings, runtime.db, runtime.clock),
                              settings.api.host, settings.webapp.port,
                              access_log=settings.api.access_log)
    stack.push_async_callback(runner.cleanup)
    log.info("Mini App on http://%s:%s/webapp/", settings.api.host, settings.webapp.port)


async def _stop_service(service: Service) -> None:
    """A service that fails to stop is logged: the rest of the process still stops."""
    try:
        await service.stop()
    except Exception:
        log.exception("stopping %r failed", service)


async def _wait(
    stop: asyncio.Event, polling: asyncio.Task[None] | None, api_workers: ApiWorkers | None
) -> None:
    """Until `stop` is set, polling ends, or an API worker exits; a worker's failure
    (not a signal's stop) is raised as `WorkerFailed`."""
    waiter = asyncio.create_task(stop.wait())
    watched: set[asyncio.Future[Any]] = {waiter}
    api_watch: asyncio.Future[str | None] | None = None
    if polling is not None:
        watched.add(polling)
    if api_workers is not None:
        api_watch = asyncio.ensure_future(api_workers.ended())
        watched.add(api_watch)
    await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if api_watch is not None:
        api_watch.cancel()
        if api_watch.done() and not api_watch.cancelled() and not stop.is_set():
            if (problem := api_watch.result()) is not None:
                raise WorkerFailed(problem)


# Besides the exits every command shares (`bot.app.startup.EXITS`).
_EXITS: tuple[Exit, ...] = ((TelegramAPIError, 1, "Telegram refused at start-up: {error}"),)


async def run(settings: Settings) -> int:
    """`promobot run`: serve until SIGINT/SIGTERM; configuration errors exit with 2."""
    # Before `_EXITS`: a network failure is a TelegramAPIError too, but no refusal.
    offline: Exit = (TelegramNetworkError, 1, lambda error: unreachable(
        "Telegram", host_of(settings.telegram.api_url), error))
    return await run_command(lambda stop: serve(settings, stop), exits=(offline, *_EXITS))
