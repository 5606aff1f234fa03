"""The table of refusals: every code has its meaning, and a text reads with its numbers."""

from __future__ import annotations

import pytest

from bot.promo.errors import DomainError, ErrorCode
from bot.texts.errors import MEANINGS, Reader, refusal_text


def test_every_code_has_a_meaning() -> None:
    assert set(MEANINGS) == set(ErrorCode)


def test_api_statuses() -> None:
    statuses = {code.value: meaning.status for code, meaning in MEANINGS.items()}
    assert statuses["unknown_order"] == statuses["unknown_customer"] == 404
    assert statuses["order_customer_mismatch"] == statuses["cart_customer_mismatch"] == 409
    assert statuses["conflict"] == 409
    assert statuses["guardrail"] == statuses["invalid_phone"] == 422


def test_an_unknown_code_is_refused_at_the_raise() -> None:
    with pytest.raises(ValueError):
        DomainError("no_such_code")  # type: ignore[arg-type]


@pytest.mark.parametrize(("locale", "expected"), [
    ("en", "⛔ Over your monthly discount budget: this would cost about RUB500, and you "
           "have RUB200 left of RUB1,000 (spent RUB800 this month)."),
    ("ru", "⛔ Превышен месячный бюджет скидок: это обойдётся примерно в 500\xa0₽, а "
           "осталось 200\xa0₽ из 1\xa0000\xa0₽ (в этом месяце потрачено 800\xa0₽)."),
])
def test_numbers_are_worded_for_the_reader(locale: str, expected: str) -> None:
    error = DomainError(ErrorCode.BUDGET, "over the budget", budget=100_000, spent=80_000,
                        requested=50_000, left=20_000)
    assert refusal_text(error, Reader(locale=locale, currency="RUB")) == expected


def test_a_code_without_words_shows_its_detail() -> None:
    error = DomainError(ErrorCode.INVALID_EXPIRY, "the expiry date is in the past")
    assert refusal_text(error, Reader(locale="en", currency="RUB")) == (
        "⛔ Refused: the expiry date is in the past")


def test_a_campaign_state_is_named_in_the_readers_language() -> None:
    error = DomainError(ErrorCode.BAD_TRANSITION, "not from this state", status="stopped",
                        action="resume")
    assert refusal_text(error, Reader(locale="ru", currency="RUB")) == (
        "Кампания в состоянии «остановлена»: «resume» к ней неприменимо.")
