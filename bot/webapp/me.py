"""`GET /webapp/api/me`: what the cabinet shows the shopper who opened it, in their words.

Texts are made here, in the shopper's language, by the same wording as the chat
(`bot.texts`); the page only lays them out. Each code comes with its QR for the till
(SVG, made by `segno`), so the list shows it without a tap.
"""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import urlencode

import segno
from aiohttp import web
from babel.numbers import get_currency_precision

from bot.api.context import CLOCK, DATABASE, SETTINGS, SHOP_TERMS
from bot.config import Settings
from bot.db.engine import Database
from bot.db.models import Customer, Role
from bot.i18n import COMMON_ZONES, LANGUAGES, format_percent, gettext, zone, zone_name
from bot.promo.codes.history import history
from bot.promo.codes.wallet import wallet
from bot.promo.customers.accounts import count_referrals
from bot.promo.customers.profiles import referral_code_of, referral_link
from bot.promo.customers.tiers import customer_tier
from bot.promo.staff.managers import staff_at
from bot.texts.history import history_entry
from bot.texts.terms import loyalty_terms
from bot.texts.tier_card import level, next_level, so_far
from bot.texts.wording import describe
from bot.webapp.auth import launch_data
from bot.webapp.reader import reader

# Telegram's own limit on what a chat shows is ours too: a wallet rarely holds more.
MAX_CODES = 20


def till_labels(locale: str) -> dict[str, str]:
    """The till's words, for staff."""
    return {
        "till": gettext("Till", locale),
        "scan": gettext("📷 Scan the shopper's code", locale),
        "scan_hint": gettext("Point the camera at the QR code in the shopper's cabinet",
                             locale),
        "code": gettext("Code", locale),
        "amount": gettext("Order amount", locale),
        "bad_amount": gettext("Type the order amount as a number, e.g. 2500 or 2500.50.",
                              locale),
        "check": gettext("Check", locale),
        "redeem": gettext("Redeem", locale),
    }


def labels(locale: str) -> dict[str, str]:
    """The page's fixed words."""
    return {
        "title": gettext("My cabinet", locale),
        "codes": gettext("My codes", locale),
        "no_codes": gettext(
            "You have no active codes right now. New ones come as a thank-you for your "
            "orders, reviews and invited friends.", locale),
        "copy": gettext("Copy", locale),
        "copied": gettext("Copied", locale),
        "show_at_till": gettext("Show this QR code at the till", locale),
        "tier": gettext("My level", locale),
        "history": gettext("My rewards", locale),
        "invite": gettext("Invite friends", locale),
        "share": gettext("Share the link", locale),
        "settings": gettext("Settings", locale),
        "language": gettext("Language", locale),
        "promotions": gettext("Promotional messages", locale),
        "timezone": gettext("Time zone for reminders", locale),
        "terms": gettext("Loyalty terms", locale),
    }


def choices(customer: Customer | None, settings: Settings, locale: str) -> dict[str, Any]:
    """The settings as they are, with what each can be set to."""
    chosen: dict[str, Any] = {
        "locale": locale,
        "languages": [{"value": code, "label": name} for code, name in LANGUAGES.items()],
    }
    if customer is None:
        return chosen
    current = customer.timezone or settings.shop.timezone
    zones = dict.fromkeys((*COMMON_ZONES, current))
    return {**chosen, "promotions": bool(customer.marketing_opt_in), "timezone": current,
            "zones": [{"value": name, "label": zone_name(name, locale)} for name in zones]}


@functools.lru_cache(maxsize=10_000)
def qr(code: str) -> str:
    """The code as a QR the till scans: an SVG data URI. Kept: choosing the mask that
    reads best is a millisecond of a page load, and a code's QR never changes."""
    # A full QR, never a Micro QR (which segno picks for short data): tills read the
    # former.
    return segno.make_qr(code, error="m").svg_data_uri(scale=6, border=4)


async def get_me(request: web.Request) -> web.Response:
    user = launch_data(request).user
    assert user is not None
    _account, customer, locale = await reader(request, user)
    page = {**await _for_anyone(request, user.id, customer, locale),
            "linked": customer is not None}
    if customer is None:
        page["how_to_link"] = gettext(
            "To see your codes here, link your shop account: open the Telegram link in your "
            "account on the shop's website, or share your phone number with the bot in the "
            "chat.", locale)
    else:
        page.update(await _for_the_shopper(request, customer, locale))
    return web.json_response(page)


async def _for_anyone(request: web.Request, telegram_id: int, customer: Customer | None,
                      locale: str) -> dict[str, Any]:
    """The words, the settings, the terms; the till for staff who may redeem."""
    settings, db = request.app[SETTINGS], request.app[DATABASE]
    shop, now = request.app[SHOP_TERMS], request.app[CLOCK]()
    terms = await shop.current(db.hot, now)
    staff = await staff_at(db.hot, telegram_id, settings.telegram)
    till = None
    if staff is not None and staff.can(Role.MANAGER):
        till = {"labels": till_labels(locale), "currency": settings.shop.currency,
                "minor_units": 10 ** get_currency_precision(settings.shop.currency)}
    return {"locale": locale, "labels": labels(locale), "till": till,
            "settings": choices(customer, settings, locale),
            "terms": loyalty_terms(settings, terms, locale)}


async def _for_the_shopper(request: web.Request, customer: Customer,
                           locale: str) -> dict[str, Any]:
    """A linked shopper's codes, level, history and invitation."""
    settings, db, now = request.app[SETTINGS], request.app[DATABASE], request.app[CLOCK]()
    tz = zone(customer.timezone, settings.shop.timezone)
    status = customer_tier(customer, settings.loyalty)
    currency = settings.shop.currency
    codes = await wallet(db.hot, customer.id, now)
    more = len(codes) - MAX_CODES
    return {
        "codes": [{"code": code.code, "lines": describe(code, locale, tz), "qr": qr(code.code)}
                  for code in codes[:MAX_CODES]],
        "more_codes": gettext("…and {count} more.", locale).format(count=more)
        if more > 0 else None,
        "tier": {
            "level": level(status, locale), "so_far": so_far(status, currency, locale),
            "progress": None if status.next is None else status.progress,
            "progress_text": format_percent(round(status.progress * 100), locale),
            "next": next_level(status, currency, locale),
        },
        "history": [history_entry(code, now, locale, tz)
                    for code in await history(db.hot, customer.id)],
        "invite": await _invitation(db, settings, customer, locale),
    }


async def _invitation(db: Database, settings: Settings, customer: Customer,
                      locale: str) -> dict[str, Any]:
    """The personal invitation link (made on first ask, as `/invite` does), the words to
    send with it, and what it brought."""
    code = customer.referral_code
    if not code:
        async with db.session() as session:
            code = await referral_code_of(session, customer.id)
            await session.commit()
    joined, rewarded = await db.hot.read(count_referrals, customer.id)
    link = referral_link(settings.telegram, code)
    text = gettext("Join me: your first order with this link brings us both a promo code.",
                   locale)
    return {
        "link": link, "text": text,
        "share_url": "https://t.me/share/url?" + urlencode({"url": link, "text": text}),
        "about": gettext("🤝 Invite friends with your personal link. When a friend places "
                         "their first order, you both get a promo code.", locale),
        "counts": " · ".join([
            gettext("Friends joined: {joined}", locale).format(joined=joined),
            gettext("Rewards received: {rewarded}", locale).format(rewarded=rewarded)]),
    }
