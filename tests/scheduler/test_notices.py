"""Message texts: every reason renders in ru and en, the code is tap-to-copy, user data
is escaped."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.db.models import Delivery, PromoCode
from bot.delivery.outbox import Reason
from bot.texts.notices import render_notice

TZ = ZoneInfo("Europe/Moscow")
PAYLOADS = {
    Reason.COMEBACK: {"category": "<Чай & кофе>"},
    Reason.CAMPAIGN: {"message": {"ru": "Привет <b>", "en": "Hi <b>"}},
    Reason.REVIEW_ASK: {"order": "A-1", "percent": 5, "photo_percent": 10},
    Reason.REVIEW_REWARD: {"order": "A-1", "has_photo": True},
    Reason.CART: {},
    Reason.REFERRAL_REWARD: {"role": "referrer"},
    Reason.EXPIRY_REMINDER: {},
    Reason.TIER_UP: {"tier": 2, "percent": 5, "free_shipping": True},
    Reason.MANUAL: {},
    Reason.WELCOME: {},
    Reason.ACTION_REWARD: {"action": "app_install"},
    Reason.SURVEY_REWARD: {"survey": 1},
    Reason.ANNIVERSARY: {"years": 2},
    Reason.BIRTHDAY: {"name": "Анна"},
    Reason.TIER_NUDGE: {"tier": 2, "percent": 5, "left": 120_000, "basis": "spend",
                        "currency": "RUB"},
}


def _code() -> PromoCode:
    return PromoCode(
        code="AB12CD34EF", discount_type="percent", discount_value=10, free_shipping=False,
        currency="RUB", min_order=100_000, max_discount=None, include_categories=[],
        exclude_categories=[], include_skus=[], exclude_skus=[], valid_days=30,
        expires_at=datetime(2026, 7, 1, 9, 0, tzinfo=UTC),
    )


# A survey goes out as a poll (`bot.texts.surveys.survey_poll`), never as a text; a leak
# alert goes to staff and carries no code of its own: `tests/texts/test_leak_alert.py`.
SHOPPER_REASONS = [reason for reason in Reason
                   if reason not in (Reason.SURVEY, Reason.LEAK_ALERT)]


@pytest.mark.parametrize("reason", SHOPPER_REASONS)
@pytest.mark.parametrize("locale", ["ru", "en"])
def test_every_reason_renders(reason, locale):
    delivery = Delivery(reason=reason, payload=PAYLOADS[reason])
    text = render_notice(delivery, code=_code(), locale=locale, tz=TZ)
    assert "<code>AB12CD34EF</code>" in text
    assert "<b>" not in text.replace("<b>&lt;", "") or reason is Reason.COMEBACK
    assert "&lt;" in text or reason not in (Reason.COMEBACK, Reason.CAMPAIGN)
    assert ("10" in text) and ("2026" in text)


def test_texts_are_translated():
    delivery = Delivery(reason=Reason.COMEBACK, payload={"category": "tea"})
    ru = render_notice(delivery, code=None, locale="ru", tz=TZ)
    en = render_notice(delivery, code=None, locale="en", tz=TZ)
    assert ru != en and "tea" in ru and "tea" in en
    nudge = Delivery(reason=Reason.TIER_NUDGE,
                     payload={"tier": 2, "percent": 5, "left": 2, "basis": "orders"})
    assert "2" in render_notice(nudge, code=None, locale="ru", tz=TZ)


def test_unknown_reason_is_an_error():
    with pytest.raises(ValueError):
        render_notice(Delivery(reason="nope", payload={}), code=None, locale="ru", tz=TZ)
