"""The messages scheduled jobs queue, rendered by the sender at send time.

Each outbox row carries a reason and a small payload; `render_notice` turns them into
Telegram HTML in the reader's language. The code itself is always worded by
`bot.texts.wording.describe` (the one wording of a code) and shown as `<code>` so that a
tap copies it. Anything that came from people (category names, order numbers, a
manager's campaign text) is escaped. `render_message` is the sender's renderer (the
composition root hands it to `Sender`): every row gets a text, a plain one for a reason
with no wording of its own.
"""

from __future__ import annotations

from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from bot.db.models import Delivery, PromoCode
from bot.delivery.outbox import Reason
from bot.i18n import format_money, gettext, ngettext
from bot.promo.codes.offers import Offer
from bot.texts.wording import describe, sample_code


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


def _campaign(payload: dict[str, Any], locale: str) -> str:
    messages = payload.get("message") or {}
    text = messages.get(locale) or messages.get("ru") or messages.get("en")
    if text:
        return escape(str(text))
    return gettext("A personal code for you, as a thank-you for being our customer.", locale)


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
        ).format(percent=f"{percent}%", photo_percent=f"{photo}%")
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
        ).format(level=level, discount=f"{percent}%")
    return gettext(
        "Congratulations! You have reached loyalty level {level}: your personal discount "
        "is now {discount}.", locale
    ).format(level=level, discount=f"{percent}%")


def _tier_nudge(payload: dict[str, Any], locale: str) -> str:
    level, percent, left = payload.get("tier", 0), payload.get("percent", 0), payload.get("left", 0)
    if payload.get("basis") == "orders":
        return ngettext(
            "You are almost at loyalty level {level} ({discount} off): just {left} more "
            "order to go.",
            "You are almost at loyalty level {level} ({discount} off): just {left} more "
            "orders to go.",
            left, locale,
        ).format(level=level, discount=f"{percent}%", left=left)
    amount = format_money(int(left), str(payload.get("currency", "RUB")), locale)
    return gettext(
        "You are almost at loyalty level {level} ({discount} off): just {amount} more "
        "in purchases to go.", locale
    ).format(level=level, discount=f"{percent}%", amount=amount)


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
}


def render_notice(
    delivery: Delivery, *, code: PromoCode | None, locale: str, tz: ZoneInfo
) -> str:
    """The message for an outbox row, in HTML; the code (if any) is described in full."""
    try:
        head = _HEADS[Reason(delivery.reason)]
    except (KeyError, ValueError):
        raise ValueError(f"no notice for reason {delivery.reason!r}") from None
    parts = [head(dict(delivery.payload or {}), locale)]
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
    reason: Reason, payload: dict[str, Any], offer: Offer | None, *, locale: str, tz: ZoneInfo
) -> str:
    """A notice as shoppers will read it, before any row exists (a manager's preview): the
    same renderer over an unsaved outbox row and a sample code of `offer`."""
    code = sample_code(offer) if offer is not None else None
    return render_notice(Delivery(reason=reason, payload=payload), code=code, locale=locale,
                         tz=tz)
