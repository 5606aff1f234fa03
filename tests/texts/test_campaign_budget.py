"""A campaign's budget as managers read it: money through Babel, uses with their plural
forms, and a warning once either budget is spent."""

from __future__ import annotations

import pytest

from bot.promo.campaigns.budget import BudgetState
from bot.texts.campaigns import budget_lines


@pytest.mark.parametrize(
    ("left", "word"),
    [
        (1, "использование"),
        (2, "использования"),
        (4, "использования"),
        (5, "использований"),
        (11, "использований"),
        (21, "использование"),
        (22, "использования"),
        (1000, "использований"),
    ],
)
def test_uses_left_in_russian_take_their_plural_form(left: int, word: str) -> None:
    (line,) = budget_lines(BudgetState(None, 2000, spent_uses=2000 - left), "ru", "RUB")
    assert line.endswith(f"осталось {left:,}".replace(",", "\xa0") + f" {word}"), line


@pytest.mark.parametrize(
    ("left", "tail"), [(1, "1 use left"), (2, "2 uses left"), (0, "0 uses left")]
)
def test_uses_left_in_english(left: int, tail: str) -> None:
    line = budget_lines(BudgetState(None, 10, spent_uses=10 - left), "en", "RUB")[0]
    assert line.endswith(tail)


def test_money_is_formatted_for_the_reader() -> None:
    state = BudgetState(5_000_000, None, spent_amount=1_240_050)
    assert budget_lines(state, "ru", "RUB") == [
        "💰 Бюджет: потрачено 12\xa0400,50\xa0₽ из 50\xa0000\xa0₽, осталось 37\xa0599,50\xa0₽"
    ]
    assert budget_lines(state, "en", "EUR") == [
        "💰 Budget: €12,400.50 of €50,000 spent, €37,599.50 left"
    ]


def test_no_budget_no_lines_and_a_spent_one_says_so() -> None:
    assert budget_lines(BudgetState(None, None, 500, 7), "en", "RUB") == []
    lowered = BudgetState(100_000, None, spent_amount=250_000)
    assert lowered.amount_left == 0 and lowered.exhausted
    assert budget_lines(lowered, "en", "RUB")[-1] == (
        "⛔ The budget is spent: this campaign's codes no longer apply at checkout."
    )
    # One budget spent is enough: the checkout refuses on either.
    assert BudgetState(10**9, 5, spent_uses=5).exhausted
    assert not BudgetState(10**9, 5, spent_amount=10**8, spent_uses=4).exhausted
