"""`/help`, and the fallback: any message no other router took gets a hint, not silence;
a staff button tapped by someone else, a refusal.

This router must be the last one included.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.db.models import Customer
from bot.promo.staff.managers import Staff
from handlers.commands import shopper_commands, staff_help
from handlers.filters import Magic
from handlers.keyboards import (
    BTN_CODES,
    BTN_HELP,
    BTN_INVITE,
    BTN_TIER,
    MenuButton,
    keyboard_for,
)
from handlers.managers.access import IsStaff
from handlers.start import how_to_link


def help_text() -> str:
    lines = [_("I keep your personal promo codes and your loyalty level."), ""]
    lines += [f"/{name} — {text}" for name, text in shopper_commands()]
    lines.append("/myid — " + _("your Telegram id (the shop's staff are added by it)"))
    return "\n".join(lines)


async def show_help(message: Message, customer: Customer | None) -> None:
    """What the bot can do; for an unlinked user, how to link as well."""
    text = help_text()
    if customer is None:
        text += "\n\n" + how_to_link()
    await message.answer(text, reply_markup=keyboard_for(customer))


async def show_staff_help(message: Message, customer: Customer | None, staff: Staff) -> None:
    """Staff read the shopper commands, then those of their role, each with an example."""
    await message.answer(help_text() + "\n\n" + staff_help(staff.role),
                         reply_markup=keyboard_for(customer))


async def show_id(message: Message) -> None:
    """`/myid`: anyone's Telegram id, which an owner puts in PROMOBOT_OWNER_IDS (their own)
    or gives to `/managers add` (a colleague's)."""
    user = message.from_user
    assert user is not None  # a private chat's message has a sender
    await message.answer("\n".join([
        _("Your Telegram id: <code>{id}</code>").format(id=user.id),
        _("The shop's owner puts it in PROMOBOT_OWNER_IDS to become the bot's owner, or "
          "adds a colleague with /managers add {id} manager.").format(id=user.id),
    ]))


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


async def refuse_outsider(callback: CallbackQuery) -> None:
    """A staff button (a leak alert's "Revoke") tapped by someone who is not staff (any
    more): an answer, not a spinner that never stops."""
    await callback.answer(_("This button is for the shop's staff."), show_alert=True)


def create_router() -> Router:
    router = Router(name="help")
    router.message.filter(Magic(F.chat.type == "private"))
    router.message.register(show_staff_help, Command("help"), IsStaff())
    router.message.register(show_staff_help, MenuButton(BTN_HELP), IsStaff())
    router.message.register(show_help, Command("help"))
    router.message.register(show_help, MenuButton(BTN_HELP))
    router.message.register(show_id, Command("myid"))
    router.message.register(not_linked, Command("codes", "tier", "invite"))
    router.message.register(not_linked, MenuButton(BTN_CODES, BTN_TIER, BTN_INVITE))
    router.message.register(fallback)
    router.callback_query.register(refuse_outsider, Magic(F.data.startswith("mgr")))
    return router
