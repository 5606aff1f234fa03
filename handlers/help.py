"""`/help`, and the fallback: any message no other router took gets a hint, not silence.

This router must be the last one included.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from bot.db.models import Customer
from handlers.filters import Magic
from handlers.keyboards import (
    BTN_CODES,
    BTN_HELP,
    BTN_INVITE,
    BTN_TIER,
    MenuButton,
    keyboard_for,
)
from handlers.start import how_to_link


def command_descriptions() -> list[tuple[str, str]]:
    """Shopper commands for /help and for Telegram's command menu (set at start-up)."""
    return [
        ("codes", _("your active promo codes")),
        ("tier", _("your loyalty level and progress")),
        ("invite", _("your invitation link for friends")),
        ("settings", _("language, promotional messages, time zone")),
        ("lang", _("change the language")),
        ("help", _("what I can do")),
    ]


def help_text() -> str:
    lines = [_("I keep your personal promo codes and your loyalty level."), ""]
    lines += [f"/{name} — {text}" for name, text in command_descriptions()]
    return "\n".join(lines)


async def show_help(message: Message, customer: Customer | None) -> None:
    """What the bot can do; for an unlinked user, how to link as well."""
    text = help_text()
    if customer is None:
        text += "\n\n" + how_to_link()
    await message.answer(text, reply_markup=keyboard_for(customer))


async def not_linked(message: Message, customer: Customer | None) -> None:
    """Shopper commands reach here only when the user is not linked yet."""
    await message.answer(
        _("Your Telegram is not linked to a shop account yet.") + "\n\n" + how_to_link(),
        reply_markup=keyboard_for(customer),
    )


async def fallback(message: Message, customer: Customer | None) -> None:
    """Anything else: a hint towards the menu."""
    await message.answer(
        _("I did not understand that. Use the menu buttons below or /help."),
        reply_markup=keyboard_for(customer),
    )


def create_router() -> Router:
    router = Router(name="help")
    router.message.filter(Magic(F.chat.type == "private"))
    router.message.register(show_help, Command("help"))
    router.message.register(show_help, MenuButton(BTN_HELP))
    router.message.register(not_linked, Command("codes", "tier", "invite"))
    router.message.register(not_linked, MenuButton(BTN_CODES, BTN_TIER, BTN_INVITE))
    router.message.register(fallback)
    return router
