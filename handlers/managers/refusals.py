"""Domain refusals in the manager commands, answered in one place.

A manager handler lets its `DomainError` out. aiogram catches it at the dispatcher and
offers it to the error observers of the whole router tree, parents before children,
whichever router raised it; so these handlers, registered on the managers router, reach
every manager handler. `IsStaff` keeps them from answering anyone else: a shopper's error
goes on to `handlers.errors`. By the time they run the handler's sessions are closed,
so whatever it wrote is rolled back.

Where the words go: a command's refusal is a message in the chat; so is one at the end
of the `/campaign new` dialog, whose button press was answered when pressed. Any other
button (a campaign card's) is refused with an alert, and the card stays as it was.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, F, Router
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import CallbackQuery, ErrorEvent, Message, TelegramObject
from aiogram.utils.i18n import I18n, I18nMiddleware

from bot.config import Settings
from bot.promo.errors import DomainError, ErrorCode
from handlers.filters import Magic
from handlers.managers.access import IsStaff
from handlers.managers.campaign_new import NewCampaign
from handlers.managers.common import error_text, usage_text, usages


class ReaderLocale(BaseMiddleware):
    """Error handlers run after the locale middleware has exited (aiogram catches a
    handler's exception outermost); this enters the reader's language again, through that
    same middleware, which the update's data still holds."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        locale: I18nMiddleware | None = data.get("i18n_middleware")
        if locale is None:  # the error came before the language was chosen
            return await handler(event, data)
        return await locale(handler, event, data)


def _text(event: ErrorEvent, settings: Settings, i18n: I18n) -> str:
    assert isinstance(event.exception, DomainError)  # the handlers' filter
    return error_text(event.exception, settings, i18n)


# Refusals about what the arguments named (nothing by that id, a count out of range):
# the command's usage and example follow, as they do for malformed arguments.
ABOUT_ARGUMENTS = frozenset({
    ErrorCode.UNKNOWN_CAMPAIGN, ErrorCode.UNKNOWN_CODE, ErrorCode.UNKNOWN_CUSTOMER,
    ErrorCode.INVALID_COUNT, ErrorCode.NOT_STAFF,
})


def _command(message: Message) -> str | None:
    """`/campaign budget 3 …` → "campaign budget", `/bulk@shop_bot 3 5` → "bulk"."""
    words = (message.text or "").split()
    if not words or not words[0].startswith("/"):
        return None
    name = words[0][1:].split("@", 1)[0].lower()
    two = f"{name} {words[1].lower()}" if len(words) > 1 else name
    known = usages()
    return two if two in known else name if name in known else None


async def refuse_in_chat(
    event: ErrorEvent, message: Message, settings: Settings, i18n: I18n
) -> None:
    text = _text(event, settings, i18n)
    command = _command(message)
    if command is not None and event.exception.code in ABOUT_ARGUMENTS:  # type: ignore[union-attr]
        text = f"{text}\n{usage_text(command)}"
    await message.answer(text)


async def refuse_with_alert(
    event: ErrorEvent, callback: CallbackQuery, settings: Settings, i18n: I18n
) -> None:
    await callback.answer(_text(event, settings, i18n), show_alert=True)


def register(router: Router) -> None:
    """On the managers router: the refusals of every handler beneath it."""
    dialog = f"{NewCampaign.__prefix__}{NewCampaign.__separator__}"
    refused = ExceptionTypeFilter(DomainError)
    router.errors.outer_middleware(ReaderLocale())
    router.errors.register(refuse_in_chat, refused, Magic(F.update.message.as_("message")),
                           IsStaff())
    router.errors.register(
        refuse_in_chat, refused, Magic(F.update.callback_query.data.startswith(dialog)),
        Magic(F.update.callback_query.message.as_("message")), IsStaff())
    router.errors.register(refuse_with_alert, refused,
                           Magic(F.update.callback_query.as_("callback")), IsStaff())
