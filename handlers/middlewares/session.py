"""One write session and one read session per update; the handler decides when to commit.

Sessions connect lazily, so an update that never touches the database costs nothing.
On SQLite the write session begins IMMEDIATE (a write lock), so reads go to `read_session`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


class DbSessionMiddleware(BaseMiddleware):
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        read_session_factory: async_sessionmaker[AsyncSession],
    ) -> None:
        self.session_factory = session_factory
        self.read_session_factory = read_session_factory

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        async with self.session_factory() as session, self.read_session_factory() as read:
            data["session"] = session
            data["read_session"] = read
            return await handler(event, data)
