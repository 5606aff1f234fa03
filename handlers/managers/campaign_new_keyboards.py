"""The buttons of `/campaign new`: one callback type for every step, and the keyboards of
the steps a manager answers by pressing (kind, segment, holdout, split, schedule,
weekday, time of day, confirmation)."""

from __future__ import annotations

from collections.abc import Callable

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import get_i18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from babel.dates import get_day_names

from bot.i18n import format_percent
from bot.promo.campaigns.schedules import WEEKDAYS

HOLDOUTS = (0, 10, 20, 30)
# Times of day offered as buttons; any other is typed (`11:30`).
TIMES = ((9, 0), (11, 0), (14, 0), (19, 0))


class NewCampaign(CallbackData, prefix="mgrn"):
    """A button of the dialog: the step it answers and the value chosen."""

    step: str
    value: str


def keyboard(step: str, options: list[tuple[str, str]], width: int = 2, *,
             data: Callable[..., CallbackData] = NewCampaign) -> InlineKeyboardMarkup:
    """The choices of a dialog's step as buttons; `data` is the dialog's callback type
    (a step and a value: `/survey new` has its own)."""
    builder = InlineKeyboardBuilder()
    for value, text in options:
        # Kinds and segments are lower-case names, read mid-sentence elsewhere; a button
        # starts with a capital like every other button.
        builder.button(text=text[:1].upper() + text[1:],
                       callback_data=data(step=step, value=value))
    builder.adjust(width)
    return builder.as_markup()


def clock_time(hour: int, minute: int) -> str:
    return f"{hour:02d}:{minute:02d}"


def weekday_name(weekday: str) -> str:
    """`mon` → "понедельник" / "Monday", in the manager's language."""
    names = get_day_names("wide", locale=get_i18n().current_locale)
    return str(names[WEEKDAYS.index(weekday)])


def holdouts() -> InlineKeyboardMarkup:
    locale = get_i18n().current_locale
    return keyboard("holdout", [(str(p), format_percent(p, locale)) for p in HOLDOUTS], 4)


def splits() -> InlineKeyboardMarkup:
    return keyboard("split", [("weights", _("⚖️ By the weights")),
                              ("optimise", _("🎯 Optimise"))], 1)


def schedules() -> InlineKeyboardMarkup:
    return keyboard("schedule", [
        ("now", _("▶️ Once, now")),
        ("daily", _("🔁 Every day at…")),
        ("weekly", _("📅 Every week on…")),
        ("draft", _("📝 Keep as draft")),
        ("cron", _("⌨️ Crontab (for experts)")),
    ])


def weekdays() -> InlineKeyboardMarkup:
    return keyboard("weekday", [(day, weekday_name(day)) for day in WEEKDAYS], 3)


def times() -> InlineKeyboardMarkup:
    # ":" separates a callback's fields, so a time travels as `0900`.
    return keyboard("time", [(f"{h:02d}{m:02d}", clock_time(h, m)) for h, m in TIMES], 4)


def confirmation() -> InlineKeyboardMarkup:
    return keyboard("confirm", [("yes", _("✅ Create")), ("no", _("✖️ Cancel"))])
