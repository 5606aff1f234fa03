"""What the app carries instead of globals: settings, database, clock, limiter."""

from __future__ import annotations

from aiohttp import web

from bot.clock import Clock
from bot.config import Settings
from bot.db.engine import Database
from bot.promo.campaigns.launcher import Launcher
from bot.promo.checkout.terms import ShopTerms

SETTINGS = web.AppKey("settings", Settings)
DATABASE = web.AppKey("database", Database)
CLOCK = web.AppKey("clock", Clock)
# Checkout's view of the settings, with the measured average order cached per process.
SHOP_TERMS = web.AppKey("shop_terms", ShopTerms)
# Runs the campaigns a PATCH starts or resumes, in the background.
LAUNCHER = web.AppKey("launcher", Launcher)
# Set by the auth middleware on the request: the name of the caller's API key.
API_KEY_NAME = web.RequestKey("api_key_name", str)
