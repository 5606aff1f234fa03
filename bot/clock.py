"""The one source of "now", so that tests can move time, and the shop's calendar around it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, tzinfo

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def month_start(now: datetime, zone: tzinfo) -> datetime:
    """The first moment of the calendar month `now` falls in at `zone`, in `now`'s zone."""
    local = now.astimezone(zone)
    start = datetime.combine(local.date().replace(day=1), time(0), tzinfo=zone)
    return start.astimezone(now.tzinfo)
