"""How a code reads to a shopper: its reward, conditions, deadline, and why it fails.

One wording for `/codes`, for the messages the sender delivers and for the API's
validation messages, so a shopper never reads two versions of the same rule.
Plain text: callers escape or mark it up for their channel.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.db.models import DiscountType, PromoCode
from bot.i18n import format_money, format_when, gettext
from bot.promo.checkout.validation import CodeLike, Reason, Verdict
from bot.promo.codes.offers import Offer


def reward_text(offer: Offer, locale: str) -> str:
    """`10 %`, `500 ₽ off`, `free shipping`, `12 % + free shipping`."""
    if offer.discount_type is DiscountType.PERCENT:
        text = gettext("discount {percent}%", locale).format(percent=offer.value)
    elif offer.discount_type is DiscountType.FIXED:
        text = gettext("{amount} off", locale).format(
            amount=format_money(offer.value, offer.currency, locale)
        )
    else:
        return gettext("free shipping", locale)
    if offer.free_shipping:
        text = gettext("{reward} + free shipping", locale).format(reward=text)
    return text


def conditions(offer: Offer, locale: str) -> list[str]:
    """The conditions in plain words, one per line; empty when the code has none."""
    lines: list[str] = []
    if offer.min_order:
        lines.append(
            gettext("on orders from {amount}", locale).format(
                amount=format_money(offer.min_order, offer.currency, locale)
            )
        )
    return lines + goods_conditions(offer, locale)


def goods_conditions(offer: Offer, locale: str) -> list[str]:
    """Which goods the code covers and caps, in plain words."""
    lines: list[str] = []
    if offer.include_categories:
        lines.append(
            gettext("only on: {categories}", locale).format(
                categories=", ".join(offer.include_categories)
            )
        )
    if offer.include_skus:
        lines.append(gettext("only on selected items", locale))
    if offer.exclude_categories:
        lines.append(
            gettext("not on: {categories}", locale).format(
                categories=", ".join(offer.exclude_categories)
            )
        )
    if offer.exclude_skus:
        lines.append(gettext("not on some items (bestsellers and limited stock)", locale))
    if offer.max_discount is not None:
        lines.append(
            gettext("discount up to {amount}", locale).format(
                amount=format_money(offer.max_discount, offer.currency, locale)
            )
        )
    return lines


def deadline(code: CodeLike, locale: str, tz: ZoneInfo) -> str:
    if code.expires_at is not None:
        return gettext("valid until {when}", locale).format(
            when=format_when(code.expires_at, locale, tz)
        )
    days = code.valid_days or 0
    return gettext("valid {days} days from the day you get it", locale).format(days=days)


SAMPLE_CODE = "SAMPLE1234"


def sample_code(offer: Offer, *, expires_at: datetime | None = None) -> PromoCode:
    """An unsaved code carrying `offer`, for previews and terms shown before (or without)
    any code of its own: worded exactly as a real one. Without `expires_at` it counts its
    days from delivery (30 unless the offer says)."""
    code = PromoCode(code=SAMPLE_CODE, **offer.code_columns(), expires_at=expires_at,
                     starts_at=None)
    if expires_at is None:
        code.valid_days = code.valid_days or 30
    return code


def describe(code: CodeLike, locale: str, tz: ZoneInfo) -> list[str]:
    """Reward, conditions and deadline of a code, one line each."""
    offer = Offer.of_code(code)  # type: ignore[arg-type]
    return [reward_text(offer, locale), *conditions(offer, locale), deadline(code, locale, tz)]


def verdict_message(verdict: Verdict, locale: str, tz: ZoneInfo, currency: str) -> str:
    """Why a code does or does not apply, in the shopper's language."""
    code = verdict.code
    if verdict.reason is Reason.OK:
        if verdict.discount:
            return gettext("Code applied: {amount} off your order.", locale).format(
                amount=format_money(verdict.discount, currency, locale)
            )
        return gettext("Code applied: free shipping.", locale)
    if verdict.reason is Reason.UNKNOWN:
        return gettext("There is no such code. Check it for typos.", locale)
    if verdict.reason is Reason.REVOKED:
        return gettext("This code has been cancelled.", locale)
    if verdict.reason is Reason.NOT_STARTED:
        assert code is not None
        if code.starts_at is None:
            return gettext("This code is not active yet.", locale)
        return gettext("This code works from {when}.", locale).format(
            when=format_when(code.starts_at, locale, tz)
        )
    if verdict.reason is Reason.EXPIRED:
        assert code is not None and code.expires_at is not None
        return gettext("This code expired on {when}.", locale).format(
            when=format_when(code.expires_at, locale, tz)
        )
    if verdict.reason is Reason.NOT_YOURS:
        return gettext("This is another customer's personal code.", locale)
    if verdict.reason is Reason.USED_UP:
        return gettext("This code has already been used.", locale)
    if verdict.reason is Reason.ALREADY_USED:
        return gettext("You have already used this code.", locale)
    if verdict.reason is Reason.MIN_ORDER:
        assert code is not None
        return gettext(
            "The code works on orders from {minimum}: add {missing} more.", locale
        ).format(
            minimum=format_money(code.min_order, code.currency, locale),
            missing=format_money(verdict.missing, code.currency, locale),
        )
    if verdict.reason is Reason.ITEMS_EXCLUDED:
        assert code is not None
        offer = Offer.of_code(code)  # type: ignore[arg-type]
        detail = "; ".join(goods_conditions(offer, locale))
        return gettext(
            "The code does not apply to the items in your cart ({detail}).", locale
        ).format(detail=detail)
    raise ValueError(f"no wording for {verdict.reason}")  # pragma: no cover
