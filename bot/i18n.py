"""Texts and formatting outside an update: the domain, the API, jobs and the sender.

Handlers use aiogram's `I18n` over the same `locales/` catalogs; everything else asks
`Translator` for a locale explicitly, since there is no "current user" there.
Money and dates are formatted by Babel for the locale.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import format_date, format_time
from babel.numbers import format_currency, get_currency_precision
from babel.numbers import format_percent as format_babel_percent
from babel.support import NullTranslations, Translations

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"
LOCALES = ("ru", "en")
DEFAULT_LOCALE = "ru"


def pick_locale(*candidates: str | None, default: str = DEFAULT_LOCALE) -> str:
    """The first supported locale among saved choice, Telegram language, ..."""
    for candidate in candidates:
        if candidate:
            short = candidate.split("-")[0].split("_")[0].lower()
            if short in LOCALES:
                return short
    return default


@cache
def translations(locale: str) -> NullTranslations:
    return Translations.load(str(LOCALES_DIR), [locale], domain=DOMAIN)


def gettext(message: str, locale: str) -> str:
    return translations(locale).gettext(message)


def ngettext(singular: str, plural: str, n: int, locale: str) -> str:
    return translations(locale).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Marks a text for the catalogs (pybabel extracts `N_` by default) where it is
    stored, not shown: a table's entry, translated later by `gettext(text, locale)`."""
    return message


def format_percent(percent: Decimal | int, locale: str) -> str:
    """`Decimal("7.2"), "ru"` → `'7,2 %'` (a no-break space in Russian), `12, "en"` →
    `'12%'`: the decimals given, none when the number is whole."""
    return format_babel_percent(Decimal(percent) / 100, locale=locale, decimal_quantization=False)


def minor_to_decimal(amount: int, currency: str) -> Decimal:
    return Decimal(amount).scaleb(-get_currency_precision(currency))


@lru_cache(maxsize=16_384)
def format_money(amount: int, currency: str, locale: str) -> str:
    """`150000, "RUB", "ru"` → `'1 500,00 ₽'` (with no-break spaces); whole amounts drop the
    kopecks, since shoppers read "1 500 ₽" faster. Cached: Babel takes ~0.1 ms a call,
    which checkout's validation messages would pay on every request."""
    value = minor_to_decimal(amount, currency)
    if value == value.to_integral_value():
        pattern = Locale.parse(locale).currency_formats["standard"].pattern
        return format_currency(
            value,
            currency,
            format=pattern.replace(".00", ""),
            locale=locale,
            currency_digits=False,
        )
    return format_currency(value, currency, locale=locale)


def zone(name: str | None, fallback: str) -> ZoneInfo:
    """The customer's zone, else the shop's; an unknown name falls back too."""
    for candidate in (name, fallback):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


@lru_cache(maxsize=16_384)
def format_when(moment: datetime, locale: str, tz: ZoneInfo) -> str:
    """Date and time in the reader's zone, e.g. `23 нояб. 2026 г., 18:00`."""
    local = moment.astimezone(tz)
    day = format_date(local, "medium", locale=locale)
    return f"{day}, {format_time(local, 'short', locale=locale)}"


def format_day(moment: datetime, locale: str, tz: ZoneInfo) -> str:
    return format_date(moment.astimezone(tz), "long", locale=locale)


def format_span(span: timedelta, locale: str) -> str:
    """How long something will take, for a manager: `under a minute`, `12 min`,
    `1 h 5 min` (the campaign card, its live progress and its preview)."""
    minutes = int(span.total_seconds() // 60)
    if minutes < 1:
        return gettext("under a minute", locale)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return gettext("{hours} h {minutes} min", locale).format(hours=hours, minutes=minutes)
    return gettext("{minutes} min", locale).format(minutes=minutes)
