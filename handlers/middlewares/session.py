"""The database sessions a handler takes: `session` for writes (the handler commits) and
`read_session` for reads that may be stale, each opened for that handler only.

An inner middleware: it runs once a handler has been chosen and reads the handler's
parameters, so the updates whose handlers need no session (`/codes`, `/tier`: hot reads)
build none. On SQLite the write session begins IMMEDIATE (a write lock), so reads go to
`read_session`. A handler that committed may have changed its sender's account or
customer: `on_commit(user_id)` tells the account cache to forget them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.dispatcher.event.handler import HandlerObject
from aiogram.types import TelegramObject, User
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

_COMMITTED = "promobot.committed"


@event.listens_for(Session, "after_commit")
def _mark_committed(session: Session) -> None:
    session.info[_COMMITTED] = True


class DbSessionMiddleware(BaseMiddleware):
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        read_session_factory: async_sessionmaker[AsyncSession],
        on_commit: Callable[[int], None] | None = None,
    ) -> None:
        self.factories = {"session": session_factory, "read_session": read_session_factory}
        self.on_commit = on_commit

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        chosen: HandlerObject = data["handler"]
        opened: list[AsyncSession] = []
        for name, factory in self.factories.items():
            if chosen.varkw or name in chosen.params:
                data[name] = factory()
                opened.append(data[name])
        try:
            return await handler(event, data)
        finally:
            committed = False
            for session in opened:
                committed |= session.info.pop(_COMMITTED, False)
                await session.close()
            user: User | None = data.get("event_from_user")
            if committed and user is not None and self.on_commit is not None:
                self.on_commit(user.id)
