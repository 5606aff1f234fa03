"""One write session and one read session per update; the handler decides when to commit.

Sessions connect lazily and are closed only if used, so an update that never touches
the database costs next to nothing.
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
        session, read = self.session_factory(), self.read_session_factory()
        data["session"] = session
        data["read_session"] = read
        try:
            return await handler(event, data)
        finally:
            for used in (session, read):
                # Closing costs a greenlet round trip even for a session that never
                # connected, and most updates (cached account, hot reads) never do.
                if used.in_transaction() or used.sync_session.identity_map:
                    await used.close()
