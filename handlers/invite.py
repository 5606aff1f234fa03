"""`/invite`: the personal referral link and how many friends it brought."""

from __future__ import annotations

from aiogram import F, Router, html
from aiogram.filters import Command
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db.models import Customer
from bot.promo.customers import accounts
from bot.promo.customers.profiles import referral_code_of, referral_link
from handlers.filters import Linked, Magic
from handlers.keyboards import BTN_INVITE, MenuButton


async def show_invite(
    message: Message, session: AsyncSession, customer: Customer, settings: Settings
) -> None:
    """The link is made on first ask; asking twice shows the same link."""
    code = customer.referral_code
    if not code:
        code = await referral_code_of(session, customer.id)
        await session.commit()
    joined, rewarded = await accounts.referral_counts(session, customer.id)
    await session.commit()
    link = html.quote(referral_link(settings.telegram, code))
    await message.answer("\n".join([
        _("🤝 Invite friends with your personal link. When a friend places their first "
          "order, you both get a promo code."),
        "",
        link,
        "",
        _("Friends joined: {joined}").format(joined=joined),
        _("Rewards received: {rewarded}").format(rewarded=rewarded),
    ]))


def create_router() -> Router:
    router = Router(name="invite")
    router.message.filter(Magic(F.chat.type == "private"), Linked())
    router.message.register(show_invite, Command("invite"))
    router.message.register(show_invite, MenuButton(BTN_INVITE))
    return router
