"""`/customer <who>`: one customer as the staff see them (every role).

Parse → the domain (`bot.promo.customers.card`) → render (`bot.texts.customer_card`).
"""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.promo.customers import card as customer_card
from bot.promo.customers.profiles import find_customer
from bot.texts.customer_card import render_card
from handlers.managers.common import answer_usage, args_of


async def show_customer(
    message: Message,
    command: CommandObject,
    read_session: AsyncSession,
    settings: Settings,
    clock: Clock,
    i18n: I18n,
) -> None:
    """Tier, spend, orders, segments, codes, recent messages, frequency caps."""
    args = args_of(command.args)
    if len(args) != 1:
        await answer_usage(message, "customer")
        return
    customer = await find_customer(read_session, args[0])
    if customer is None:
        await answer_usage(message, "customer", _("No customer matches {who}.").format(
            who=args[0]))
        return
    now = clock()
    seen = await customer_card.card(read_session, customer, settings=settings, now=now)
    await message.answer(render_card(seen, now=now, locale=i18n.current_locale,
                                     tz=settings.shop.zone, currency=settings.shop.currency))


def create_router() -> Router:
    router = Router(name="managers.customers")
    router.message.register(show_customer, Command("customer"))
    return router
