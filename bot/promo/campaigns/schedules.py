"""A campaign's own schedule as managers choose it: once now, daily at a time, weekly on
a day at a time, or (the expert's way) any crontab. Stored as a crontab that the
scheduler reads in the shop's time zone, so "daily at 11:00" means 11:00 in the shop.

Weekdays are written by name (`mon`): APScheduler numbers them from Monday, crontab
from Sunday, and a name means the same day to both.
"""

from __future__ import annotations

import re

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^([01]?\d|2[0-3])[:.]([0-5]\d)$")
_FIELD = re.compile(r"^[0-9a-z*/,-]+$")
_DAILY = re.compile(r"^(\d{1,2}) (\d{1,2}) \* \* \*$")
_WEEKLY = re.compile(r"^(\d{1,2}) (\d{1,2}) \* \* (mon|tue|wed|thu|fri|sat|sun)$")


def parse_time(text: str) -> tuple[int, int]:
    """`11:00` or `9.30` → (hour, minute); ValueError otherwise."""
    found = _TIME.match(text.strip())
    if found is None:
        raise ValueError(f"not a time of day: {text!r}")
    return int(found[1]), int(found[2])


def daily(hour: int, minute: int) -> str:
    return f"{minute} {hour} * * *"


def weekly(weekday: str, hour: int, minute: int) -> str:
    if weekday not in WEEKDAYS:
        raise ValueError(f"not a weekday: {weekday!r}")
    return f"{minute} {hour} * * {weekday}"


def crontab(text: str) -> str:
    """An expert's crontab (five fields), normalised; ValueError if it is not one."""
    fields = text.lower().split()
    if len(fields) != 5 or not all(_FIELD.match(field) for field in fields):
        raise ValueError(f"not a crontab: {text!r}")
    return " ".join(fields)


def preset(schedule: str) -> tuple[str, int, int, str | None] | None:
    """("daily" | "weekly", hour, minute, weekday) for a schedule a preset wrote; None for
    any other crontab."""
    if found := _DAILY.match(schedule):
        return "daily", int(found[2]), int(found[1]), None
    if found := _WEEKLY.match(schedule):
        return "weekly", int(found[2]), int(found[1]), found[3]
    return None
