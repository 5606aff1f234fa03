"""The customer card as the staff read it: every part, in both languages, escaped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config.values import Cap
from bot.db.models import CodeStatus, Customer, Delivery, DiscountType, TelegramAccount
from bot.promo.codes.offers import Offer
from bot.promo.customers.card import CapState, Card
from bot.promo.customers.tiers import Tier, TierStatus
from bot.promo.surveys.answers import Given
from bot.texts.customer_card import render_card, state_name, window_text
from bot.texts.segments import segment_name
from bot.texts.wording import sample_code

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
MOSCOW = ZoneInfo("Europe/Moscow")  # times below are Moscow's; Babel puts U+202F before "PM", "г."


@pytest.mark.parametrize(("window", "en", "ru"), [
    (timedelta(days=1), "1 day", "1 день"),
    (timedelta(days=3), "3 days", "3 дня"),
    (timedelta(days=7), "7 days", "7 дней"),
    (timedelta(days=21), "21 days", "21 день"),
    (timedelta(hours=36), "36 h", "36 ч"),
    (timedelta(minutes=90), "1.5 h", "1,5 ч"),
])
def test_a_caps_window_reads_in_days_when_whole(window: timedelta, en: str, ru: str) -> None:
    assert window_text(window, "en") == en
    assert window_text(window, "ru") == ru


def full_card() -> Card:
    """Blocked in Telegram, opted out, one code used up and one not yet delivered, a
    message sent two hours ago, the daily cap full."""
    customer = Customer(external_id="c-<1>", name="Anna & Co", net_spend=2_500_000,
                        orders_count=3, last_order_at=None, marketing_opt_in=False)
    used = sample_code(Offer(DiscountType.FIXED, 50_000, currency="RUB"),
                       expires_at=NOW + timedelta(days=3))
    used.code, used.status, used.usage_limit, used.used_count = "A<1>", CodeStatus.ACTIVE, 1, 1
    waiting = sample_code(Offer(DiscountType.PERCENT, 10))
    waiting.status, waiting.usage_limit, waiting.used_count = CodeStatus.ACTIVE, 1, 0
    sent = Delivery(reason="campaign", status="sent", sent_at=NOW - timedelta(hours=2),
                    due_at=NOW - timedelta(hours=3))
    return Card(
        customer, TelegramAccount(id=5001, username="anna_k", is_blocked=True),
        TierStatus("spend", 2_500_000, Tier(2, 1_000_000, 5), None, 0, 1.0), ["regulars"],
        [used, waiting], [sent],
        [CapState(Cap(1, timedelta(days=1)), 1, NOW + timedelta(hours=22)),
         CapState(Cap(3, timedelta(days=7)), 1, None)],
        # The playbook's reward survey (worded in the reader's language) and one typed.
        [Given(2, "reward", "Which reward for your loyalty would you like most?",
               "Free delivery", 1, NOW),
         Given(1, None, "Tea <or> coffee?", None, None, NOW)],
    )


def test_the_whole_card_in_english() -> None:
    text = render_card(full_card(), now=NOW, locale="en", tz=MOSCOW, currency="RUB")
    assert text == "\n".join([
        "👤 Anna &amp; Co (shop id c-&lt;1&gt;)",
        "Telegram: 5001 @anna_k (blocked the bot)",
        "Level: 2 (5%), net spend ₽25,000",
        "Orders: 3, last: —",
        "Segments: regulars",
        "Promotional messages: off",
        "",
        "Codes:",
        "• <code>A&lt;1&gt;</code> ₽500 off — redeemed",
        "• <code>SAMPLE1234</code> 10% off — not delivered yet",
        "",
        "Recent messages:",
        "• Jun 1, 2026, 1:00\u202fPM campaign: delivered",
        "",
        "Frequency caps: 1 of 1 per 1 day (full until Jun 2, 2026, 1:00\u202fPM); "
        "1 of 3 per 7 days",
        "",
        "Survey answers:",
        "• #2 Which reward for your loyalty would you like most? — Free delivery",
        "• #1 Tea &lt;or&gt; coffee? — answer withdrawn",
    ])


def test_the_card_in_russian() -> None:
    text = render_card(full_card(), now=NOW, locale="ru", tz=MOSCOW, currency="RUB")
    assert "Telegram: 5001 @anna_k (бот заблокирован)" in text
    assert "Уровень: 2 (5\xa0%), сумма покупок 25\xa0000\xa0₽" in text
    assert "Сегменты: постоянные покупатели" in text
    assert "• <code>SAMPLE1234</code> скидка 10\xa0% — ещё не доставлен" in text
    assert "кампания: доставлено" in text
    assert ("Лимиты сообщений: 1 из 1 за 1 день (исчерпан до 2 июн. 2026\u202fг., "
            "13:00); 1 из 3 за 7 дней") in text
    assert text.endswith("Ответы в опросах:\n• #2 Какую награду за лояльность вы хотели бы "
                         "больше всего? — Бесплатную доставку\n• #1 Tea &lt;or&gt; coffee? — "
                         "ответ отозван")


@pytest.mark.parametrize(("segment", "en", "ru"), [
    ("almost_lost", "almost lost", "почти потерянные"),
    ("new_silent", "new but silent", "новые, но молчат"),
    ("comeback_60", "silent 60–90 days", "молчат 60–90 дней"),
    ("someday_new", "someday_new", "someday_new"),  # not known yet: as it is
])
def test_segments_read_in_words(segment: str, en: str, ru: str) -> None:
    assert (segment_name(segment, "en"), segment_name(segment, "ru")) == (en, ru)


def test_an_active_code_reads_as_a_code_not_as_a_campaign() -> None:
    assert (state_name("active", "ru"), state_name("active", "en")) == ("действует", "active")


def test_an_empty_card() -> None:
    customer = Customer(external_id="c-2", name=None, net_spend=0, orders_count=0,
                        last_order_at=None, marketing_opt_in=True)
    card = Card(customer, None, TierStatus("spend", 0, None, None, 0, 0.0), [], [], [], [], [])
    assert render_card(card, now=NOW, locale="en", tz=MOSCOW, currency="RUB") == "\n".join([
        "👤 — (shop id c-2)", "Telegram: not linked", "Level: 0 (0%), net spend ₽0",
        "Orders: 0, last: —", "Segments: —", "Promotional messages: on", "",
        "Codes: none", "", "Recent messages: none", "", "Frequency caps: —",
    ])
