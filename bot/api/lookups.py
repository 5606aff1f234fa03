"""What several handlers look up: the customer by the shop's id, the reader's language."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.api.context import SETTINGS
from bot.api.errors import ApiError
from bot.db.models import Customer
from bot.i18n import pick_locale, zone
from bot.promo.checkout.lookup import Shopper
from bot.promo.customers.profiles import get_by_external_id


def unknown_customer(external_id: str) -> ApiError:
    return ApiError(404, "unknown_customer", f"no customer with id {external_id!r}")


async def customer_or_404(session: AsyncSession, external_id: str) -> Customer:
    customer = await get_by_external_id(session, external_id)
    if customer is None:
        raise unknown_customer(external_id)
    return customer


def accept_language(request: web.Request) -> str | None:
    """The first language of `Accept-Language` (weights are rarely used by shops)."""
    header = request.headers.get("Accept-Language", "")
    first = header.split(",")[0].split(";")[0].strip()
    return first or None


def locale_for(request: web.Request, customer: Customer | Shopper | None) -> str:
    """The customer's saved language, else the caller's Accept-Language, else the shop's."""
    settings = request.app[SETTINGS]
    saved = customer.locale if customer is not None else None
    return pick_locale(saved, accept_language(request), default=settings.shop.default_locale)


def zone_for(request: web.Request, customer: Customer | Shopper | None) -> ZoneInfo:
    return zone(customer.timezone if customer else None, request.app[SETTINGS].shop.timezone)
