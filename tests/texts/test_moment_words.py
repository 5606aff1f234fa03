"""The moments in the staff's card and the shopper's rewards history: the birthday the
shop sent (the day, never the year), the messages and the codes by what they were for."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.db.models import CodeSource, Delivery
from bot.texts.customer_card import render_card
from bot.texts.history import given_for
from tests.texts.test_customer_card import full_card

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(("locale", "day", "reason"), [
    ("ru", "День рождения: 12 марта", "день рождения: доставлено"),
    ("en", "Birthday: March 12", "birthday: delivered"),
])
def test_the_card_shows_the_birthday_and_its_message(locale, day, reason) -> None:
    card = full_card()
    card.customer.birthday = date(1990, 3, 12)
    sent = Delivery(reason="birthday", status="sent", sent_at=NOW - timedelta(hours=2),
                    due_at=NOW - timedelta(hours=3))
    text = render_card(replace(card, messages=[sent]), now=NOW, locale=locale,
                       tz=ZoneInfo("Europe/Moscow"), currency="RUB")
    assert day in text.splitlines() and "1990" not in text
    assert any(line.startswith("• ") and line.endswith(reason) for line in text.splitlines())


@pytest.mark.parametrize(("source", "ru", "en"), [
    (CodeSource.ANNIVERSARY, "за ещё один год с нами", "for another year with us"),
    (CodeSource.BIRTHDAY, "ко дню рождения", "for your birthday"),
])
def test_the_history_says_what_they_were_for(source, ru, en) -> None:
    assert (given_for(source, "ru"), given_for(source, "en")) == (ru, en)
