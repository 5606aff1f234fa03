"""`/tier`: the loyalty level, net spend so far and what is left to the next level."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import Message
from aiogram.utils.i18n import I18n, ngettext
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.db.models import Customer
from bot.i18n import format_money, format_percent
from bot.promo.customers.tiers import ORDERS, Tier, TierStatus, customer_tier
from handlers.filters import Linked, Magic
from handlers.keyboards import BTN_TIER, MenuButton

BAR_WIDTH = 10


def progress_bar(share: float, locale: str) -> str:
    filled = round(max(0.0, min(share, 1.0)) * BAR_WIDTH)
    return "▰" * filled + "▱" * (BAR_WIDTH - filled) + " " + format_percent(
        round(share * 100), locale)


def reward(tier: Tier, locale: str) -> str:
    percent = format_percent(tier.percent, locale)
    if tier.free_shipping:
        return _("Discount on every order: {percent}, plus free shipping").format(
            percent=percent)
    return _("Discount on every order: {percent}").format(percent=percent)


def render_tier(status: TierStatus, settings: Settings, locale: str) -> str:
    def amount(value: int) -> str:
        if status.basis == ORDERS:
            return str(value)
        return format_money(value, settings.shop.currency, locale)

    lines = []
    if status.current is None:
        lines.append(_("⭐ You have no loyalty level yet."))
    else:
        lines.append(_("⭐ Your level: {level} — {reward}").format(
            level=status.current.index, reward=reward(status.current, locale)))
    if status.basis == ORDERS:
        lines.append(_("Orders so far: {count}").format(count=status.value))
    else:
        lines.append(_("Spent so far: {amount}").format(amount=amount(status.value)))
    if status.next is None:
        lines.append(_("You have reached the top level. Thank you for staying with us!"))
    else:
        lines.append(progress_bar(status.progress, locale))
        if status.basis == ORDERS:
            text = ngettext("{left} more order to level {level}: {reward}",
                            "{left} more orders to level {level}: {reward}", status.left)
        else:
            text = _("{left} more to level {level}: {reward}")
        lines.append(text.format(left=amount(status.left), level=status.next.index,
                                 reward=reward(status.next, locale)))
    return "\n".join(lines)


async def show_tier(message: Message, customer: Customer, settings: Settings, i18n: I18n) -> None:
    """Current level and progress, money formatted by Babel for the reader."""
    status = customer_tier(customer, settings.loyalty)
    await message.answer(render_tier(status, settings, i18n.current_locale))


def create_router() -> Router:
    router = Router(name="tier")
    router.message.filter(Magic(F.chat.type == "private"), Linked())
    router.message.register(show_tier, Command("tier"))
    router.message.register(show_tier, MenuButton(BTN_TIER))
    return router
