"""Who is writing: the Telegram account and its linked customer, as handler arguments
`who`, `account` and `customer` (None until linked).

The account is read from the read session; it is written only when Telegram reports
something new (first contact, a new username or language), so most updates write nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import Chat, TelegramObject, User
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.promo import accounts


class AccountMiddleware(BaseMiddleware):
    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None or user.is_bot:
            data.update(who=None, account=None, customer=None)
            return await handler(event, data)
        chat: Chat | None = data.get("event_chat")
        who = accounts.Who(
            id=user.id,
            chat_id=chat.id if chat is not None and chat.type == "private" else None,
            username=user.username,
            first_name=user.first_name,
            language_code=user.language_code,
        )
        read: AsyncSession = data["read_session"]
        account, customer = await accounts.load(read, user.id)
        # End the read transaction now: the handler's writes must not be hidden from it.
        await read.close()
        if accounts.needs_touch(account, who):
            session: AsyncSession = data["session"]
            clock: Clock = data["clock"]
            await accounts.touch(session, who, clock())
            account, customer = await accounts.load(session, user.id)
            await session.commit()
        data.update(who=who, account=account, customer=customer)
        return await handler(event, data)
