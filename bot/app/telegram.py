"""The bot: Bot, Dispatcher with `handlers.get_routers()` and the middlewares, dialog
storage, translations, the command menu and the webhook app.

`promobot run` serves them (`bot.app.run`); tests and benchmarks build the very same Bot
and Dispatcher with `create_bot()` and `create_dispatcher()`. The token and the webhook
secret are checked here, before anything starts: a bad one is a `StartupError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramAPIError, TelegramUnauthorizedError
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.methods import Response
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    MenuButtonWebApp,
    Message,
    User,
    WebAppInfo,
)
from aiogram.utils.i18n import I18n, gettext
from aiogram.utils.token import TokenValidationError, validate_token
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

from bot.app.startup import StartupError, start_site
from bot.clock import Clock, utcnow
from bot.cluster import Cluster
from bot.cluster.updates import seen_updates
from bot.config import Settings
from bot.db import Database
from bot.delivery.sender.transport import JsonSession
from bot.i18n import DOMAIN, LOCALES, LOCALES_DIR
from bot.promo.campaigns.launcher import LAUNCHER, Launcher
from handlers import get_routers
from handlers.commands import set_staff_menus, shopper_commands
from handlers.middlewares import (
    AccountCache,
    AccountMiddleware,
    DbSessionMiddleware,
    DedupeMiddleware,
    LocaleMiddleware,
    ThrottlingMiddleware,
)

log = logging.getLogger(__name__)

# Telegram's rule for `secret_token`: 1-256 characters A-Z, a-z, 0-9, `_` and `-`.
_WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def bot_token(settings: Settings) -> str:
    """The token, checked for shape; a clear StartupError when missing or malformed."""
    if settings.telegram.token is None or not settings.telegram.token.get_secret_value().strip():
        raise StartupError("PROMOBOT_BOT_TOKEN is not set: get a token from @BotFather")
    token = settings.telegram.token.get_secret_value().strip()
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
    if not settings.telegram.webhook_url:
        return None
    given = settings.telegram.webhook_secret
    secret = given.get_secret_value() if given else ""
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
    session = JsonSession(api=TelegramAPIServer.from_base(settings.telegram.api_url))
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
    if settings.redis.url:
        from aiogram.fsm.storage.redis import RedisStorage

        return RedisStorage.from_url(settings.redis.url)
    return MemoryStorage()


def create_dispatcher(
    settings: Settings,
    db: Database,
    clock: Clock = utcnow,
    *,
    throttle_rate: float = 2.0,
    throttle_burst: int = 8,
    launcher: Launcher | None = None,
    cluster: Cluster | None = None,
) -> Dispatcher:
    """The Dispatcher with every router and middleware; dependencies as workflow data.
    Campaigns the managers start run on `launcher` (`promobot run` shares it with the
    shop API), else on one of the dispatcher's own; either way its shutdown ends them.
    Updates already taken are remembered in `cluster`, shared by the deployment's
    processes, else in this process's memory."""
    link_secret = ("link:" + (settings.telegram.token.get_secret_value()
                              if settings.telegram.token else "")).encode()
    dp = Dispatcher(
        storage=create_storage(settings),
        settings=settings,
        db=db,
        clock=clock,
        link_secret=link_secret,
    )
    dp[LAUNCHER] = launcher = launcher or Launcher(db, settings, clock)
    dp.shutdown.register(launcher.close)
    i18n = create_i18n()
    seen = seen_updates(cluster, clock)
    dp.shutdown.register(seen.close)
    dp.update.outer_middleware(DedupeMiddleware(seen))
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
    ).register(app, path=settings.telegram.webhook_path)
    setup_application(app, dp, bot=bot)
    return app


async def set_commands(bot: Bot, i18n: I18n) -> None:
    """The command menu in each language (Telegram picks by the user's language); the
    default locale's list for everyone else."""
    scope = BotCommandScopeAllPrivateChats()
    for locale in (*LOCALES, None):
        with i18n.context(), i18n.use_locale(locale or i18n.default_locale):
            commands = [BotCommand(command=name, description=text)
                        for name, text in shopper_commands()]
        await bot.set_my_commands(commands, scope=scope, language_code=locale)


async def set_cabinet_button(bot: Bot, i18n: I18n, settings: Settings) -> None:
    """The menu button opens the Mini App, when the shop has its address. Unset, the
    button is left as the bot's owner made it in BotFather."""
    if settings.webapp.url is None:
        return
    with i18n.context(), i18n.use_locale(settings.shop.default_locale):
        text = gettext("Cabinet")
    await bot.set_chat_menu_button(
        menu_button=MenuButtonWebApp(text=text, web_app=WebAppInfo(url=settings.webapp.url)))


async def set_menus(bot: Bot, db: Database, settings: Settings) -> None:
    """The shoppers' command menu and the cabinet's button, then each staff member's
    menu."""
    i18n = create_i18n()
    await set_commands(bot, i18n)
    await set_cabinet_button(bot, i18n, settings)
    await set_staff_menus(bot, db, settings, i18n)


async def check_identity(bot: Bot, settings: Settings) -> User:
    """Who the token belongs to: Telegram refusing it stops start-up; a username other
    than PROMOBOT_BOT_USERNAME is only logged (links keep using the setting)."""
    try:
        me = await bot.get_me()
    except TelegramUnauthorizedError:
        raise StartupError("Telegram rejected PROMOBOT_BOT_TOKEN (401): check it") from None
    named = settings.telegram.username
    if named and me.username and me.username.lower() != named.lower():
        log.warning("bot is @%s but PROMOBOT_BOT_USERNAME says %s: links use the latter",
                    me.username, named)
    return me


def adopt_username(settings: Settings, me: User) -> Settings:
    """Links name the bot Telegram says it is, unless PROMOBOT_BOT_USERNAME overrides."""
    if settings.telegram.username or not me.username:
        return settings
    return settings.replace(bot_username=me.username)


async def ask_username(settings: Settings) -> Settings:
    """For the shop API alone (`promobot api`): the bot's name for its t.me links, asked
    of Telegram when PROMOBOT_BOT_USERNAME is unset. Best effort: the API serves without
    Telegram, and says what its links will be missing."""
    if settings.telegram.username or settings.telegram.token is None:
        return settings
    try:
        bot = create_bot(settings)
    except StartupError:
        return settings
    try:
        async with asyncio.timeout(10):
            return adopt_username(settings, await bot.get_me())
    except (TelegramAPIError, TimeoutError) as error:
        log.warning("cannot ask Telegram for the bot's username (%s): link-token URLs "
                    "name @%s; set PROMOBOT_BOT_USERNAME", error,
                    settings.telegram.link_username)
        return settings
    finally:
        await bot.session.close()


async def receive_updates(
    settings: Settings, bot: Bot, dp: Dispatcher, me: User, stack: contextlib.AsyncExitStack
) -> asyncio.Task[None] | None:
    """Updates by webhook when PROMOBOT_WEBHOOK_URL is set (on a port of its own, so that
    the shop API's auth never sees them), else by long polling: then the polling task,
    for the caller to watch. What stops receiving goes on `stack`."""
    secret = webhook_secret(settings)
    if secret is not None:
        runner = await start_site(create_webhook_app(settings, bot, dp), settings.api.host,
                                  settings.telegram.webhook_port,
                                  access_log=settings.api.access_log)
        stack.push_async_callback(runner.cleanup)
        await bot.set_webhook(
            settings.telegram.webhook_url or "", secret_token=secret,
            allowed_updates=dp.resolve_used_update_types(),
        )
        log.info("webhook mode: %s", settings.telegram.webhook_url)
        return None
    await bot.delete_webhook(drop_pending_updates=False)
    polling = asyncio.create_task(dp.start_polling(
        bot, handle_signals=False, close_bot_session=False,
        allowed_updates=dp.resolve_used_update_types(),
    ))
    stack.push_async_callback(_stop_polling, dp, polling)
    log.info("long polling as @%s", me.username)
    return polling


async def _stop_polling(dp: Dispatcher, polling: asyncio.Task[None]) -> None:
    if not polling.done():
        with contextlib.suppress(RuntimeError):
            await dp.stop_polling()
    with contextlib.suppress(asyncio.CancelledError):
        await polling
