"""Staff find their commands: `/help` by role with an example each, `/myid`, and a command
menu of their own that follows `/managers` (through the dispatcher and the fake Bot API)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

import tests.support.factories as factories
import tests.support.updates as u
from tests.support.chat import Chat
from tests.support.fake_bot_api import FakeBotAPI
from tests.support.managers import ANALYST, MANAGER, OWNER, SHOPPER, add_staff


async def help_of(chat: Chat, user_id: int, language: str = "en") -> str:
    return await chat.send(u.message(user_id, "/help", language_code=language))


async def test_an_analyst_reads_the_commands_of_an_analyst(chat: Chat, db) -> None:
    await add_staff(db, ANALYST, "analyst")
    text = await help_of(chat, ANALYST)
    assert "/codes" in text  # the shopper's commands first
    assert text.index("/codes") < text.index("Staff commands")
    assert "your role: analyst" in text
    assert "/stats — results of a campaign or of all of them" in text
    assert "<code>/stats 3 30</code>" in text and "<code>/customer @anna_k</code>" in text
    assert "/campaign — one campaign: its offer, budget and sending" in text
    assert "<code>/campaign 3</code>" in text and "/campaign new" not in text
    for command in ("/issue", "/revoke", "/bulk", "/managers"):
        assert f"\n{command} —" not in text


async def test_a_manager_also_reads_how_to_act(chat: Chat, db) -> None:
    await add_staff(db, MANAGER, "manager")
    text = await help_of(chat, MANAGER)
    assert "your role: manager" in text
    assert "\n/issue — give a customer a personal code" in text
    assert "<code>/issue +79161234567 10% 14 3000 shoes,-sale</code>" in text
    assert "<code>/campaign new</code>" in text and "\n/stats —" in text
    assert "\n/managers —" not in text


async def test_an_owner_reads_everything_in_russian(chat: Chat) -> None:
    text = await help_of(chat, OWNER, "ru")
    assert "Команды для сотрудников" in text and "ваша роль: владелец" in text
    assert "\n/managers — " in text and "<code>/managers add @olga manager 20000</code>" in text
    assert "\n/issue — " in text and "например" in text


async def test_a_shopper_reads_no_staff_commands_but_learns_of_myid(chat: Chat) -> None:
    text = await help_of(chat, SHOPPER)
    assert "/codes" in text and "/myid" in text
    assert "Staff commands" not in text and "/issue" not in text


@pytest.mark.parametrize(("language", "words"), [
    ("en", "Your Telegram id: <code>{id}</code>"),
    ("ru", "Ваш Telegram id: <code>{id}</code>"),
])
async def test_myid_tells_anyone_their_telegram_id(chat: Chat, language, words) -> None:
    text = await chat.send(u.message(4242, "/myid", language_code=language))
    assert words.format(id=4242) in text
    assert "PROMOBOT_OWNER_IDS" in text


def chat_menus(api: FakeBotAPI, chat_id: int, method: str = "setMyCommands") -> list[Any]:
    return [r for r in api.calls(method)
            if r.params.get("scope") == {"type": "chat", "chat_id": chat_id}]


async def test_managers_add_and_remove_set_the_staff_members_menu(
    chat: Chat, api: FakeBotAPI
) -> None:
    await chat.send(u.message(ANALYST, "/start", language_code="ru"))  # an account, in Russian
    await chat.send(u.message(OWNER, f"/managers add {ANALYST} analyst", language_code="en"))
    [menu] = chat_menus(api, ANALYST)
    commands = {c["command"]: c["description"] for c in menu.params["commands"]}
    assert commands["stats"] == "результаты кампании или всех кампаний"
    assert "codes" in commands and "issue" not in commands and "managers" not in commands

    await chat.send(u.message(OWNER, f"/managers add {ANALYST} manager", language_code="en"))
    commands = {c["command"] for c in chat_menus(api, ANALYST)[-1].params["commands"]}
    assert {"issue", "campaign", "stats"} <= commands and "managers" not in commands

    await chat.send(u.message(OWNER, f"/managers remove {ANALYST}", language_code="en"))
    assert len(chat_menus(api, ANALYST, "deleteMyCommands")) == 1


async def test_a_customer_card_reads_in_russian_words(chat: Chat, db, clock) -> None:
    """Segments in words, days with their plural, percents and money by Babel, and a
    code's state agreeing with "код" — not `almost_lost`, "за 1 дн.", "код — активна"."""
    await add_staff(db, MANAGER, "manager")
    await factories.customer(db, "c-1", now=clock(), telegram_id=SHOPPER, username="anna_k",
                             orders_count=3, net_spend=2_500_000,
                             last_order_at=clock() - timedelta(days=100))
    await chat.send(u.message(MANAGER, "/issue c-1 10%", language_code="ru"))
    reply = await chat.send(u.message(MANAGER, "/customer @anna_k", language_code="ru"))
    for part in ("Уровень: 2 (5\xa0%), сумма покупок 25\xa0000\xa0₽",
                 "Сегменты: постоянные покупатели, почти потерянные",
                 "скидка 10\xa0% — действует", "код от команды: ждёт отправки",
                 "0 из 1 за 1 день", "0 из 3 за 7 дней"):
        assert part in reply, (part, reply)
    assert "almost_lost" not in reply and "дн." not in reply
