"""`/managers`, one handler per sub-command: how the first word picks the handler, and
which answer wins when several things are wrong (end to end, through the dispatcher)."""

from __future__ import annotations

import pytest

import tests.support.factories as factories
import tests.support.updates as u
from bot.db import Database
from bot.db.models import Manager
from tests.support.chat import Chat
from tests.support.managers import ANALYST, MANAGER, OWNER, SHOPPER, add_staff, audit_rows

USAGE = "Usage: /managers"
UNKNOWN_USER = "I do not know this user"


async def send(chat: Chat, text: str) -> str:
    return await chat.send(u.message(OWNER, text, language_code="en"))


async def staff_row(db: Database, telegram_id: int) -> Manager | None:
    async with db.read_session() as session:
        return await session.get(Manager, telegram_id)


async def test_the_sub_command_is_read_in_any_case(chat: Chat, db) -> None:
    reply = await send(chat, f"/managers ADD {MANAGER} Manager")
    assert f"{MANAGER} now has the manager role" in reply
    assert "Monthly budget of" in await send(chat, f"/managers Budget {MANAGER} 500")
    assert "manager.update" in await send(chat, "/managers LOG")
    assert "no longer on the staff" in await send(chat, f"/managers REMOVE {MANAGER}")
    assert await staff_row(db, MANAGER) is None


@pytest.mark.parametrize("text", [
    "/managers log now", "/managers fire 77", "/managers addx 77 manager", "/managers add",
    "/managers remove", "/managers budget", f"/managers remove {MANAGER} now",
    f"/managers budget {MANAGER}", f"/managers add {MANAGER} manager 1 2",
])
async def test_anything_else_is_answered_with_the_usage(chat: Chat, db, text) -> None:
    await add_staff(db, MANAGER, "manager")
    reply = await send(chat, text)
    assert reply.startswith(USAGE) and UNKNOWN_USER not in reply
    assert await audit_rows(db) == []


async def test_an_unknown_user_is_named_before_the_arguments_are_checked(chat: Chat) -> None:
    for text in ("/managers add @nobody", "/managers remove @nobody now",
                 "/managers budget @nobody abc"):
        reply = await send(chat, text)
        assert reply.startswith(UNKNOWN_USER) and USAGE in reply


async def test_a_username_of_someone_who_wrote_to_the_bot(chat: Chat, db, clock) -> None:
    await factories.customer(db, "c-1", now=clock(), telegram_id=SHOPPER, username="anna_k")
    reply = await send(chat, "/managers add @Anna_K analyst")
    assert f"{SHOPPER} now has the analyst role" in reply
    assert (await staff_row(db, SHOPPER)).role == "analyst"


async def test_a_bad_amount_shows_the_usage_and_writes_nothing(chat: Chat, db) -> None:
    await add_staff(db, MANAGER, "manager", budget=100_000)
    for text in (f"/managers add {ANALYST} analyst abc", f"/managers budget {MANAGER} -5",
                 f"/managers budget {MANAGER} 1.001"):
        assert (await send(chat, text)).startswith(USAGE)
    assert await staff_row(db, ANALYST) is None
    assert (await staff_row(db, MANAGER)).monthly_budget == 100_000
    assert await audit_rows(db) == []


async def test_a_budget_for_someone_off_the_staff_is_refused_first(chat: Chat, db) -> None:
    reply = await send(chat, "/managers budget 77 abc")
    # Who is meant is refused before how much; the usage follows the refusal.
    assert reply.splitlines()[0] == "This person is not on the staff."
    assert reply.splitlines()[-1] == "Example: /managers add @olga manager 20000"
    assert await audit_rows(db) == []


@pytest.mark.parametrize("word", ["none", "Default", "-"])
async def test_a_budget_back_to_the_default(chat: Chat, db, word) -> None:
    await add_staff(db, MANAGER, "manager", budget=100_000)
    reply = await send(chat, f"/managers budget {MANAGER} {word}")
    assert reply == f"✅ Monthly budget of {MANAGER}: default."
    assert (await staff_row(db, MANAGER)).monthly_budget is None
