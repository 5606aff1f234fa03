"""Outbound pacing for Telegram: a global rate and at most one message per chat per second.

Why not a token bucket (aiolimiter): a bucket of 30 lets 30 go at once and then 30 more
as it refills, i.e. up to ~60 within one second — the burst Telegram answers with 429.
Telegram counts messages per sliding second, so the pacer spaces sends evenly: one slot
every `(1 + margin) / rate` seconds. Any one-second window then holds at most `rate`
slots, and the margin absorbs the jitter between our slot and the server's arrival time
(a send delayed by more than the margin, relative to the one `rate` places later, lands
in a window that is already full). A sliding log of the last second's sends is a second
guard, for the case where the event loop stalls and releases several late slots together.

The margin: 2.5 % up to 100 messages/s (25 ms of jitter tolerated; 97.6 % of the rate
kept), 5 % above — at a paid broadcast's 1000/s the event loop's own stalls (claims,
recording, the garbage collector) are long enough to need 50 ms.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

Sleep = Callable[[float], Awaitable[None]]
Monotonic = Callable[[], float]

DEFAULT_MARGIN = 0.025
HIGH_RATE = 100.0
HIGH_RATE_MARGIN = 0.05


def margin_for(rate: float) -> float:
    return HIGH_RATE_MARGIN if rate > HIGH_RATE else DEFAULT_MARGIN


class Pacer:
    """At most `rate` acquisitions in any window of one second, evenly spaced."""

    def __init__(
        self,
        rate: float,
        *,
        margin: float | None = None,
        monotonic: Monotonic = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        margin = margin_for(rate) if margin is None else margin
        self.interval = (1 + margin) / rate
        self._limit = max(1, int(rate))
        self._window = 1.0 + margin
        self._monotonic = monotonic
        self._sleep = sleep
        self._next = 0.0
        self._log: deque[float] = deque()

    def hold(self, until: float) -> None:
        """No slot before `until` (a 429 asked us to wait)."""
        self._next = max(self._next, until)

    async def acquire(self) -> None:
        now = self._monotonic()
        slot = max(now, self._next)
        self._next = slot + self.interval
        if slot > now:
            await self._sleep(slot - now)
        # The guard: a stalled loop may wake several slots at once.
        while True:
            now = self._monotonic()
            while self._log and now - self._log[0] >= self._window:
                self._log.popleft()
            if len(self._log) < self._limit:
                self._log.append(now)
                return
            await self._sleep(self._log[0] + self._window - now)


class ChatSpacing:
    """At most one message per chat per `interval` seconds, counted from the actual sends.

    Use: `await wait(chat)`, then the global pacer, then `take(chat)` — which fails (and
    the caller waits again) only if another send to the same chat slipped in meanwhile.
    """

    def __init__(
        self,
        interval: float = 1.0 + DEFAULT_MARGIN,
        *,
        monotonic: Monotonic = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.interval = interval
        self._monotonic = monotonic
        self._sleep = sleep
        self._last: dict[int, float] = {}

    def _delay(self, chat_id: int) -> float:
        last = self._last.get(chat_id)
        return 0.0 if last is None else last + self.interval - self._monotonic()

    async def wait(self, chat_id: int) -> None:
        while (delay := self._delay(chat_id)) > 0:
            await self._sleep(delay)

    def take(self, chat_id: int) -> bool:
        """Record a send to `chat_id` now, if the chat is free; no await in between."""
        if self._delay(chat_id) > 0:
            return False
        now = self._monotonic()
        if len(self._last) > 4096:
            self._last = {c: at for c, at in self._last.items() if now - at < self.interval}
        self._last[chat_id] = now
        return True
