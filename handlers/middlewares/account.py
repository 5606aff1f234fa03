"""Who is writing: the Telegram account and its linked customer, as handler arguments
`who`, `account` and `customer` (None until linked).

Every update needs them, so they are kept for a few seconds in an in-process cache
(staleness is harmless: a customer's name or spend shown a few seconds late). A handler
that commits drops its user's entry (`DbSessionMiddleware`'s `on_commit`), so this
process never shows its own writes stale; another instance's writes show within `ttl`.
The account is written only when Telegram reports something new (first contact, a new
username or language).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import Chat, TelegramObject, User

from bot.clock import Clock
from bot.db.engine import Database
from bot.db.models import Customer, TelegramAccount
from bot.promo.customers import accounts


class AccountCache:
    """Telegram user id → (account, customer), detached ORM objects, for `ttl` seconds
    from when they were read."""

    def __init__(
        self, ttl: float = 5.0, size: int = 50_000, timer: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.size = size
        self.timer = timer
        self._items: OrderedDict[int, tuple[float, TelegramAccount, Customer | None]] = (
            OrderedDict()
        )

    def get(self, user_id: int) -> tuple[TelegramAccount, Customer | None] | None:
        item = self._items.get(user_id)
        if item is None or item[0] < self.timer():
            return None
        return item[1], item[2]

    def put(self, user_id: int, account: TelegramAccount, customer: Customer | None) -> None:
        self._items[user_id] = (self.timer() + self.ttl, account, customer)
        self._items.move_to_end(user_id)
        if len(self._items) > self.size:
            self._items.popitem(last=False)

    def drop(self, user_id: int) -> None:
        self._items.pop(user_id, None)


class AccountMiddleware(BaseMiddleware):
    def __init__(self, cache: AccountCache | None = None) -> None:
        self.cache = cache or AccountCache()

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
        db: Database = data["db"]
        cached = self.cache.get(user.id)
        if cached is not None:
            account, customer = cached
        else:
            account, customer = await accounts.lookup(db.hot, user.id)
        if accounts.needs_touch(account, who):
            clock: Clock = data["clock"]
            async with db.session() as session:
                await accounts.touch(session, who, clock())
                account, customer = await accounts.load(session, user.id)
                await session.commit()
            cached = None
        # Only what was just read goes in: refreshing the deadline on every hit would keep
        # a busy shopper's entry, and another instance's writes, away forever.
        if cached is None and account is not None:
            self.cache.put(user.id, account, customer)
        data.update(who=who, account=account, customer=customer)
        return await handler(event, data)
