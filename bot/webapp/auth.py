"""Who opened the Mini App: the launch data Telegram signed, checked as Telegram says.

The page sends `Authorization: tma <initData>` with every data call. The data is
trusted only when its HMAC-SHA256 (keyed by HMAC-SHA256("WebAppData", bot token)) is
right, which aiogram's `safe_parse_webapp_init_data` checks, and when Telegram signed it
no longer ago than PROMOBOT_WEBAPP_AUTH_MAX_AGE: a copied launch link stops working.
Anything else is 401 with no data.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from aiogram.utils.web_app import WebAppInitData, safe_parse_webapp_init_data
from aiohttp import web

from bot.api.context import CLOCK, SETTINGS
from bot.api.errors import ApiError
from bot.i18n import gettext, pick_locale

log = logging.getLogger(__name__)
SCHEME = "tma "
# A clock a little ahead of ours is not a forgery.
_SKEW = timedelta(minutes=5)


def _refused(request: web.Request, why: str) -> ApiError:
    """401 with no data: what to do, in the reader's language (the browser's: we do not
    know who it is); why goes to the log, not to whoever sent it."""
    locale = pick_locale(request.headers.get("Accept-Language", "").split(",")[0],
                         default=request.app[SETTINGS].shop.default_locale)
    log.info("Mini App call refused: %s", why)
    return ApiError(401, "unauthorized", gettext("Open this page from the bot in Telegram.",
                                                 locale), headers={"WWW-Authenticate": "tma"})


def launch_data(request: web.Request) -> WebAppInitData:
    """The signed launch data of the call, or 401."""
    header = request.headers.get("Authorization", "")
    if not header.startswith(SCHEME):
        raise _refused(request, "no launch data")
    settings = request.app[SETTINGS]
    token = settings.telegram.token
    if token is None:  # nothing to check a signature with: nobody is let in
        raise _refused(request, "no bot token configured")
    try:
        data = safe_parse_webapp_init_data(token.get_secret_value(), header[len(SCHEME):])
    except ValueError:
        raise _refused(request, "bad signature") from None
    age = request.app[CLOCK]() - data.auth_date
    if age > timedelta(seconds=settings.webapp.auth_max_age) or age < -_SKEW:
        raise _refused(request, "launch data too old")
    if data.user is None:
        raise _refused(request, "no user")
    return data
