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
from babel.dates import format_date, format_time, get_timezone_location
from babel.numbers import format_currency, format_decimal, get_currency_precision
from babel.numbers import format_percent as format_babel_percent
from babel.support import NullTranslations, Translations

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"
LOCALES = ("ru", "en")
DEFAULT_LOCALE = "ru"
# Each language by its own name, for whoever picks one.
LANGUAGES = {"ru": "🇷🇺 Русский", "en": "🇬🇧 English"}
# Time zones offered to pick from; any other IANA name can be typed.
COMMON_ZONES = (
    "Europe/Kaliningrad",
    "Europe/Moscow",
    "Europe/Samara",
    "Asia/Yekaterinburg",
    "Asia/Novosibirsk",
    "Asia/Vladivostok",
)


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
    """`150000, "RUB", "ru"` → `'1 500,00 ₽'` (with no-break spaces), `"en"` → `'₽1,500'`;
    whole amounts drop the kopecks, since shoppers read "1 500 ₽" faster. Cached: Babel
    takes ~0.1 ms a call, which checkout's validation messages would pay on every request."""
    value = minor_to_decimal(amount, currency)
    whole = value == value.to_integral_value()
    return format_currency(value, currency, format=_money_pattern(currency, locale, whole),
                           locale=locale, currency_digits=not whole)


@cache
def _money_pattern(currency: str, locale: str, whole: bool) -> str:
    """The locale's currency pattern, without decimals for a whole amount, and with the
    currency's own sign where the locale knows only its code (English has "RUB4,000"
    for roubles: "₽4,000" reads as "$4,000" does)."""
    parsed = Locale.parse(locale)
    pattern = parsed.currency_formats["standard"].pattern
    if whole:
        pattern = pattern.replace(".00", "")
    if parsed.currency_symbols.get(currency, currency) == currency:
        signs = (Locale.parse(other).currency_symbols.get(currency) for other in LOCALES)
        sign = next((sign for sign in signs if sign and sign != currency), None)
        if sign is not None:
            pattern = pattern.replace("¤", f"'{sign}'")
    return pattern


def format_count(n: float, locale: str) -> str:
    """`7484, "ru"` → `'7 484'`; `2.5` → `'2,5'`: a number with the locale's grouping
    and decimal sign."""
    return format_decimal(n, locale=locale)


def format_days(days: int, locale: str) -> str:
    """`1 день / 2 дня / 5 дней`, `1 day / 5 days`: a number of days with its plural."""
    return ngettext("{n} day", "{n} days", days, locale).format(n=format_count(days, locale))


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


def zone_name(name: str, locale: str) -> str:
    """A time zone as people say it, in the reader's language: `Europe/Moscow` →
    "Москва (UTC+3)" / "Moscow (UTC+3)"; a name Babel does not know, as it is."""
    try:
        city = get_timezone_location(name, locale=locale, return_city=True)
        offset = datetime.now(ZoneInfo(name)).utcoffset() or timedelta()
    except (LookupError, ValueError, ZoneInfoNotFoundError):
        return name
    minutes = int(offset.total_seconds() // 60)
    hours, rest = divmod(abs(minutes), 60)
    sign = "+" if minutes >= 0 else "−"
    return f"{city} (UTC{sign}{hours}{f':{rest:02d}' if rest else ''})"


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
