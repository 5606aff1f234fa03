"""The parsers settings (and campaigns' own ladders) go through: what they take, and that
whatever they refuse is a ValueError with what to write instead, never another error."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from bot.config.values import (
    Rung,
    comeback_steps,
    parse_clock,
    parse_offer,
    parse_rungs,
    parse_window,
    split_commas,
)


def test_split_commas() -> None:
    assert split_commas(" a, b,,c ,") == ["a", "b", "c"]
    assert split_commas("") == []
    assert split_commas(["a b"]) == ["a b"]


@pytest.mark.parametrize(("text", "window"), [
    ("90m", timedelta(minutes=90)), (" 24h", timedelta(hours=24)), ("2w", timedelta(weeks=2)),
])
def test_windows(text: str, window: timedelta) -> None:
    assert parse_window(text) == window


@pytest.mark.parametrize("text", ["", "0d", "1y", "d", "-1d", "99999999999w"])
def test_bad_windows(text: str) -> None:
    with pytest.raises(ValueError, match="bad window"):
        parse_window(text)


def test_clock() -> None:
    assert parse_clock(" 8:05 ") == time(8, 5)
    for bad in ("24:00", "11", "11:60", "11:5", "noon"):
        with pytest.raises(ValueError, match="HH:MM"):
            parse_clock(bad)


def test_rungs_sorted_scaled_and_checked() -> None:
    assert parse_rungs(["90:12 + fs", "60:10"]) == (Rung(60, 10), Rung(90, 12, True))
    assert parse_rungs(["99.50:2"], scale=2) == (Rung(9950, 2),)
    for bad in ("60", "x:1", "60:101", "60:-1", "0:5", "-5:3", "1.5:5", "1e3:5"):
        with pytest.raises(ValueError, match="threshold"):
            parse_rungs([bad])  # counts
    for bad in ("inf:5", "nan:5", "99.505:2", "0:5", "5000:x"):
        with pytest.raises(ValueError, match="threshold"):
            parse_rungs([bad], scale=2)  # money, in minor units
    with pytest.raises(ValueError, match="same threshold"):
        parse_rungs(["60:10", "60:12"])


def test_offer() -> None:
    assert parse_offer("5") == Rung(0, 5)
    assert parse_offer("0+fs") == Rung(0, 0, True)
    for bad in ("", "x", "101", "5:5"):
        with pytest.raises(ValueError, match="'percent' or 'percent\\+fs'"):
            parse_offer(bad)


def test_comeback_steps() -> None:
    ladder = (Rung(60, 10), Rung(90, 12, True))
    assert comeback_steps(ladder, 30, Rung(0, 5)) == (
        (Rung(30, 5), True), (Rung(60, 10), False), (Rung(90, 12, True), False))
    assert comeback_steps(ladder, 0, Rung(0, 5)) == ((ladder[0], False), (ladder[1], False))
    with pytest.raises(ValueError, match="'new but silent' must come before"):
        comeback_steps(ladder, 60, Rung(0, 5))
    with pytest.raises(ValueError, match="a percent, free shipping, or both"):
        comeback_steps((Rung(60, 0),), 0, Rung(0, 5))
    with pytest.raises(ValueError, match="a percent, free shipping, or both"):
        comeback_steps(ladder, 30, Rung(0, 0))
