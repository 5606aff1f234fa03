"""`GET /health`: liveness, no key needed."""

from __future__ import annotations

from aiohttp import web

from bot.api.body import reply
from bot.api.schemas import HealthOut


async def get_health(request: web.Request) -> web.Response:
    return reply(HealthOut(status="ok"))
