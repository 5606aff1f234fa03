"""Brute-force brake on code guessing: failed validations and redeems per minute.

Failures are counted per API key and per customer in fixed 60-second windows. Once
either count reaches `settings.api.failed_validations_per_minute`, validate and
redeem calls in that scope get 429 with `Retry-After` until the window ends —
before any database work. The counters live in this process's memory: right for the
embedded one-process deployment; several API processes each keep their own (the
effective limit is then per process), and a restart forgets them.

aiolimiter was considered: it meters every request (a leaky bucket), whereas this
counts only failures and needs to say how long to wait, so a plain counter fits.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic_core import from_json

from bot.api.context import API_KEY_NAME
from bot.api.errors import error_response

WINDOW_SECONDS = 60.0
_PRUNE_AT = 10_000
# The routes whose failures count and which the limit guards.
GUARDED_ROUTES = frozenset({"codes.validate", "codes.redeem"})


class FailureLimiter:
    def __init__(
        self, limit: int, *, window: float = WINDOW_SECONDS,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit, self.window, self.timer = limit, window, timer
        self._windows: dict[str, tuple[float, int]] = {}

    def retry_after(self, *scopes: str) -> int | None:
        """Seconds to wait if any scope is over the limit, else None."""
        now = self.timer()
        wait = 0.0
        for scope in scopes:
            start, count = self._windows.get(scope, (now, 0))
            if now - start < self.window and count >= self.limit:
                wait = max(wait, start + self.window - now)
        return max(1, math.ceil(wait)) if wait > 0 else None

    def record_failure(self, *scopes: str) -> None:
        now = self.timer()
        if len(self._windows) >= _PRUNE_AT:
            self._windows = {
                k: v for k, v in self._windows.items() if now - v[0] < self.window
            }
        for scope in scopes:
            start, count = self._windows.get(scope, (now, 0))
            if now - start >= self.window:
                start, count = now, 0
            self._windows[scope] = (start, count + 1)


LIMITER = web.AppKey("failure_limiter", FailureLimiter)


def scopes(api_key_name: str, customer_id: object) -> tuple[str, ...]:
    key_scope = f"key:{api_key_name}"
    if isinstance(customer_id, str) and customer_id:
        return key_scope, f"customer:{customer_id[:64]}"
    return (key_scope,)


async def _customer_of(request: web.Request) -> object:
    """The body's `customer_id`, if the body is readable at all (it is parsed properly later)."""
    try:
        data = from_json(await request.read())
    except ValueError:
        return None
    return data.get("customer_id") if isinstance(data, dict) else None


def note_failure(request: web.Request, customer_id: str | None) -> None:
    """A handler reports a failed validation or redeem."""
    request.app[LIMITER].record_failure(*scopes(request[API_KEY_NAME], customer_id))


@web.middleware
async def ratelimit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.match_info.route.name not in GUARDED_ROUTES or API_KEY_NAME not in request:
        return await handler(request)
    customer_id = await _customer_of(request)
    wait = request.app[LIMITER].retry_after(*scopes(request[API_KEY_NAME], customer_id))
    if wait is not None:
        return error_response(
            429, "rate_limited",
            f"too many failed code checks; retry in {wait} s", headers={"Retry-After": str(wait)},
        )
    return await handler(request)
