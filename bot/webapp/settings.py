"""`POST /webapp/api/settings`: the shopper's choices from the cabinet, as `/settings`
makes them in the chat: the language (before linking too: it is kept on the Telegram
account), promotional messages on or off, the time zone for reminders."""

from __future__ import annotations

from typing import Annotated, Literal

from aiohttp import web
from pydantic import Field

from bot.api.body import parse
from bot.api.context import CLOCK, DATABASE
from bot.api.errors import ApiError
from bot.api.schemas import Body
from bot.i18n import gettext
from bot.promo.customers import accounts
from bot.promo.customers.accounts import Who
from bot.webapp.auth import launch_data
from bot.webapp.reader import reader


class SettingsIn(Body):
    locale: Literal["ru", "en"] | None = None
    promotions: bool | None = None
    timezone: Annotated[str, Field(min_length=1, max_length=64)] | None = None


async def post_settings(request: web.Request) -> web.Response:
    user = launch_data(request).user
    assert user is not None
    body = await parse(request, SettingsIn)
    account, customer, locale = await reader(request, user)
    if customer is None and (body.promotions is not None or body.timezone is not None):
        raise ApiError(409, "not_linked", gettext("Link your shop account first.", locale))
    zone = None
    if body.timezone is not None and (zone := accounts.valid_zone(body.timezone)) is None:
        raise ApiError(422, "invalid_body", gettext(
            "I don't know this time zone. Examples: Europe/Moscow, Asia/Almaty, "
            "America/New_York.", locale), fields=["timezone"])
    now = request.app[CLOCK]()
    async with request.app[DATABASE].session() as session:
        if account is None:  # opened the cabinet before ever writing to the bot
            await accounts.touch(session, Who(user.id, None, user.username, user.first_name,
                                              user.language_code), now)
        if body.locale is not None:
            await accounts.set_locale(session, user.id, customer.id if customer else None,
                                      body.locale, now)
        if customer is not None and body.promotions is not None:
            await accounts.set_marketing(session, customer.id, body.promotions, now)
        if customer is not None and zone is not None:
            await accounts.set_timezone(session, customer.id, zone, now)
        await session.commit()
    return web.json_response({"saved": True})
