"""How a code reads to a shopper: its reward, conditions, deadline, and why it fails.

One wording for `/codes`, for the messages the sender delivers and for the API's
validation messages, so a shopper never reads two versions of the same rule.
Plain text: callers escape or mark it up for their channel.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.db.models import DiscountType, PromoCode
from bot.i18n import (
    N_,
    format_count,
    format_money,
    format_percent,
    format_when,
    gettext,
    ngettext,
)
from bot.promo.checkout.validation import CodeLike, Reason, Verdict
from bot.promo.codes.offers import Offer


def opened_goods(offer: Offer, locale: str) -> str:
    """What early access opens: its categories, else "selected items"."""
    if offer.include_categories:
        return ", ".join(offer.include_categories)
    return gettext("selected items", locale)


def _early_access(offer: Offer, locale: str, tz: ZoneInfo | None) -> str:
    goods = opened_goods(offer, locale)
    if tz is None or offer.launch_at is None:
        text = gettext("early access to {goods}", locale).format(goods=goods)
    else:
        text = gettext("early access to {goods} until {when}", locale).format(
            goods=goods, when=format_when(offer.launch_at, locale, tz))
    if offer.value:
        text = gettext("{reward} + discount {percent}", locale).format(
            reward=text, percent=format_percent(offer.value, locale))
    return text


def reward_text(offer: Offer, locale: str, tz: ZoneInfo | None = None) -> str:
    """`10 %`, `500 ₽ off`, `free shipping`, `12 % + free shipping`, `gift: a mug`,
    `early access to Boots until 1 June, 10:00` (the launch only with the reader's `tz`)."""
    if offer.discount_type is DiscountType.GIFT:
        return gettext("gift: {name}", locale).format(name=offer.gift_name)
    if offer.discount_type is DiscountType.EARLY_ACCESS:
        return _early_access(offer, locale, tz)
    if offer.discount_type is DiscountType.PERCENT:
        text = gettext("discount {percent}", locale).format(
            percent=format_percent(offer.value, locale))
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
    # Early access names its goods in its reward: they are what it opens.
    if offer.include_categories and not offer.opens:
        lines.append(
            gettext("only on: {categories}", locale).format(
                categories=", ".join(offer.include_categories)
            )
        )
    if offer.include_skus and not offer.opens:
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
    return ngettext("valid {days} day from the day you get it",
                    "valid {days} days from the day you get it", days, locale
                    ).format(days=format_count(days, locale))


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
    return [reward_text(offer, locale, tz), *conditions(offer, locale),
            deadline(code, locale, tz)]


# Refusals that read the same whatever the code.
_PLAIN = {
    Reason.UNKNOWN: N_("There is no such code. Check it for typos."),
    Reason.REVOKED: N_("This code has been cancelled."),
    Reason.NOT_YOURS: N_("This is another customer's personal code."),
    Reason.USED_UP: N_("This code has already been used."),
    Reason.ALREADY_USED: N_("You have already used this code."),
    Reason.NOT_DELIVERED: N_(
        "This code is not active yet: it starts working when our message with it reaches you."),
    Reason.CEILING_REACHED: N_(
        "Your order already has the largest discount we can give, so this code adds nothing. "
        "It stays with you for another order."),
    Reason.ORDER_HAS_CODE: N_("This order already has a promo code: one order takes one code."),
    Reason.BUDGET_SPENT: N_("The promotion this code belongs to has ended."),
}


def verdict_message(verdict: Verdict, locale: str, tz: ZoneInfo, currency: str) -> str:
    """Why a code does or does not apply, in the shopper's language."""
    code, reason = verdict.code, verdict.reason
    if reason is Reason.OK:
        return _applied(verdict, locale, tz, currency)
    if reason is Reason.CEILING_REACHED and (gift := _gift_needs(verdict, locale, currency)):
        return gift
    if reason in _PLAIN:
        return gettext(_PLAIN[reason], locale)
    if reason is Reason.TIER_BETTER:
        return _tier_better(verdict, locale, currency)
    assert code is not None
    if reason is Reason.NOT_STARTED:
        if code.starts_at is None:
            return gettext("This code is not active yet.", locale)
        return gettext("This code works from {when}.", locale).format(
            when=format_when(code.starts_at, locale, tz)
        )
    if reason is Reason.EXPIRED:
        assert code.expires_at is not None
        return gettext("This code expired on {when}.", locale).format(
            when=format_when(code.expires_at, locale, tz)
        )
    if reason is Reason.MIN_ORDER:
        return gettext(
            "The code works on orders from {minimum}: add {missing} more.", locale
        ).format(
            minimum=format_money(code.min_order, code.currency, locale),
            missing=format_money(verdict.missing, code.currency, locale),
        )
    detail = "; ".join(goods_conditions(Offer.of_code(code), locale))  # type: ignore[arg-type]
    if reason is Reason.ITEMS_REQUIRED:
        return gettext(
            "We could not check the code's conditions ({detail}) without the items of the "
            "cart. Please try again from the cart.", locale
        ).format(detail=detail)
    if reason is Reason.ITEMS_EXCLUDED and code.discount_type == DiscountType.EARLY_ACCESS:
        return gettext(
            "The code opens {goods} before the launch, and your cart has none of them.", locale
        ).format(goods=opened_goods(Offer.of_code(code), locale))  # type: ignore[arg-type]
    if reason is Reason.ITEMS_EXCLUDED:
        return gettext(
            "The code does not apply to the items in your cart ({detail}).", locale
        ).format(detail=detail)
    raise ValueError(f"no wording for {reason}")  # pragma: no cover


def _applied(verdict: Verdict, locale: str, tz: ZoneInfo, currency: str) -> str:
    """What the code gives, how it stands with the loyalty level, and the cap if it bit."""
    order = verdict.order
    part = order.codes[-1] if order is not None and order.codes else None
    sentences = []
    if verdict.discount:
        sentences.append(gettext("Code applied: {amount} off your order.", locale).format(
            amount=format_money(verdict.discount, currency, locale)))
    if part is not None and part.gift is not None:
        sentences.append(gettext(
            "Code applied: we add a gift to your order: {name}.", locale
        ).format(name=part.gift.gift_name))
    if part is not None and part.opens is not None and part.opens.launch_at is not None:
        sentences.append(gettext(
            "Early access: {goods} are yours to buy before everyone else, until {when}.", locale
        ).format(goods=opened_goods(part.opens, locale),
                 when=format_when(part.opens.launch_at, locale, tz)))
    if not sentences:
        sentences.append(gettext("Code applied: free shipping.", locale))
    if order is None:
        return sentences[0]
    tier = order.tier
    if tier.kept and tier.applied:
        sentences.append(gettext("Your loyalty level adds {tier}.", locale).format(
            tier=_gift(tier.discount, tier.free_shipping, locale, currency)))
    elif not tier.kept and (tier.wanted or tier.wanted_free_shipping):
        sentences.append(gettext(
            "It gives more than your loyalty level ({tier}), and the two do not add up.", locale
        ).format(tier=_gift(tier.wanted, tier.wanted_free_shipping, locale, currency)))
    if part is not None and part.gift is not None and tier.kept and tier.capped:
        sentences.append(gettext(
            "One order's discounts and gifts are at most {cap}, so with the gift your loyalty "
            "level gives {given} instead of {wanted}.", locale
        ).format(cap=format_money(order.ceiling, currency, locale),
                 given=format_money(tier.discount, currency, locale),
                 wanted=format_money(tier.wanted, currency, locale)))
    elif part is not None and part.capped:
        sentences.append(gettext(
            "One order's discount is at most {cap}, so the code gives less than usual.", locale
        ).format(cap=format_money(order.ceiling, currency, locale)))
    return " ".join(sentences)


def _gift_needs(verdict: Verdict, locale: str, currency: str) -> str | None:
    """A gift that did not fit the order's ceiling: the order total it needs, in numbers
    (None when no total would do: the plain refusal then)."""
    code, order = verdict.code, verdict.order
    if code is None or order is None or code.discount_type != DiscountType.GIFT:
        return None
    shipping = order.shipping_cost if order.free_shipping else 0
    least = order.total_for(code.gift_cost + shipping)
    if least is None or least <= order.order_total:
        return None
    return gettext(
        "The gift ({name}) comes with orders from {minimum}: add {missing} more. The code "
        "stays with you.", locale
    ).format(name=code.gift_name, minimum=format_money(least, currency, locale),
             missing=format_money(least - order.order_total, currency, locale))


def _tier_better(verdict: Verdict, locale: str, currency: str) -> str:
    order = verdict.order
    assert order is not None
    return gettext(
        "Your loyalty level gives more on this order: {tier}. The code was not applied and "
        "stays with you.", locale
    ).format(tier=_gift(order.tier.discount, order.free_shipping, locale, currency))


def _gift(amount: int, free_shipping: bool, locale: str, currency: str) -> str:
    """`600 ₽ off`, `600 ₽ off and free shipping`, `free shipping`."""
    if not amount:
        return gettext("free shipping", locale)
    money = format_money(amount, currency, locale)
    if free_shipping:
        return gettext("{amount} off and free shipping", locale).format(amount=money)
    return gettext("{amount} off", locale).format(amount=money)
