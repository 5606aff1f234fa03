"""A campaign's budget in Telegram: `/campaign budget <id> <amount> [uses]` sets and
clears it, bad input is answered in the manager's language, and the card and `/stats` show
what is spent and left (the spending itself is the checkout's, tested with it)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import update

import tests.support.factories as factories
import tests.support.updates as u
from bot.db import Database
from bot.db.models import Campaign
from tests.support.chat import Chat
from tests.support.managers import ANALYST, MANAGER, UploadingBotAPI, add_staff, audit_rows


@pytest.fixture
async def api() -> AsyncIterator[UploadingBotAPI]:
    async with UploadingBotAPI() as server:
        yield server


async def stored(db: Database, campaign_id: int) -> tuple[int | None, int | None]:
    async with db.read_session() as session:
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
        return campaign.budget_amount, campaign.budget_uses


async def spend(db: Database, campaign_id: int, amount: int, uses: int, **budget: int) -> None:
    """What the checkout's redemptions would have taken, written straight."""
    async with db.session() as session:
        await session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id)
            .values(spent_amount=amount, spent_uses=uses, **budget)
        )
        await session.commit()


async def test_set_change_and_clear_the_budget(chat: Chat, db, clock) -> None:
    await add_staff(db, MANAGER, "manager")
    campaign = await factories.campaign(db, now=clock())
    card = await chat.send(u.message(MANAGER, f"/campaign {campaign.id}", language_code="en"))
    assert (
        f"💰 Budget: none (set one: /campaign budget {campaign.id} &lt;amount&gt; [uses])" in card
    )
    reply = await chat.send(
        u.message(MANAGER, f"/campaign budget {campaign.id} 50000 200", language_code="en")
    )
    assert reply.startswith("✅ Budget saved.")
    assert "💰 Budget: ₽0 of ₽50,000 spent, ₽50,000 left" in reply
    assert "🎟 Uses budget: 0 of 200 used, 200 uses left" in reply
    assert await stored(db, campaign.id) == (5_000_000, 200)
    await chat.send(u.message(MANAGER, f"/campaign BUDGET {campaign.id} - 10", language_code="en"))
    assert await stored(db, campaign.id) == (None, 10)
    reply = await chat.send(
        u.message(MANAGER, f"/campaign budget {campaign.id} 1500,50", language_code="ru")
    )
    assert "✅ Бюджет сохранён." in reply and "осталось 1\xa0500,50\xa0₽" in reply
    assert await stored(db, campaign.id) == (150_050, None)
    reply = await chat.send(
        u.message(MANAGER, f"/campaign budget {campaign.id} -", language_code="en")
    )
    assert "💰 Budget: none" in reply
    assert await stored(db, campaign.id) == (None, None)
    rows = await audit_rows(db, "campaign.budget")
    assert [r.after for r in rows] == [
        {"budget_amount": 5_000_000, "budget_uses": 200},
        {"budget_amount": None, "budget_uses": 10},
        {"budget_amount": 150_050, "budget_uses": None},
        {"budget_amount": None, "budget_uses": None},
    ]
    assert {r.actor for r in rows} == {f"tg:{MANAGER}"}


@pytest.mark.parametrize(
    ("args", "language", "expected"),
    [
        ("{id} -500", "en", "“-500” is not a budget"),
        ("{id} lots", "en", "“lots” is not a budget"),
        ("{id} 0", "en", "“0” is not a budget"),
        ("{id} 99999999999999999999", "en", "is not a budget"),
        ("{id} 1e40", "en", "“1e40” is not a budget"),
        ("{id} 10.005", "en", "“10.005” is not a budget"),
        ("{id} 5000 -3", "en", "“-3” is not a number of uses"),
        ("{id} 5000 2.5", "en", "“2.5” is not a number of uses"),
        ("{id} 5000 0", "en", "“0” is not a number of uses"),
        ("{id} 5000 99999999999", "en", "is not a number of uses"),
        ("{id} 5000 много", "ru", "«много» — не число использований"),
        ("{id} сто", "ru", "«сто» — не бюджет"),
        ("{id}", "en", "Usage: /campaign budget &lt;campaign id&gt;"),
        ("{id} 1 2 3", "en", "Usage: /campaign budget"),
        ("x 5000", "en", "Usage: /campaign budget"),
        ("", "ru", "Пример: /campaign budget 3 50000 200"),
    ],
)
async def test_bad_input_is_answered_and_changes_nothing(
    chat: Chat, db, clock, args: str, language: str, expected: str
) -> None:
    await add_staff(db, MANAGER, "manager")
    campaign = await factories.campaign(db, now=clock(), budget_amount=700_000)
    reply = await chat.send(
        u.message(
            MANAGER, "/campaign budget " + args.format(id=campaign.id), language_code=language
        )
    )
    assert expected in reply, reply
    assert await stored(db, campaign.id) == (700_000, None)
    assert await audit_rows(db) == []


async def test_unknown_campaign_and_analysts_are_refused(chat: Chat, db, clock) -> None:
    await add_staff(db, MANAGER, "manager")
    await add_staff(db, ANALYST, "analyst")
    campaign = await factories.campaign(db, now=clock())
    reply = await chat.send(u.message(MANAGER, "/campaign budget 999 5000", language_code="en"))
    assert "There is no such campaign." in reply
    reply = await chat.send(
        u.message(ANALYST, f"/campaign budget {campaign.id} 5000", language_code="en")
    )
    assert "Your role (analyst) does not allow this command." in reply
    assert await stored(db, campaign.id) == (None, None)


async def test_card_and_stats_show_spent_and_left(chat: Chat, db, clock, api) -> None:
    await add_staff(db, ANALYST, "analyst")
    campaign = await factories.campaign(db, now=clock())
    await spend(db, campaign.id, 300_000, 49, budget_amount=1_000_000, budget_uses=50)
    card = await chat.send(u.message(ANALYST, f"/campaign {campaign.id}", language_code="ru"))
    assert "💰 Бюджет: потрачено 3\xa0000\xa0₽ из 10\xa0000\xa0₽, осталось 7\xa0000\xa0₽" in card
    assert "🎟 Лимит использований: 49 из 50, осталось 1 использование" in card
    assert "исчерпан" not in card
    await chat.feed(u.message(ANALYST, f"/stats {campaign.id}", language_code="en"))
    stats = api.calls("sendMessage")[-1].text
    assert "💰 Budget: ₽3,000 of ₽10,000 spent, ₽7,000 left" in stats
    assert "🎟 Uses budget: 49 of 50 used, 1 use left" in stats
    await spend(db, campaign.id, 300_000, 50)
    card = await chat.send(u.message(ANALYST, f"/campaign {campaign.id}", language_code="ru"))
    assert "осталось 0 использований" in card
    assert (
        "⛔ Бюджет исчерпан: коды этой кампании больше не принимаются при оформлении заказа."
    ) in card
    await chat.feed(u.message(ANALYST, f"/stats {campaign.id}", language_code="en"))
    assert (
        "⛔ The budget is spent: this campaign's codes no longer apply at checkout."
        in api.calls("sendMessage")[-1].text
    )


async def test_stats_without_a_budget_say_nothing_of_it(chat: Chat, db, clock, api) -> None:
    await add_staff(db, ANALYST, "analyst")
    campaign = await factories.campaign(db, now=clock())
    await chat.feed(u.message(ANALYST, f"/stats {campaign.id}", language_code="en"))
    assert "Budget" not in api.calls("sendMessage")[-1].text
