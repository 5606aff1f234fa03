"""The Mini App's web application: the page under `/webapp/`, its data under
`/webapp/api/`, served on a listener of its own (PROMOBOT_WEBAPP_PORT) so that the shop
API never faces the internet with it."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from bot.api.context import CLOCK, DATABASE, SETTINGS, SHOP_TERMS
from bot.api.errors import errors_middleware
from bot.clock import Clock, utcnow
from bot.config import Settings
from bot.db.engine import Database
from bot.promo.checkout.terms import ShopTerms
from bot.webapp.me import get_me
from bot.webapp.settings import post_settings
from bot.webapp.till import post_check, post_redeem

HERE = Path(__file__).resolve().parent
PAGE, STATIC = HERE / "index.html", HERE / "static"
PREFIX = "/webapp"
# The page runs our script and Telegram's alone; QR codes are data URIs; only Telegram
# may frame it.
_POLICY = ("default-src 'self'; script-src 'self' https://telegram.org; "
           "img-src 'self' data:; style-src 'self'; base-uri 'none'; form-action 'none'; "
           "frame-ancestors https://*.telegram.org https://web.telegram.org")


async def get_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(PAGE, headers={"Content-Security-Policy": _POLICY,
                                           "Cache-Control": "no-cache"})


async def _nosniff(request: web.Request, response: web.StreamResponse) -> None:
    """Every answer is what its Content-Type says, never sniffed into something else."""
    response.headers["X-Content-Type-Options"] = "nosniff"


def create_webapp(settings: Settings, db: Database, clock: Clock = utcnow) -> web.Application:
    app = web.Application(client_max_size=16 * 1024, middlewares=[errors_middleware])
    app.on_response_prepare.append(_nosniff)
    app[SETTINGS] = settings
    app[DATABASE] = db
    app[CLOCK] = clock
    app[SHOP_TERMS] = ShopTerms(settings.guardrail, settings.loyalty)
    app.router.add_get(PREFIX + "/", get_page, name="webapp.page")
    app.router.add_static(PREFIX + "/static", STATIC, name="webapp.static")
    app.router.add_get(PREFIX + "/api/me", get_me, name="webapp.me")
    app.router.add_post(PREFIX + "/api/settings", post_settings, name="webapp.settings")
    app.router.add_post(PREFIX + "/api/till/check", post_check, name="webapp.till.check")
    app.router.add_post(PREFIX + "/api/till/redeem", post_redeem, name="webapp.till.redeem")
    return app
