"""The one place that wires the process together: database, Bot, Dispatcher with
`handlers.get_routers()`, the shop API, and background services (scheduler, sender).

`promobot run` calls `run()`; tests build the very same Bot and Dispatcher with
`create_bot()` and `create_dispatcher()`. A background service plugs in with one line in
`SERVICES`: a factory taking the `Runtime` and returning something with `start()`/`stop()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramAPIError, TelegramUnauthorizedError
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.methods import Response
from aiogram.types import BotCommand, BotCommandScopeAllPrivateChats, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.token import TokenValidationError, validate_token
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web
from aiohttp.log import access_logger

from bot.app.process import calm_garbage_collector, stop_on_signals
from bot.app.workers import ApiWorkers, WorkerFailed
from bot.clock import Clock, utcnow
from bot.config import Settings
from bot.db.engine import Database, create_database
from bot.delivery.sender.transport import JsonSession
from bot.i18n import DOMAIN, LOCALES, LOCALES_DIR

log = logging.getLogger(__name__)

# Telegram's rule for `secret_token`: 1-256 characters A-Z, a-z, 0-9, `_` and `-`.
_WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class StartupError(Exception):
    """Configuration that must stop start-up; the message is for the operator."""


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
    services: list[Service] = field(default_factory=list)


# Background services, started after the bot and the API and stopped before them.
def _scheduler(runtime: Runtime) -> Service:
    from scheduler import SchedulerService

    return SchedulerService(runtime.settings, runtime.db, runtime.clock)


def _sender(runtime: Runtime) -> Service:
    from bot.delivery.sender.worker import Sender

    return Sender(runtime.db, runtime.bot, runtime.settings, clock=runtime.clock)


# Started in this order after the bot and the API, stopped in reverse before them.
SERVICES: list[Callable[[Runtime], Service]] = [_scheduler, _sender]


def bot_token(settings: Settings) -> str:
    """The token, checked for shape; a clear StartupError when missing or malformed."""
    if settings.bot_token is None or not settings.bot_token.get_secret_value().strip():
        raise StartupError("PROMOBOT_BOT_TOKEN is not set: get a token from @BotFather")
    token = settings.bot_token.get_secret_value().strip()
    try:
        validate_token(token)
    except TokenValidationError:
        raise StartupError(
            "PROMOBOT_BOT_TOKEN is malformed: expected '<digits>:<secret>' as given by "
            "@BotFather"
        ) from None
    return token


def webhook_secret(settings: Settings) -> str | None:
    """The secret in webhook mode (required), None in polling mode."""
    if not settings.webhook_url:
        return None
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
    if not secret:
        raise StartupError(
            "PROMOBOT_WEBHOOK_URL is set but PROMOBOT_WEBHOOK_SECRET is not: without it "
            "anyone could post fake updates"
        )
    if not _WEBHOOK_SECRET.match(secret):
        raise StartupError(
            "PROMOBOT_WEBHOOK_SECRET must be 1-256 characters of A-Z, a-z, 0-9, '_' and '-'"
        )
    return secret


# aiogram parses every Bot API reply as `Response[method.__returning__]`, a pydantic generic
# class that pydantic caches only weakly: once the garbage collector drops it, the next reply
# rebuilds it (milliseconds, and thousands of objects that wake the collector again). Under
# load that was about one reply in twenty; holding the models of the bot's usual replies
# (send, edit, answer a button) keeps it a dictionary lookup.
_REPLY_MODELS = tuple(Response[returning] for returning in (Message, bool, Message | bool))


def create_bot(settings: Settings) -> Bot:
    """The Bot, speaking HTML by default, to the configured Bot API server."""
    session = JsonSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
    return Bot(
        token=bot_token(settings),
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


def create_i18n() -> I18n:
    return I18n(path=LOCALES_DIR, default_locale="ru", domain=DOMAIN)


def create_storage(settings: Settings) -> BaseStorage:
    """Dialog state (the manager's `/campaign new`): in memory for one process, in Redis
    when several processes share the load behind a webhook."""
    if settings.redis_url:
        from aiogram.fsm.storage.redis import RedisStorage

        return RedisStorage.from_url(settings.redis_url)
    return MemoryStorage()


def create_dispatcher(
    settings: Settings,
    db: Database,
    clock: Clock = utcnow,
    *,
    throttle_rate: float = 2.0,
    throttle_burst: int = 8,
) -> Dispatcher:
    """The Dispatcher with every router and middleware; dependencies as workflow data."""
    from handlers import get_routers
    from handlers.middlewares import (
        AccountCache,
        AccountMiddleware,
        DbSessionMiddleware,
        DedupeMiddleware,
        LocaleMiddleware,
        ThrottlingMiddleware,
    )

    link_secret = ("link:" + (settings.bot_token.get_secret_value()
                              if settings.bot_token else "")).encode()
    dp = Dispatcher(
        storage=create_storage(settings),
        settings=settings,
        db=db,
        clock=clock,
        link_secret=link_secret,
    )
    i18n = create_i18n()
    dp.update.outer_middleware(DedupeMiddleware())
    dp.update.outer_middleware(ThrottlingMiddleware(rate=throttle_rate, burst=throttle_burst))
    accounts = AccountCache()
    dp.update.outer_middleware(AccountMiddleware(accounts))
    dp.update.outer_middleware(LocaleMiddleware(i18n))
    # Inner: once a handler is chosen, with the sessions it takes (see the middleware).
    sessions = DbSessionMiddleware(db.session_factory, db.read_session_factory,
                                   on_commit=accounts.drop)
    for name, observer in dp.observers.items():
        if name != "update":
            observer.middleware(sessions)
    dp.include_routers(*get_routers())
    return dp


def create_webhook_app(
    settings: Settings, bot: Bot, dp: Dispatcher, *, handle_in_background: bool = True
) -> web.Application:
    """aiohttp app receiving Telegram's webhook; requests without the secret get 401."""
    secret = webhook_secret(settings)
    if secret is None:
        raise StartupError("webhook mode needs PROMOBOT_WEBHOOK_URL")
    app = web.Application()
    SimpleRequestHandler(
        dispatcher=dp, bot=bot, secret_token=secret, handle_in_background=handle_in_background
    ).register(app, path=settings.webhook_path)
    setup_application(app, dp, bot=bot)
    return app


async def set_commands(bot: Bot, i18n: I18n) -> None:
    """The command menu in each language (Telegram picks by the user's language); the
    default locale's list for everyone else."""
    from handlers.help import command_descriptions

    scope = BotCommandScopeAllPrivateChats()
    for locale in (*LOCALES, None):
        with i18n.context(), i18n.use_locale(locale or i18n.default_locale):
            commands = [BotCommand(command=name, description=text)
                        for name, text in command_descriptions()]
        await bot.set_my_commands(commands, scope=scope, language_code=locale)


async def _start_site(
    app: web.Application, host: str, port: int, *, access_log: bool
) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=access_logger if access_log else None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


async def serve(settings: Settings, stop: asyncio.Event, clock: Clock = utcnow) -> None:
    """Run bot + shop API + services until `stop` is set, then shut down in reverse."""
    secret = webhook_secret(settings)
    bot = create_bot(settings)
    from bot.api.app import create_app
    from bot.db.migrate import ensure_schema

    await ensure_schema(settings)
    db = create_database(settings.database_url)
    dp = create_dispatcher(settings, db, clock)
    runners: list[web.AppRunner] = []
    polling: asyncio.Task[None] | None = None
    api_workers: ApiWorkers | None = None
    api_watch: asyncio.Future[str | None] | None = None
    runtime = Runtime(settings, db, clock, bot, dp)
    try:
        try:
            me = await bot.get_me()
        except TelegramUnauthorizedError:
            raise StartupError("Telegram rejected PROMOBOT_BOT_TOKEN (401): check it") from None
        if me.username and me.username != settings.bot_username:
            log.warning("bot is @%s but PROMOBOT_BOT_USERNAME says %s: links use the latter",
                        me.username, settings.bot_username)
        await set_commands(bot, create_i18n())
        if settings.api_workers == 1:
            runners.append(await _start_site(create_app(settings, db, clock),
                                             settings.api_host, settings.api_port,
                                             access_log=settings.api_access_log))
            log.info("shop API on http://%s:%s", settings.api_host, settings.api_port)
        else:
            api_workers = ApiWorkers(settings)
            await api_workers.start()
        if secret is not None:
            webhook = create_webhook_app(settings, bot, dp)
            runners.append(await _start_site(webhook, settings.api_host, settings.webhook_port,
                                             access_log=settings.api_access_log))
            await bot.set_webhook(
                settings.webhook_url or "", secret_token=secret,
                allowed_updates=dp.resolve_used_update_types(),
            )
            log.info("webhook mode: %s", settings.webhook_url)
        else:
            await bot.delete_webhook(drop_pending_updates=False)
            polling = asyncio.create_task(dp.start_polling(
                bot, handle_signals=False, close_bot_session=False,
                allowed_updates=dp.resolve_used_update_types(),
            ))
            log.info("long polling as @%s", me.username)
        for factory in SERVICES:
            service = factory(runtime)
            await service.start()
            runtime.services.append(service)
        calm_garbage_collector()
        waiter = asyncio.create_task(stop.wait())
        watched: set[asyncio.Future[object]] = {waiter}
        if polling is not None:
            watched.add(polling)  # type: ignore[arg-type]
        if api_workers is not None:
            api_watch = asyncio.ensure_future(api_workers.ended())
            watched.add(api_watch)  # type: ignore[arg-type]
        await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if api_watch is not None:
            api_watch.cancel()
            if api_watch.done() and not api_watch.cancelled() and not stop.is_set():
                if (problem := api_watch.result()) is not None:
                    raise WorkerFailed(problem)
    finally:
        log.info("shutting down")
        for service in reversed(runtime.services):
            try:
                await service.stop()
            except Exception:
                log.exception("stopping %r failed", service)
        if polling is not None:
            if not polling.done():
                with contextlib.suppress(RuntimeError):
                    await dp.stop_polling()
            with contextlib.suppress(asyncio.CancelledError):
                await polling
        for runner in reversed(runners):
            await runner.cleanup()
        if api_workers is not None:
            await api_workers.stop()
        await bot.session.close()
        await db.dispose()


async def run(settings: Settings) -> int:
    """`promobot run`: serve until SIGINT/SIGTERM; configuration errors exit with 2."""
    stop = stop_on_signals()
    from bot.db.migrate import SchemaNotCurrentError

    try:
        await serve(settings, stop)
    except (StartupError, SchemaNotCurrentError) as error:
        print(f"promobot: {error}", file=sys.stderr)
        return 2
    except WorkerFailed as error:
        print(f"promobot: shop API: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"promobot: cannot listen: {error}", file=sys.stderr)
        return 1
    except TelegramAPIError as error:
        print(f"promobot: Telegram refused at start-up: {error}", file=sys.stderr)
        return 1
    return 0
