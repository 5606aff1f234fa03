"""Who reads the cabinet, in which language: their saved choice, else Telegram's."""

from __future__ import annotations

from aiogram.utils.web_app import WebAppUser
from aiohttp import web

from bot.api.context import DATABASE, SETTINGS
from bot.db.models import Customer, TelegramAccount
from bot.promo.customers import accounts


async def reader(
    request: web.Request, user: WebAppUser
) -> tuple[TelegramAccount | None, Customer | None, str]:
    """The user's account, the customer it is linked to, and the language to speak."""
    account, customer = await accounts.lookup(request.app[DATABASE].hot, user.id)
    locale = accounts.reading_locale(customer, account, user.language_code,
                                     default=request.app[SETTINGS].shop.default_locale)
    return account, customer, locale
