"""Every command that takes arguments, given malformed ones by someone allowed to use it,
answers with its usage line and an example, in the sender's language, and writes nothing.

Shopper commands (`handlers.commands.shopper_commands`) take no arguments; the staff
commands that do are all here, with their usage texts from `handlers.managers.common`."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram import html
from sqlalchemy import select

import tests.support.factories as factories
import tests.support.updates as u
from bot.app.telegram import create_i18n
from bot.db import Database
from bot.db.models.base import Base
from handlers.managers.common import usages
from tests.support.chat import Chat
from tests.support.managers import ANALYST, MANAGER, OWNER, SHOPPER, add_staff

# (command line, who sends it, the usage it must show)
CASES = [
    ("/issue c-1", MANAGER, "issue"),  # no reward
    ("/issue c-1 lots", MANAGER, "issue"),  # not a reward
    ("/issue c-1 10% 14 3000 shoes extra", MANAGER, "issue"),  # too many parts
    ("/revoke", MANAGER, "revoke"),
    ("/bulk 1", MANAGER, "bulk"),
    ("/bulk one 500", MANAGER, "bulk"),
    ("/customer", ANALYST, "customer"),
    ("/customer c-1 c-2", ANALYST, "customer"),
    ("/campaign", ANALYST, "campaign"),
    ("/campaign one", ANALYST, "campaign"),
    ("/campaign 1 explode", MANAGER, "campaign"),  # unknown sub-command
    ("/campaign 1 pause now", MANAGER, "campaign"),
    ("/campaign budget 1", MANAGER, "campaign budget"),
    ("/campaign budget 1 lots", MANAGER, "campaign budget"),
    ("/campaign budget 1 50000 many", MANAGER, "campaign budget"),
    ("/campaign budget 1 50000 200 more", MANAGER, "campaign budget"),
    ("/preview", ANALYST, "preview"),
    ("/preview one", ANALYST, "preview"),
    ("/stats one", ANALYST, "stats"),
    ("/stats 1 30 more", ANALYST, "stats"),
    ("/export 1 forever", ANALYST, "export"),
    # Digits that are not a number the bot can use: too long for an id, or not ASCII.
    ("/campaign 99999999999999999999", ANALYST, "campaign"),
    ("/campaign ³ pause", MANAGER, "campaign"),
    ("/campaign budget 99999999999999999999 500", MANAGER, "campaign budget"),
    ("/preview 99999999999999999999", ANALYST, "preview"),
    ("/preview ³", ANALYST, "preview"),
    ("/stats 99999999999999999999", ANALYST, "stats"),
    ("/stats ³", ANALYST, "stats"),
    ("/export 1 ²", ANALYST, "export"),
    ("/bulk ³ 5", MANAGER, "bulk"),
    ("/bulk 99999999999999999999 5", MANAGER, "bulk"),
    ("/bulk 1 ²", MANAGER, "bulk"),
    ("/managers fire 2000", OWNER, "managers"),  # unknown sub-command
    ("/managers add 7 boss", OWNER, "managers"),
    ("/managers add 7 manager lots", OWNER, "managers"),
    ("/managers remove 2000 now", OWNER, "managers"),
    ("/managers budget 2000 lots", OWNER, "managers"),
]

LABELS = {"en": ("Usage:", "Example:"), "ru": ("Формат:", "Пример:")}


def usage_lines(command: str, locale: str) -> tuple[str, str]:
    i18n = create_i18n()
    with i18n.context(), i18n.use_locale(locale):
        usage, example = usages()[command]
    usage_label, example_label = LABELS[locale]
    return f"{usage_label} {html.quote(usage)}", f"{example_label} {html.quote(example)}"


async def everything(db: Database) -> dict[str, list[Any]]:
    """Every row of every table, to show that nothing was written."""
    async with db.read_session() as session:
        return {table.name: sorted(map(tuple, await session.execute(select(table))), key=repr)
                for table in Base.metadata.sorted_tables}


@pytest.mark.parametrize("locale", ["ru", "en"])
@pytest.mark.parametrize(("text", "sender", "command"), CASES,
                         ids=[case[0] for case in CASES])
async def test_bad_arguments_answer_with_usage_and_example(
    chat: Chat, db: Database, clock, text: str, sender: int, command: str, locale: str,
) -> None:
    await add_staff(db, MANAGER, "manager")
    await add_staff(db, ANALYST, "analyst")
    await factories.customer(db, "c-1", now=clock(), telegram_id=SHOPPER)
    await factories.campaign(db, now=clock())
    # Whatever any message records about its sender is recorded before the snapshot.
    await chat.send(u.message(sender, "/help", language_code=locale))
    before = await everything(db)

    reply = await chat.send(u.message(sender, text, language_code=locale))

    usage, example = usage_lines(command, locale)
    assert usage in reply.splitlines(), reply
    assert example in reply.splitlines(), reply
    assert await everything(db) == before


# Well-formed arguments that name nothing the shop has: the refusal says so, and the
# usage and example follow.
UNKNOWN = [
    ("/campaign 999", ANALYST, "campaign", "There is no such campaign."),
    ("/campaign budget 999 500", MANAGER, "campaign budget", "There is no such campaign."),
    ("/preview 999", ANALYST, "preview", "There is no such campaign."),
    ("/bulk 999 5", MANAGER, "bulk", "There is no such campaign."),
    ("/revoke NOSUCHCODE1", MANAGER, "revoke", "There is no such code."),
]


@pytest.mark.parametrize(("text", "sender", "command", "refusal"), UNKNOWN,
                         ids=[case[0] for case in UNKNOWN])
async def test_what_the_arguments_name_does_not_exist(
    chat: Chat, db: Database, text: str, sender: int, command: str, refusal: str,
) -> None:
    await add_staff(db, MANAGER, "manager")
    await add_staff(db, ANALYST, "analyst")
    reply = await chat.send(u.message(sender, text, language_code="en"))
    usage, example = usage_lines(command, "en")
    lines = reply.splitlines()
    assert refusal in reply and usage in lines and example in lines, reply
