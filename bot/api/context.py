"""What the app carries instead of globals: settings, database, clock, limiter."""

from __future__ import annotations

from aiohttp import web

from bot.clock import Clock
from bot.config import Settings
from bot.db.engine import Database

SETTINGS = web.AppKey("settings", Settings)
DATABASE = web.AppKey("database", Database)
CLOCK = web.AppKey("clock", Clock)
# Set by the auth middleware on the request: the name of the caller's API key.
API_KEY_NAME = web.RequestKey("api_key_name", str)
