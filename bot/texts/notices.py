"""The messages scheduled jobs queue, rendered by the sender at send time.

Each outbox row carries a reason and a small payload; `render_notice` turns them into
Telegram HTML in the reader's language. The code itself is always worded by
`bot.texts.wording.describe` (the one wording of a code) and shown as `<code>` so that a
tap copies it. Anything that came from people (category names, order numbers, a
manager's campaign text) is escaped. A campaign's own text goes only to readers of its
language, its `PLACEHOLDERS` filled in; other readers get the standard text in theirs.
`render_message` is the sender's renderer (the
composition root hands it to `Sender`): every row gets a text, a plain one for a reason
with no wording of its own.
"""

from __future__ import annotations

import re
from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from bot.db.models import Delivery, PromoCode
from bot.delivery.outbox import Reason
from bot.i18n import (
    format_count,
    format_money,
    format_percent,
    format_when,
    gettext,
    ngettext,
)
from bot.promo.codes.offers import Offer
from bot.texts import leaks
from bot.texts.wording import deadline, describe, sample_code


def code_block(code: PromoCode, locale: str, tz: ZoneInfo) -> str:
    """`<code>CODE</code>` and the code's reward, conditions and deadline, one a line."""
    lines = [f"<code>{escape(code.code)}</code>"]
    lines += [f"• {escape(line)}" for line in describe(code, locale, tz)]
    return "\n".join(lines)


def _comeback(payload: dict[str, Any], locale: str) -> str:
    category = payload.get("category")
    if category:
        return gettext(
            "We have missed you! As a thank-you for being with us, here is a personal code "
            "for your next order. New arrivals in {category} are waiting for you.", locale
        ).format(category=f"<b>{escape(str(category))}</b>")
    return gettext(
        "We have missed you! As a thank-you for being with us, here is a personal code "
        "for your next order.", locale
    )


# What a manager's campaign text may say in braces, filled in for each reader.
PLACEHOLDERS = ("name", "code", "deadline", "shop")
_BRACES = re.compile(r"\{([^{}]*)\}")


def unknown_placeholders(text: str) -> list[str]:
    """The `{...}` of a manager's text that are not `PLACEHOLDERS`, in order, once each."""
    found = [name for name in _BRACES.findall(text) if name not in PLACEHOLDERS]
    return list(dict.fromkeys(found))


def _placeholders(payload: dict[str, Any], code: PromoCode | None, locale: str,
                  tz: ZoneInfo) -> dict[str, str]:
    """Each placeholder's value for this reader, as HTML; a code's deadline is the one it
    shows below the text (counted from delivery: see the sender's `prepare`)."""
    when = ""
    if code is not None:
        when = (format_when(code.expires_at, locale, tz) if code.expires_at is not None
                else deadline(code, locale, tz))
    return {
        "name": escape(str(payload.get("name") or gettext("friend", locale))),
        "code": f"<code>{escape(code.code)}</code>" if code is not None else "",
        "deadline": escape(when),
        "shop": escape(str(payload.get("shop") or gettext("our shop", locale))),
    }


def _own_text(text: str, payload: dict[str, Any], code: PromoCode | None, locale: str,
              tz: ZoneInfo) -> str:
    """A campaign's own text (a manager's), escaped, with its placeholders filled."""
    values = _placeholders(payload, code, locale, tz)
    return _BRACES.sub(lambda found: values.get(found[1], found[0]), escape(text))


def _campaign(payload: dict[str, Any], locale: str) -> str:
    category = payload.get("new_category")
    if category:
        return _new_category(str(category), payload.get("percent"), locale)
    return gettext("A personal code for you, as a thank-you for being our customer.", locale)


def _new_category(category: str, percent: Any, locale: str) -> str:
    """A "new category" campaign's words: thanks first, then the category to try."""
    name = f"<b>{escape(category)}</b>"
    if percent:
        return gettext(
            "Thank you for shopping with us! Try {category}: {percent} off your first "
            "purchase in this category, with this personal code:", locale
        ).format(category=name, percent=format_percent(percent, locale))
    return gettext(
        "Thank you for shopping with us! Try {category}: here is a personal code for your "
        "first purchase in this category:", locale
    ).format(category=name)


def _review_ask(payload: dict[str, Any], locale: str) -> str:
    order = escape(str(payload.get("order", "")))
    text = gettext(
        "How do you like your order {order}? Share a review on our site and we will "
        "thank you with a personal code.", locale
    ).format(order=order)
    percent, photo = payload.get("percent"), payload.get("photo_percent")
    if percent and photo and photo > percent:
        text += "\n" + gettext(
            "{percent} for a review, {photo_percent} for a review with a photo.", locale
        ).format(percent=format_percent(percent, locale),
                 photo_percent=format_percent(photo, locale))
    return text


def _review_reward(payload: dict[str, Any], locale: str) -> str:
    order = escape(str(payload.get("order", "")))
    if payload.get("has_photo"):
        return gettext(
            "Thank you for your review of order {order}, and for the photo! Here is your "
            "personal code:", locale
        ).format(order=order)
    return gettext(
        "Thank you for your review of order {order}! Here is your personal code:", locale
    ).format(order=order)


def _cart(payload: dict[str, Any], locale: str) -> str:
    return gettext(
        "You left something in your cart. Here is a personal code for those items:", locale
    )


def _referral(payload: dict[str, Any], locale: str) -> str:
    if payload.get("role") == "referrer":
        return gettext(
            "Your friend has made their first order. Thank you for the recommendation! "
            "Here is your personal code:", locale
        )
    return gettext(
        "Thank you for choosing us on a friend's recommendation! Here is your personal "
        "code:", locale
    )


def _expiry(payload: dict[str, Any], locale: str) -> str:
    return gettext("A reminder: your personal code expires soon.", locale)


def _tier_up(payload: dict[str, Any], locale: str) -> str:
    level, percent = payload.get("tier", 0), payload.get("percent", 0)
    if payload.get("free_shipping"):
        return gettext(
            "Congratulations! You have reached loyalty level {level}: your personal "
            "discount is now {discount}, and shipping is free.", locale
        ).format(level=level, discount=format_percent(percent, locale))
    return gettext(
        "Congratulations! You have reached loyalty level {level}: your personal discount "
        "is now {discount}.", locale
    ).format(level=level, discount=format_percent(percent, locale))


def _tier_nudge(payload: dict[str, Any], locale: str) -> str:
    level, percent, left = payload.get("tier", 0), payload.get("percent", 0), payload.get("left", 0)
    if payload.get("basis") == "orders":
        return ngettext(
            "You are almost at loyalty level {level} ({discount} off): just {left} more "
            "order to go.",
            "You are almost at loyalty level {level} ({discount} off): just {left} more "
            "orders to go.",
            left, locale,
        ).format(level=level, discount=format_percent(percent, locale), left=left)
    amount = format_money(int(left), str(payload.get("currency", "RUB")), locale)
    return gettext(
        "You are almost at loyalty level {level} ({discount} off): just {amount} more "
        "in purchases to go.", locale
    ).format(level=level, discount=format_percent(percent, locale), amount=amount)


def _welcome(payload: dict[str, Any], locale: str) -> str:
    return gettext("Welcome! Here is a personal code for your first order with us:", locale)


def _action(payload: dict[str, Any], locale: str) -> str:
    if payload.get("action") == "app_install":
        return gettext("Thank you for installing our app! Here is your personal code:", locale)
    return gettext("Thank you! Here is the personal code we promised:", locale)


def _survey_reward(payload: dict[str, Any], locale: str) -> str:
    return gettext("Thank you for your answer, it helps us a lot! Here is the personal code "
                   "we promised:", locale)


def _anniversary(payload: dict[str, Any], locale: str) -> str:
    years = int(payload.get("years") or 1)
    return ngettext(
        "🎉 {count} year with us! Thank you for staying with us all this time. A small "
        "thank-you gift for your next order:",
        "🎉 {count} years with us! Thank you for staying with us all this time. A small "
        "thank-you gift for your next order:",
        years, locale,
    ).format(count=format_count(years, locale))


def _birthday(payload: dict[str, Any], locale: str) -> str:
    name = payload.get("name")
    if name:
        return gettext(
            "🎂 {name}, happy birthday! Thank you for being with us. A small gift from us "
            "for your next order:", locale
        ).format(name=escape(str(name)))
    return gettext(
        "🎂 Happy birthday! Thank you for being with us. A small gift from us for your "
        "next order:", locale
    )


def _manual(payload: dict[str, Any], locale: str) -> str:
    return gettext("A personal code from our team, as a thank-you for being with us:", locale)


_HEADS = {
    Reason.COMEBACK: _comeback,
    Reason.CAMPAIGN: _campaign,
    Reason.REVIEW_ASK: _review_ask,
    Reason.REVIEW_REWARD: _review_reward,
    Reason.CART: _cart,
    Reason.REFERRAL_REWARD: _referral,
    Reason.EXPIRY_REMINDER: _expiry,
    Reason.TIER_UP: _tier_up,
    Reason.TIER_NUDGE: _tier_nudge,
    Reason.MANUAL: _manual,
    Reason.WELCOME: _welcome,
    Reason.ACTION_REWARD: _action,
    Reason.SURVEY_REWARD: _survey_reward,
    Reason.ANNIVERSARY: _anniversary,
    Reason.BIRTHDAY: _birthday,
}


def render_notice(
    delivery: Delivery, *, code: PromoCode | None, locale: str, tz: ZoneInfo
) -> str:
    """The message for an outbox row, in HTML; the code (if any) is described in full.
    A staff alert is no shopper's notice: it carries no code of its own to describe."""
    if delivery.reason == Reason.LEAK_ALERT:
        return leaks.alert_text(dict(delivery.payload or {}), locale, tz)
    try:
        head = _HEADS[Reason(delivery.reason)]
    except (KeyError, ValueError):
        raise ValueError(f"no notice for reason {delivery.reason!r}") from None
    payload = dict(delivery.payload or {})
    # A campaign's own text in the reader's language speaks for any reason it runs with;
    # without one, the reason's standard text in that language (never another's text).
    own = (payload.get("message") or {}).get(locale)
    parts = [_own_text(str(own), payload, code, locale, tz) if own
             else head(payload, locale)]
    if code is not None:
        parts.append(code_block(code, locale, tz))
    return "\n\n".join(parts)


def _fallback_text(delivery: Delivery, code: PromoCode | None, locale: str, tz: ZoneInfo) -> str:
    """Plain wording for a row `render_notice` has no wording for: the payload's text and
    the code, else the reason itself."""
    lines = []
    text = (delivery.payload or {}).get("text")
    if text:
        lines.append(escape(str(text)))
    if code is not None:
        lines.append(code_block(code, locale, tz))
    return "\n".join(lines) or escape(delivery.reason)


def render_message(
    delivery: Delivery, *, code: PromoCode | None, locale: str, tz: ZoneInfo
) -> str:
    """What the sender sends for an outbox row (its `Renderer`): the notice for its
    reason, or `_fallback_text` for a reason, or a payload, it has no wording for (e.g. a
    manager's code)."""
    try:
        text = render_notice(delivery, code=code, locale=locale, tz=tz)
    except ValueError:
        text = None
    return text or _fallback_text(delivery, code, locale, tz)


def preview(
    reason: Reason, payload: dict[str, Any], offer: Offer | None, *, locale: str, tz: ZoneInfo,
    expires_at: datetime | None = None,
) -> str:
    """A notice as shoppers will read it, before any row exists (a manager's preview): the
    same renderer over an unsaved outbox row and a sample code of `offer` (with the
    deadline `expires_at`, else counted from delivery)."""
    code = sample_code(offer, expires_at=expires_at) if offer is not None else None
    return render_notice(Delivery(reason=reason, payload=payload), code=code, locale=locale,
                         tz=tz)
