"""Manager commands: one router for all staff, with a sub-router per feature.

The parent router's filter (`IsStaff`) makes the whole tree invisible to anyone who is
not staff. Inside, each handler states the role it needs; a staff member without it
reaches `refuse_role` at the end.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.promo.managers import Staff
from handlers.managers.access import IsStaff, bootstrap
from handlers.managers.common import role_name

COMMANDS = ("managers", "issue", "revoke", "bulk", "customer", "campaigns", "campaign",
            "preview", "stats", "export")


async def refuse_role(message: Message, staff: Staff) -> None:
    """A staff member used a command above their role."""
    await message.answer(_("Your role ({role}) does not allow this command.").format(
        role=role_name(staff.role)))


async def refuse_button(callback: CallbackQuery, staff: Staff) -> None:
    await callback.answer(_("Your role ({role}) does not allow this.").format(
        role=role_name(staff.role)), show_alert=True)


def create_router() -> Router:
    from handlers.managers import codes, team

    router = Router(name="managers")
    router.message.filter(F.chat.type == "private", IsStaff())
    router.callback_query.filter(IsStaff())
    router.startup.register(bootstrap)
    router.include_routers(
        team.create_router(),
        codes.create_router(),
    )
    denied = Router(name="managers.denied")
    denied.message.register(refuse_role, Command(*COMMANDS))
    denied.callback_query.register(refuse_button, F.data.startswith("mgr"))
    router.include_router(denied)
    return router
