"""Time windows as the settings write them: caps (`3/7d`), minimum gaps (`comeback:14d`)
and quiet hours (`22:00-08:00`).

Pure parsers and values, no database: the settings check their text with them at load,
and `bot.delivery.caps` applies them. They live here, beside the settings rather than in
`bot/delivery/`, so that the settings never import the delivery package (which takes the
settings whole: that was an import cycle).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_WINDOW = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")


def parse_window(text: str) -> timedelta:
    """`90m`, `24h`, `1d`, `2w` → a timedelta."""
    match = _WINDOW.match(text)
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"bad window {text!r}: use a positive number with s, m, h, d or w")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


@dataclass(frozen=True, slots=True)
class Cap:
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


def _clock(text: str) -> time:
    match = _CLOCK.match(text)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError(f"bad time of day {text!r}: use HH:MM")
    return time(int(match.group(1)), int(match.group(2)))


def _at(day: date, moment: time, tz: ZoneInfo) -> datetime:
    """Wall-clock `moment` on `day` in `tz`, as UTC. A time skipped by a DST jump is read
    with the offset before the jump (02:30 on a spring-forward day → 03:30 local)."""
    return datetime.combine(day, moment, tzinfo=tz).astimezone(UTC)


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
        quiet = cls(_clock(start), _clock(end))
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
