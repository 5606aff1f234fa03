"""`my_chat_member`: the shopper blocked or unblocked the bot; the sender skips the blocked."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import KICKED, MEMBER, ChatMemberUpdatedFilter
from aiogram.types import ChatMemberUpdated
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.promo.customers import accounts
from bot.promo.customers.accounts import Who
from handlers.filters import Magic


async def blocked(event: ChatMemberUpdated, session: AsyncSession, who: Who, clock: Clock) -> None:
    """The user blocked the bot."""
    await accounts.set_blocked(session, who, True, clock())
    await session.commit()


async def unblocked(
    event: ChatMemberUpdated, session: AsyncSession, who: Who, clock: Clock
) -> None:
    """The user unblocked the bot (or started it again)."""
    await accounts.set_blocked(session, who, False, clock())
    await session.commit()


def create_router() -> Router:
    router = Router(name="chat_member")
    router.my_chat_member.filter(Magic(F.chat.type == "private"))
    router.my_chat_member.register(blocked, ChatMemberUpdatedFilter(member_status_changed=KICKED))
    router.my_chat_member.register(unblocked, ChatMemberUpdatedFilter(member_status_changed=MEMBER))
    return router
