"""The rewards history in words: what each code was for and what became of it."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.db.models import CodeSource
from bot.i18n import N_, format_day, gettext
from bot.promo.codes.history import Fate, fate
from bot.promo.codes.offers import Offer
from bot.promo.shop.order_effects import (
    REVOKE_REASON_CANCELLED,
    REVOKE_REASON_FIRST_ORDER,
    REVOKE_REASON_RETURNED,
)
from bot.texts.wording import reward_text

# Why a code was given, by its source.
_FOR = {
    CodeSource.COMEBACK: N_("welcome back"),
    CodeSource.REVIEW: N_("for your review"),
    CodeSource.CART: N_("for the items left in your cart"),
    CodeSource.REFERRAL: N_("for inviting a friend"),
    CodeSource.TIER: N_("for your loyalty level"),
    CodeSource.CAMPAIGN: N_("a promotion"),
    CodeSource.WELCOME: N_("a welcome gift"),
    CodeSource.ACTION: N_("as a thank-you"),
    CodeSource.SURVEY: N_("for answering our survey"),
    CodeSource.ANNIVERSARY: N_("for another year with us"),
    CodeSource.BIRTHDAY: N_("for your birthday"),
}
_FROM_THE_SHOP = N_("from the shop")
# Why a code was cancelled, by the reason recorded; any other was the shop's decision.
_CANCELLED = {
    REVOKE_REASON_RETURNED: N_("the order it was earned by was returned"),
    REVOKE_REASON_CANCELLED: N_("the order it was earned by was cancelled"),
    "campaign stopped": N_("the promotion ended"),
    REVOKE_REASON_FIRST_ORDER: N_(
        "it was for a first order only, and that one was placed without it"),
}
_BY_THE_SHOP = N_("cancelled by the shop")


def given_for(source: str, locale: str) -> str:
    return gettext(_FOR.get(source, _FROM_THE_SHOP), locale)  # type: ignore[call-overload]


def what_became(code: Any, now: datetime, locale: str, tz: ZoneInfo) -> str:
    """`used on 3 Jun 2026`, `expired on …`, `cancelled on …: why`, `valid until …`."""
    match fate(code, now):
        case Fate.USED:
            if code.used_at is None:  # used up on an order since released and expired
                return gettext("used up", locale)
            return gettext("used on {day}", locale).format(
                day=format_day(code.used_at, locale, tz))
        case Fate.UPCOMING:
            return gettext("valid from {day}", locale).format(
                day=format_day(code.starts_at, locale, tz))
        case Fate.EXPIRED:
            return gettext("expired on {day}", locale).format(
                day=format_day(code.expires_at, locale, tz))
        case Fate.REVOKED:
            why = gettext(_CANCELLED.get(code.revoke_reason or "", _BY_THE_SHOP), locale)
            return gettext("cancelled on {day}: {why}", locale).format(
                day=format_day(code.revoked_at or code.created_at, locale, tz), why=why)
    if code.expires_at is None:
        return gettext("in use", locale)
    return gettext("valid until {day}", locale).format(day=format_day(code.expires_at, locale, tz))


def history_entry(code: Any, now: datetime, locale: str, tz: ZoneInfo) -> dict[str, str]:
    return {"code": code.code, "fate": str(fate(code, now)),
            "reward": reward_text(Offer.of_code(code), locale, tz),
            "given_for": given_for(code.source, locale), "given_on": format_day(
                code.created_at, locale, tz),
            "what_became": what_became(code, now, locale, tz)}
