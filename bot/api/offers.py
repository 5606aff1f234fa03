"""`GET /customers/{customer_id}/offers`: what the shop's account page shows."""

from __future__ import annotations

from aiohttp import web

from bot.api.body import path_id, reply
from bot.api.codes import code_out
from bot.api.context import CLOCK, DATABASE, SETTINGS
from bot.api.lookups import customer_or_404, locale_for, zone_for
from bot.api.schemas import OffersOut, ProgressOut, TierOut
from bot.promo.codes.wallet import active_codes
from bot.promo.customers.tiers import customer_tier


async def get_offers(request: web.Request) -> web.Response:
    external_id = path_id(request, "customer_id")
    async with request.app[DATABASE].read_session() as session:
        customer = await customer_or_404(session, external_id)
        codes = await active_codes(session, customer.id, request.app[CLOCK]())
    status = customer_tier(customer, request.app[SETTINGS].loyalty)
    locale, tz = locale_for(request, customer), zone_for(request, customer)
    out = OffersOut(
        customer_id=external_id,
        locale=locale,
        tier=TierOut(level=status.current.index if status.current else 0,
                     percent=status.percent, free_shipping=status.free_shipping),
        progress=ProgressOut(
            basis=status.basis, value=status.value,
            next_level=status.next.index if status.next else None,
            next_percent=status.next.percent if status.next else None,
            left=status.left, progress=status.progress,
        ),
        active_codes=[code_out(code, external_id, locale, tz) for code in codes],
    )
    return reply(out)
