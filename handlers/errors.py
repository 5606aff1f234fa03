"""Errors: logged once with the update, and the user hears that something went wrong.

Error handlers run outside the locale middleware, so the text is translated explicitly.
"""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import ErrorEvent

from bot.i18n import gettext, pick_locale

log = logging.getLogger(__name__)


async def telegram_error(event: ErrorEvent) -> None:
    """Telegram refused a reply (blocked, message gone...): nothing to tell the user."""
    log.warning("Telegram refused while handling update %s: %s",
                event.update.update_id, event.exception)


async def unexpected_error(event: ErrorEvent) -> None:
    """A bug: log it with the update and apologise."""
    log.exception("error handling update %s", event.update.update_id,
                  exc_info=event.exception)
    message = event.update.message or (
        event.update.callback_query.message if event.update.callback_query else None
    )
    user = event.update.event.from_user if hasattr(event.update.event, "from_user") else None
    if message is None or message.chat.type != "private":
        return
    locale = pick_locale(user.language_code if user else None)
    try:
        await message.bot.send_message(  # type: ignore[union-attr]
            message.chat.id,
            gettext("Sorry, something went wrong. Please try again a bit later.", locale),
        )
    except TelegramAPIError:
        log.warning("could not apologise to chat %s", message.chat.id)


def create_router() -> Router:
    router = Router(name="errors")
    router.errors.register(telegram_error, ExceptionTypeFilter(TelegramAPIError))
    router.errors.register(unexpected_error)
    return router
