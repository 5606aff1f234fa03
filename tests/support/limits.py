"""The fake Bot API with what the sender's tests need on top of `tests.support.fake_bot_api`:
which requests failed, per-chat latency (timeouts), and Telegram's limits enforced.

With `enforce=True` a send over the limits (more than `overall` messages in any second,
or a second message to one chat within a second) is answered 429 like Telegram would and
counted in `violations`, so a benchmark can prove it stayed within them.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from dataclasses import dataclass, field

from aiohttp import web

from tests.support.fake_bot_api import SEND_METHODS, Failure, FakeBotAPI, Request


@dataclass
class LimitedBotAPI(FakeBotAPI):
    enforce: bool = False
    overall: int = 30
    per_chat: float = 1.0
    chat_latency: dict[int, float] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.failed: set[int] = set()  # id() of requests answered with an error
        self._window: deque[float] = deque()
        self._last_by_chat: dict[int | None, float] = {}

    def delivered(self) -> Counter[int | None]:
        """Successful sends per chat."""
        return Counter(
            r.chat_id for r in self.requests
            if r.method in SEND_METHODS and id(r) not in self.failed
        )

    def send_times(self) -> list[float]:
        return sorted(r.at for r in self.requests
                      if r.method in SEND_METHODS and id(r) not in self.failed)

    def _over_limits(self, record: Request) -> str | None:
        now = record.at
        while self._window and now - self._window[0] >= 1.0:
            self._window.popleft()
        last = self._last_by_chat.get(record.chat_id)
        if last is not None and now - last < 1.0 / self.per_chat:
            return f"chat {record.chat_id}: two sends {now - last:.3f} s apart"
        if len(self._window) >= self.overall:
            return f"{len(self._window) + 1} sends within 1 s"
        self._window.append(now)
        self._last_by_chat[record.chat_id] = now
        return None

    def _failure_for(self, record: Request) -> Failure | None:
        failure = super()._failure_for(record)
        if failure is None and self.enforce and record.method in SEND_METHODS:
            problem = self._over_limits(record)
            if problem is not None:
                self.violations.append(problem)
                failure = Failure(record.method, 429, "Too Many Requests: retry after 1", 1)
        if failure is not None:
            self.failed.add(id(record))
        return failure

    async def _handle(self, request: web.Request) -> web.Response:
        delay = 0.0
        if self.chat_latency:
            params = await self._params(request)
            try:
                delay = self.chat_latency.pop(int(params.get("chat_id")), 0.0)
            except (TypeError, ValueError):
                delay = 0.0
        if delay:
            await asyncio.sleep(delay)
        return await super()._handle(request)
