"""The reader's language: the customer's saved choice, else the account's, else
Telegram's `language_code`, else the shop's default."""

from __future__ import annotations

from typing import Any

from aiogram.types import TelegramObject, User
from aiogram.utils.i18n import I18nMiddleware

from bot.promo.customers.accounts import reading_locale


class LocaleMiddleware(I18nMiddleware):
    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        customer = data.get("customer")
        account = data.get("account")
        user: User | None = data.get("event_from_user")
        return reading_locale(customer, account,
                              user.language_code if user is not None else None,
                              default=self.i18n.default_locale)
