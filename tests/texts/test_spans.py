"""How long a campaign will take, as the card, the live progress and the CLI say it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.i18n import format_span


@pytest.mark.parametrize(("span", "ru", "en"), [
    (timedelta(seconds=59), "меньше минуты", "under a minute"),
    (timedelta(minutes=12, seconds=40), "12 мин", "12 min"),
    (timedelta(hours=1, minutes=5), "1 ч 5 мин", "1 h 5 min"),
    (timedelta(hours=26), "26 ч 0 мин", "26 h 0 min"),
])
def test_span_in_both_languages(span: timedelta, ru: str, en: str) -> None:
    assert format_span(span, "ru") == ru
    assert format_span(span, "en") == en
