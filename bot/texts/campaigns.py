"""How a campaign reads to a manager: the name of its state (one wording for the
campaign card and for a refusal that quotes the state), and its budget."""

from __future__ import annotations

from babel.numbers import format_decimal

from bot.i18n import format_money, gettext, ngettext
from bot.promo.campaigns.budget import BudgetState


def status_name(status: str, locale: str) -> str:
    """`paused` → "paused" in the reader's language; an unknown state as it is."""
    names = {
        "draft": gettext("draft", locale),
        "active": gettext("active", locale),
        "paused": gettext("paused", locale),
        "stopped": gettext("stopped", locale),
    }
    return names.get(status, status)


def _count(n: int, locale: str) -> str:
    return format_decimal(n, locale=locale)


def budget_lines(state: BudgetState, locale: str, currency: str) -> list[str]:
    """The budget on a campaign card and in its stats: spent and left of the money and of
    the uses, and a warning once either is spent. Plain text (nothing here is typed by a
    person); no lines without a budget."""
    lines = []
    if state.amount is not None:
        lines.append(
            gettext("💰 Budget: {spent} of {total} spent, {left} left", locale).format(
                spent=format_money(state.spent_amount, currency, locale),
                total=format_money(state.amount, currency, locale),
                left=format_money(state.amount_left or 0, currency, locale),
            )
        )
    if state.uses is not None:
        left = state.uses_left or 0
        lines.append(
            ngettext(
                "🎟 Uses budget: {spent} of {total} used, {left} use left",
                "🎟 Uses budget: {spent} of {total} used, {left} uses left",
                left,
                locale,
            ).format(
                spent=_count(state.spent_uses, locale),
                total=_count(state.uses, locale),
                left=_count(left, locale),
            )
        )
    if state.exhausted:
        lines.append(
            gettext(
                "⛔ The budget is spent: this campaign's codes no longer apply at checkout.", locale
            )
        )
    return lines
