"""The table of refusals: every code has its meaning, and a text reads with its numbers."""

from __future__ import annotations

import pytest

from bot.config import GuardrailSettings
from bot.promo.codes.guardrail import judge
from bot.promo.codes.issuing import refusal
from bot.promo.customers.tiers import Tier
from bot.promo.errors import DomainError, ErrorCode
from bot.texts.errors import MEANINGS, Reader, refusal_text


def test_every_code_has_a_meaning() -> None:
    assert set(MEANINGS) == set(ErrorCode)


def test_api_statuses() -> None:
    statuses = {code.value: meaning.status for code, meaning in MEANINGS.items()}
    assert statuses["unknown_order"] == statuses["unknown_customer"] == 404
    assert statuses["order_customer_mismatch"] == statuses["cart_customer_mismatch"] == 409
    assert statuses["conflict"] == 409
    assert statuses["invalid_phone"] == statuses["invalid_count"] == 422
    assert statuses["invalid_limit"] == statuses["invalid_expiry"] == 422
    # Business rules refuse with 409, with the numbers; 422 is for a malformed request.
    for rule in (
        "guardrail",
        "budget",
        "campaign_stopped",
        "code_space_exhausted",
        "already_revoked",
        "bad_transition",
    ):
        assert statuses[rule] == 409, rule


def test_an_unknown_code_is_refused_at_the_raise() -> None:
    with pytest.raises(ValueError):
        DomainError("no_such_code")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (
            "en",
            "⛔ Over your monthly discount budget: this would cost about ₽500, and you "
            "have ₽200 left of ₽1,000 (spent ₽800 this month).",
        ),
        (
            "ru",
            "⛔ Превышен месячный бюджет скидок: это обойдётся примерно в 500\xa0₽, а "
            "осталось 200\xa0₽ из 1\xa0000\xa0₽ (в этом месяце потрачено 800\xa0₽).",
        ),
    ],
)
def test_numbers_are_worded_for_the_reader(locale: str, expected: str) -> None:
    error = DomainError(
        ErrorCode.BUDGET,
        "over the budget",
        budget=100_000,
        spent=80_000,
        requested=50_000,
        left=20_000,
    )
    assert refusal_text(error, Reader(locale=locale, currency="RUB")) == expected


def test_a_code_without_words_shows_its_detail() -> None:
    error = DomainError(ErrorCode.INVALID_EXPIRY, "the expiry date is in the past")
    assert refusal_text(error, Reader(locale="en", currency="RUB")) == (
        "⛔ Refused: the expiry date is in the past"
    )


def test_a_campaign_state_is_named_in_the_readers_language() -> None:
    error = DomainError(
        ErrorCode.BAD_TRANSITION, "not from this state", status="stopped", action="resume"
    )
    assert refusal_text(error, Reader(locale="ru", currency="RUB")) == (
        "Кампания сейчас «остановлена», действие «resume» для неё недоступно."
    )


def _tier_refusal(stacking: str, percent: int, tier: Tier) -> DomainError:
    guardrail = GuardrailSettings(stacking=stacking)  # ceiling 18 % on a 5 000 ₽ order
    check = judge(guardrail, 500_000, "fallback", discount_type="percent", value=percent, tier=tier)
    return refusal(check)


TOP = Tier(4, 10_000_000, 12, free_shipping=True)


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (
            "en",
            "⛔ Refused by the margin guardrail: the customer's loyalty level 12% + code 18% + "
            "free shipping 6% = 36%, above the ceiling 18% (net profit per order ₽1,500 ÷ "
            "average order ₽5,000, less a safety margin of 40%).",
        ),
        (
            "ru",
            "⛔ Превышен потолок по марже: уровень покупателя 12\xa0% + код 18\xa0% + "
            "бесплатная доставка 6\xa0% = 36\xa0%, а потолок — 18\xa0% (чистая прибыль с "
            "заказа 1\xa0500\xa0₽ ÷ средний чек 5\xa0000\xa0₽, минус запас 40\xa0%).",
        ),
    ],
)
def test_the_tier_and_the_code_add_up_in_the_readers_words(locale: str, expected: str) -> None:
    error = _tier_refusal("additive", 18, TOP)
    assert refusal_text(error, Reader(locale=locale, currency="RUB")) == expected
    assert error.message == "tier 12% + code 18% + free shipping 6% = 36% > ceiling 18%"


@pytest.mark.parametrize(
    ("locale", "tier", "expected"),
    [
        (
            "en",
            Tier(3, 5_000_000, 12),
            "⛔ This code would never apply: the customer's loyalty level already gives 12% ≥ the "
            "code's 10%. Without stacking, an order gets the larger of the two.",
        ),
        (
            "ru",
            Tier(3, 5_000_000, 12),
            "⛔ Этот код никогда не сработает: уровень покупателя уже "
            "даёт 12\xa0% ≥ код 10\xa0%. Скидки не суммируются: заказ получает большую из двух.",
        ),
        (
            "en",
            TOP,
            "⛔ This code would never apply: the customer's loyalty level already gives 12% + "
            "free shipping 6% = 18% ≥ the code's 10%. Without stacking, an order gets the larger "
            "of the two.",
        ),
    ],
)
def test_a_tier_that_outranks_the_code_is_named(locale: str, tier: Tier, expected: str) -> None:
    error = _tier_refusal("exclusive", 10, tier)
    assert refusal_text(error, Reader(locale=locale, currency="RUB")) == expected
    assert error.message.startswith(f"the customer's tier already gives {tier.percent}%")
