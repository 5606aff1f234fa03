"""`/tier`: the loyalty level, net spend so far and what is left to the next level."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import Message
from aiogram.utils.i18n import I18n

from bot.config import Settings
from bot.db.models import Customer
from bot.promo.customers.tiers import customer_tier
from bot.texts.tier_card import tier_card
from handlers.filters import Linked, Magic
from handlers.keyboards import BTN_TIER, MenuButton, cabinet_keyboard


async def show_tier(message: Message, customer: Customer, settings: Settings, i18n: I18n) -> None:
    """Current level and progress, money formatted by Babel for the reader."""
    status = customer_tier(customer, settings.loyalty)
    await message.answer(tier_card(status, settings.shop.currency, i18n.current_locale),
                         reply_markup=cabinet_keyboard(settings.webapp.url))


def create_router() -> Router:
    router = Router(name="tier")
    router.message.filter(Magic(F.chat.type == "private"), Linked())
    router.message.register(show_tier, Command("tier"))
    router.message.register(show_tier, MenuButton(BTN_TIER))
    return router
