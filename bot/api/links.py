"""`POST /link-tokens`: a one-time t.me link that ties Telegram to the shop account."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from bot.api.body import parse, reply
from bot.api.context import CLOCK, DATABASE, SETTINGS
from bot.api.lookups import customer_or_404
from bot.api.schemas import LinkTokenIn, LinkTokenOut
from bot.promo.customers.linking import create_link_token, link_url


async def post_link_token(request: web.Request) -> web.Response:
    body = await parse(request, LinkTokenIn)
    settings = request.app[SETTINGS]
    async with request.app[DATABASE].session() as session:
        customer = await customer_or_404(session, body.customer_id)
        token, expires_at = await create_link_token(
            session, customer, ttl=timedelta(minutes=settings.shop.link_token_ttl_minutes),
            now=request.app[CLOCK](),
        )
        await session.commit()
    out = LinkTokenOut(token=token, url=link_url(settings.telegram.link_username, token),
                       expires_at=expires_at)
    return reply(out, 201)
