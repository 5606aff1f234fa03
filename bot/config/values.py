"""The value types settings are parsed into, and their parsers.

Everything a `PROMOBOT_*` variable can hold is read here once, at load: a bad value stops
start-up naming the variable, instead of failing later inside a job. The types are small
frozen values with no behaviour beyond their own arithmetic, so the domain (caps, quiet
hours, tiers, the comeback ladder) imports them from here, and the settings import
nothing of the domain. A parser raises `ValueError` with what is wrong and what to write
instead; the settings add the variable's name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

_WINDOW = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")
_FREE_SHIPPING = "+fs"


def split_commas(value: object) -> object:
    """`"a, b,,c"` → `["a", "b", "c"]`: what people type in an environment variable.
    Anything but a string (a list, values already parsed) is returned as it is."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


# --- time windows: caps (`3/7d`), minimum gaps (`comeback:14d`), quiet hours -----------

def parse_window(text: str) -> timedelta:
    """`90m`, `24h`, `1d`, `2w` → a timedelta."""
    match = _WINDOW.match(text)
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"bad window {text!r}: use a positive number with s, m, h, d or w")
    try:
        return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    except OverflowError:
        raise ValueError(f"bad window {text!r}: too long") from None


def parse_clock(text: str) -> time:
    """`"08:00"` → time(8, 0)."""
    match = _CLOCK.match(text)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError(f"bad time of day {text!r}: use HH:MM")
    return time(int(match.group(1)), int(match.group(2)))


@dataclass(frozen=True, slots=True)
class Cap:
    """At most `count` promotional messages to one customer in any `window`."""

    count: int
    window: timedelta


def parse_caps(items: Iterable[str]) -> tuple[Cap, ...]:
    """`["1/1d", "3/7d"]` → caps."""
    caps = []
    for item in items:
        count, sep, window = item.partition("/")
        if not sep or not count.strip().isdigit() or int(count) <= 0:
            raise ValueError(f"bad cap {item!r}: use count/window, e.g. 3/7d")
        caps.append(Cap(int(count), parse_window(window)))
    return tuple(caps)


def parse_gaps(items: Iterable[str]) -> dict[str, timedelta]:
    """`["comeback:14d"]` → {"comeback": 14 days}."""
    gaps = {}
    for item in items:
        reason, sep, window = item.rpartition(":")
        if not sep or not reason.strip():
            raise ValueError(f"bad gap {item!r}: use reason:window, e.g. comeback:14d")
        gaps[reason.strip()] = parse_window(window)
    return gaps


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily local-time window (may span midnight) in which promotions wait."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours | None:
        """`"22:00-08:00"` → QuietHours; `""` → None (no quiet hours)."""
        if not text.strip():
            return None
        start, sep, end = text.partition("-")
        if not sep:
            raise ValueError(f"bad quiet hours {text!r}: use HH:MM-HH:MM")
        quiet = cls(parse_clock(start), parse_clock(end))
        if quiet.start == quiet.end:
            raise ValueError("quiet hours must not start and end at the same time")
        return quiet

    def _contains(self, local: time) -> bool:
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def release_at(self, now: datetime, tz: ZoneInfo) -> datetime | None:
        """When a message due `now` may go out: None if now is outside the quiet hours,
        else the next local `end` (e.g. 08:00 the next morning), in UTC.

        Computed on the local calendar, not by adding hours, so that the 23- and 25-hour
        days when the clocks change still end the night at 08:00 local time.
        """
        local = now.astimezone(tz)
        if not self._contains(local.time().replace(tzinfo=None)):
            return None
        day = local.date()
        if local.time().replace(tzinfo=None) >= self.end:
            day += timedelta(days=1)
        return _at(day, self.end, tz)


def _at(day: date, moment: time, tz: ZoneInfo) -> datetime:
    """Wall-clock `moment` on `day` in `tz`, as UTC. A time skipped by a DST jump is read
    with the offset before the jump (02:30 on a spring-forward day → 03:30 local)."""
    return datetime.combine(day, moment, tzinfo=tz).astimezone(UTC)


# --- ladders: tiers (`5000:3`), the order-count ladder (`3:5`), comeback (`60:10+fs`) ---

@dataclass(frozen=True, slots=True)
class Rung:
    """One step of a ladder: from `threshold` on, `percent` off (and free shipping).

    Spend tiers (threshold in minor units), the order-count tier ladder (orders) and the
    comeback ladder (days of silence) are all written `threshold:percent[+fs]`; an offer
    on its own (`percent[+fs]`) is a rung whose place is set elsewhere (threshold 0)."""

    threshold: int
    percent: int
    free_shipping: bool = False


def _percent(text: str) -> tuple[int, bool]:
    """`"12+fs"` → (12, True); raises ValueError (without a message) on anything else."""
    free_shipping = text.endswith(_FREE_SHIPPING)
    if free_shipping:
        text = text[: -len(_FREE_SHIPPING)]
    percent = int(text)
    if not 0 <= percent <= 100:
        raise ValueError
    return percent, free_shipping


def _threshold(text: str, scale: int | None) -> int:
    """A count (`scale` None) or money in major units scaled to minor ones, exactly."""
    if scale is None:
        return int(text)
    amount = Decimal(text)
    if not amount.is_finite() or amount.scaleb(scale) != int(amount.scaleb(scale)):
        raise ValueError
    return int(amount.scaleb(scale))


def parse_rungs(specs: Iterable[str], scale: int | None = None) -> tuple[Rung, ...]:
    """`("5000:3", "100000:12+fs")` → rungs sorted by threshold; `scale` is the currency
    precision when thresholds are money in major units ("5000" ₽ → 500 000 kopecks),
    None for counts."""
    rungs: list[Rung] = []
    for spec in specs:
        threshold_text, sep, percent_text = spec.strip().lower().replace(" ", "").partition(":")
        try:
            if not sep:
                raise ValueError
            threshold = _threshold(threshold_text, scale)
            percent, free_shipping = _percent(percent_text)
        except (ValueError, InvalidOperation):
            raise ValueError(
                f"{spec!r}: expected 'threshold:percent' or 'threshold:percent+fs'"
                " (a positive threshold, a percent 0..100)"
            ) from None
        if threshold <= 0:
            raise ValueError(f"{spec!r}: the threshold must be positive")
        rungs.append(Rung(threshold, percent, free_shipping))
    rungs.sort(key=lambda rung: rung.threshold)
    if len({rung.threshold for rung in rungs}) != len(rungs):
        raise ValueError("two steps have the same threshold")
    return tuple(rungs)


_ACTION = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def parse_actions(specs: Iterable[str]) -> dict[str, Rung]:
    """`("app_install:5", "newsletter:3+fs")` → each action's offer (`parse_offer`)."""
    found: dict[str, Rung] = {}
    for spec in specs:
        name, sep, offer = str(spec).strip().lower().partition(":")
        if not sep or not _ACTION.match(name) or name in found:
            raise ValueError(f"{spec!r}: expected 'action:percent' or 'action:percent+fs', "
                             "an action of lower-case letters, digits and _, each once")
        found[name] = parse_offer(offer)
    return found


def parse_category_ceilings(specs: Iterable[str]) -> dict[str, Decimal]:
    """`("Чай:12", "Кофе:8.5")` → each category's ceiling in percent. The category is
    everything before the last colon, as the shop spells it in its order lines."""
    found: dict[str, Decimal] = {}
    for spec in specs:
        name, sep, percent = str(spec).strip().rpartition(":")
        name = name.strip()
        try:
            ceiling = Decimal(percent.strip())
            fits = 0 <= ceiling <= 100
        except InvalidOperation:
            fits = False
        if not sep or not name or name in found or not fits:
            raise ValueError(f"{spec!r}: expected 'category:percent' (0–100), each category "
                             "once")
        found[name] = ceiling
    return found


def parse_offer(text: str) -> Rung:
    """`"5"`, `"5+fs"`, `"0+fs"` → a rung without a threshold (0): an offer alone."""
    try:
        percent, free_shipping = _percent(str(text).strip().lower().replace(" ", ""))
    except ValueError:
        raise ValueError(
            f"{text!r}: expected 'percent' or 'percent+fs' (a percent 0..100)"
        ) from None
    return Rung(0, percent, free_shipping)


def comeback_steps(
    ladder: Sequence[Rung], new_silent_days: int, new_silent_offer: Rung
) -> tuple[tuple[Rung, bool], ...]:
    """The comeback steps in order as (rung, only for "new but silent" customers): the
    ladder, after a first step at `new_silent_days` (0 = none) with `new_silent_offer`.

    Checked here, for the settings at load and for a campaign's own ladder alike: every
    step gives something, and "new but silent" comes before the ladder's first step."""
    steps = [(rung, False) for rung in ladder]
    if new_silent_days:
        if ladder and new_silent_days >= ladder[0].threshold:
            raise ValueError("'new but silent' must come before the ladder's first step")
        first = Rung(new_silent_days, new_silent_offer.percent, new_silent_offer.free_shipping)
        steps.insert(0, (first, True))
    if any(rung.percent == 0 and not rung.free_shipping for rung, _new in steps):
        raise ValueError("a comeback step gives a percent, free shipping, or both")
    return tuple(steps)
