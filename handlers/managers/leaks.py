"""The leak alert's "Revoke" button (`bot.promo.codes.leaks`): managers and owners only.

The tap revokes the code as `/revoke` does and edits the alert: the button goes, a line
says the code is revoked, so every manager who looks at that chat sees it was done. A
second tap (or a tap on another manager's copy of the alert) is told the code is revoked
already, and its button goes too. Analysts reach `refuse_button`; anyone else, the
fallback's `refuse_outsider` (`handlers.help`).
"""

from __future__ import annotations

from aiogram import Router, html
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.db.models import Role
from bot.promo.codes import leaks
from bot.promo.staff.managers import Staff
from handlers.managers.access import Allowed


class LeakButton(CallbackData, prefix=leaks.BUTTON_PREFIX):
    """`mgrleak:<code id>`, as `bot.texts.leaks.alert_buttons` writes it."""

    code_id: int


async def revoke_leaked(
    callback: CallbackQuery,
    callback_data: LeakButton,
    session: AsyncSession,
    staff: Staff,
    clock: Clock,
) -> None:
    """Revoke the alert's code; say so on the alert and in the tap's answer."""
    done = await leaks.revoke_leaked(session, staff, callback_data.code_id, now=clock())
    await session.commit()
    code = html.code(html.quote(done.code.code))
    if done.by_this_tap:
        note = _("✅ Code {code} is revoked: the checkout refuses it from now on.")
        await callback.answer(_("The code is revoked."))
    else:
        note = _("Code {code} was revoked already.")
        await callback.answer(_("This code is revoked already."), show_alert=True)
    if isinstance(callback.message, Message):
        await callback.message.edit_text(
            f"{callback.message.html_text}\n\n{note.format(code=code)}", reply_markup=None)


def create_router() -> Router:
    router = Router(name="managers.leaks")
    router.callback_query.register(revoke_leaked, LeakButton.filter(), Allowed(Role.MANAGER))
    return router
