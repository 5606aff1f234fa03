"""One customer as the staff read them (`/customer`): who they are, their level and
spend, segments, codes and their state, recent messages, the frequency caps.

Telegram HTML in the reader's language. What came from people (names, usernames, code
strings, message reasons) is escaped with aiogram's `html.quote` (quotes left as
they are).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from aiogram import html
from babel.dates import format_skeleton
from babel.numbers import format_decimal

from bot.i18n import N_, format_days, format_money, format_percent, format_when, gettext
from bot.promo.codes.offers import Offer
from bot.promo.customers.card import CapState, Card, code_state
from bot.texts.segments import segment_name
from bot.texts.surveys import answer_lines
from bot.texts.wording import reward_text


def state_name(state: str, locale: str) -> str:
    """A code's state (`customer_card.code_state`) in words; an unknown one as it is."""
    names = {"active": gettext("active (a code)", locale), "used": gettext("used", locale),
             "expired": gettext("expired", locale), "revoked": gettext("revoked", locale),
             "waiting": gettext("not delivered yet", locale)}
    return names.get(state, state)


_REASONS = {
    "comeback": N_("comeback offer"), "campaign": N_("campaign"),
    "review_ask": N_("review request"), "review_reward": N_("review reward"),
    "cart": N_("abandoned cart"), "referral_reward": N_("referral reward"),
    "expiry_reminder": N_("expiry reminder"), "tier_up": N_("new level"),
    "tier_nudge": N_("almost the next level"), "manual": N_("code from the team"),
    "anniversary": N_("anniversary with us"), "birthday": N_("birthday"),
    "welcome": N_("welcome gift"), "action_reward": N_("reward for an action"),
    "survey": N_("survey"), "survey_reward": N_("survey reward"),
}
_STATUSES = {
    "pending": N_("waiting"), "sending": N_("sending"), "sent": N_("delivered"),
    "failed": N_("not delivered"), "capped": N_("held back by the frequency caps"),
    "unreachable": N_("blocked the bot"), "cancelled": N_("cancelled"),
}


def _named(names: dict[str, str], key: str, locale: str) -> str:
    return gettext(names[key], locale) if key in names else html.quote(key)


def window_text(window: timedelta, locale: str) -> str:
    """A cap's window: `7 дней` when whole days, else hours (`36 ч`, `1,5 ч`).

    Not `bot.i18n.format_span`: that one says how long a send takes (`24 h 0 min`),
    while a cap reads per day or per week."""
    if window.days and not window.seconds:
        return format_days(window.days, locale)
    hours = format_decimal(round(window.total_seconds() / 3600, 1), locale=locale)
    return gettext("{hours} h", locale).format(hours=hours)


def _who(seen: Card, locale: str, tz: ZoneInfo, currency: str) -> list[str]:
    customer, tier = seen.customer, seen.tier
    telegram = gettext("not linked", locale)
    if seen.account is not None:
        telegram = f"{seen.account.id}" + (f" @{html.quote(seen.account.username)}"
                                           if seen.account.username else "")
        if seen.account.is_blocked:
            telegram += " " + gettext("(blocked the bot)", locale)
    last = format_when(customer.last_order_at, locale, tz) if customer.last_order_at else "—"
    opted_in = gettext("on", locale) if customer.marketing_opt_in else gettext("off", locale)
    birthday = ([gettext("Birthday: {day}", locale).format(
        day=format_skeleton("MMMMd", customer.birthday, locale=locale))]
        if customer.birthday else [])
    return [
        gettext("👤 {name} (shop id {id})", locale).format(
            name=html.quote(customer.name or "—"), id=html.quote(customer.external_id)),
        gettext("Telegram: {telegram}", locale).format(telegram=telegram),
        gettext("Level: {level} ({percent}), net spend {spend}", locale).format(
            level=tier.current.index if tier.current else 0,
            percent=format_percent(tier.percent, locale),
            spend=format_money(customer.net_spend, currency, locale)),
        gettext("Orders: {count}, last: {last}", locale).format(
            count=customer.orders_count, last=last),
        gettext("Segments: {segments}", locale).format(
            segments=", ".join(segment_name(name, locale) for name in seen.segments) or "—"),
        gettext("Promotional messages: {state}", locale).format(state=opted_in),
        *birthday,
    ]


def _codes(seen: Card, now: datetime, locale: str) -> list[str]:
    lines = [gettext("Codes:", locale) if seen.codes else gettext("Codes: none", locale)]
    for code in seen.codes:
        lines.append(f"• <code>{html.quote(code.code)}</code> "
                     f"{html.quote(reward_text(Offer.of_code(code), locale))} — "
                     f"{state_name(code_state(code, now), locale)}")
    return lines


def _messages(seen: Card, locale: str, tz: ZoneInfo) -> list[str]:
    lines = [gettext("Recent messages:", locale) if seen.messages
             else gettext("Recent messages: none", locale)]
    for sent in seen.messages:
        when = format_when(sent.sent_at or sent.due_at, locale, tz)
        lines.append(f"• {when} {_named(_REASONS, sent.reason, locale)}: "
                     f"{_named(_STATUSES, sent.status, locale)}")
    return lines


def _cap(state: CapState, locale: str, tz: ZoneInfo) -> str:
    text = gettext("{used} of {count} per {window}", locale).format(
        used=state.used, count=state.cap.count, window=window_text(state.cap.window, locale))
    if state.until is not None:
        text += " " + gettext("(full until {when})", locale).format(
            when=format_when(state.until, locale, tz))
    return text


def render_card(
    seen: Card, *, now: datetime, locale: str, tz: ZoneInfo, currency: str
) -> str:
    """The card (`bot.promo.customers.card.card`) as one message; `now` dates the codes'
    state, `tz` the times shown."""
    caps = "; ".join(_cap(state, locale, tz) for state in seen.caps) or "—"
    return "\n".join([
        *_who(seen, locale, tz, currency),
        "",
        *_codes(seen, now, locale),
        "",
        *_messages(seen, locale, tz),
        "",
        gettext("Frequency caps: {caps}", locale).format(caps=caps),
        *(["", *answer_lines(seen.answers, locale)] if seen.answers else []),
    ])
