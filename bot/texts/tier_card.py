"""The loyalty tier card: the level, what it gives, the way to the next one. Read in the
chat (`/tier`) and in the Mini App's card."""

from __future__ import annotations

from bot.i18n import format_money, format_percent, gettext, ngettext
from bot.promo.customers.tiers import ORDERS, Tier, TierStatus

BAR_WIDTH = 10


def progress_bar(share: float, locale: str) -> str:
    filled = round(max(0.0, min(share, 1.0)) * BAR_WIDTH)
    return "▰" * filled + "▱" * (BAR_WIDTH - filled) + " " + format_percent(
        round(share * 100), locale)


def reward(tier: Tier, locale: str) -> str:
    percent = format_percent(tier.percent, locale)
    if tier.free_shipping:
        return gettext("Discount on every order: {percent}, plus free shipping",
                       locale).format(percent=percent)
    return gettext("Discount on every order: {percent}", locale).format(percent=percent)


def level(status: TierStatus, locale: str) -> str:
    if status.current is None:
        return gettext("⭐ You have no loyalty level yet.", locale)
    return gettext("⭐ Your level: {level} — {reward}", locale).format(
        level=status.current.index, reward=reward(status.current, locale))


def so_far(status: TierStatus, currency: str, locale: str) -> str:
    if status.basis == ORDERS:
        return gettext("Orders so far: {count}", locale).format(count=status.value)
    return gettext("Spent so far: {amount}", locale).format(
        amount=format_money(status.value, currency, locale))


def next_level(status: TierStatus, currency: str, locale: str) -> str:
    """What is left to the next level, or thanks at the top."""
    if status.next is None:
        return gettext("You have reached the top level. Thank you for staying with us!", locale)
    if status.basis == ORDERS:
        text = ngettext("{left} more order to level {level}: {reward}",
                        "{left} more orders to level {level}: {reward}", status.left, locale)
        left = str(status.left)
    else:
        text = gettext("{left} more to level {level}: {reward}", locale)
        left = format_money(status.left, currency, locale)
    return text.format(left=left, level=status.next.index, reward=reward(status.next, locale))


def tier_card(status: TierStatus, currency: str, locale: str) -> str:
    """The card as the chat shows it, one line each."""
    lines = [level(status, locale), so_far(status, currency, locale)]
    if status.next is not None:
        lines.append(progress_bar(status.progress, locale))
    lines.append(next_level(status, currency, locale))
    return "\n".join(lines)
