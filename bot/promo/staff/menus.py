"""Who gets the staff command menu, and in which language.

Telegram shows a chat the most specific command list it has, so each staff member's chat
gets a list of its own (their role's commands, in their language), set at start-up and
again whenever `/managers` changes someone's role.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import TelegramSettings
from bot.db.models import Customer, Role, TelegramAccount
from bot.i18n import pick_locale
from bot.promo.staff.managers import list_staff


@dataclass(frozen=True, slots=True)
class MenuReader:
    telegram_id: int
    role: Role
    locale: str


async def reader_locale(session: AsyncSession, telegram_id: int, default: str) -> str:
    """The language a staff member reads the bot in, as the locale middleware picks it:
    the linked customer's choice, the account's, Telegram's, else the shop's."""
    row = (await session.execute(
        select(Customer.locale, TelegramAccount.locale, TelegramAccount.language_code)
        .select_from(TelegramAccount)
        .outerjoin(Customer, Customer.id == TelegramAccount.customer_id)
        .where(TelegramAccount.id == telegram_id)
    )).first()
    return pick_locale(*(row or ()), default=default)


async def menu_readers(
    session: AsyncSession, telegram: TelegramSettings, default_locale: str
) -> list[MenuReader]:
    """Every staff member (configured owners included) with their role and language."""
    return [MenuReader(row.telegram_id, Role(row.role),
                       await reader_locale(session, row.telegram_id, default_locale))
            for row in await list_staff(session, telegram)]
