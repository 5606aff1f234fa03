"""A manager walking through `/campaign new` (in English) with real button presses."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

import tests.support.updates as u
from bot.db import Database
from bot.db.models import Campaign
from tests.support.chat import Chat
from tests.support.fake_bot_api import FakeBotAPI
from tests.support.managers import MANAGER, add_staff


def button(api: FakeBotAPI, text: str) -> str:
    """The callback data of the button with this text on the last keyboard sent."""
    for request in reversed(api.sent()):
        markup = request.reply_markup or {}
        for row in markup.get("inline_keyboard", []):
            for key in row:
                if text in key["text"]:
                    return key["callback_data"]
    raise AssertionError(f"no button {text!r}")


async def campaigns(db: Database) -> int:
    async with db.read_session() as session:
        return await session.scalar(select(func.count()).select_from(Campaign)) or 0


async def only_campaign(db: Database) -> Campaign:
    async with db.read_session() as session:
        (campaign,) = await session.scalars(select(Campaign))
        return campaign


@dataclass
class Dialog:
    """The manager's side of the dialog (a `manager` on the staff: see `dialog`)."""

    chat: Chat
    api: FakeBotAPI
    user: int = MANAGER

    async def send(self, text: str) -> str:
        return await self.chat.send(u.message(self.user, text, language_code="en"))

    async def press(self, text: str) -> str:
        return await self.chat.send(u.callback(self.user, button(self.api, text),
                                               language_code="en"))

    def texts(self, last: int) -> list[str]:
        return [r.text for r in self.api.sent(self.user)[-last:]]

    async def walk(self, *, kind: str = "Manual broadcast", name: str = "Winter regulars",
                   segment: str = "Regulars", offer: str = "10% 30 3000 shoes",
                   variants: str | None = "A 1 10%\nB 3 12%", holdout: str = "20%",
                   split: str = "By the weights", schedule: str = "Keep as draft",
                   ru: str = "Мы скучали, <друг>!",
                   en: str = "We missed you!") -> str:
        """Every step to "Create it?"; the last reply."""
        assert "What kind" in await self.send("/campaign new")
        assert "Name the campaign" in await self.press(kind)
        assert "Which segment" in await self.send(name)
        assert "The offer" in await self.press(segment)
        assert "Variants" in await self.send(offer)
        reply = await (self.send(variants) if variants else self.press("Single offer"))
        assert "Control group" in reply, reply
        reply = await self.press(holdout)
        if variants and variants.count("\n") >= 1:
            assert "How should new recipients be split" in reply, reply
            reply = await self.press(split)
        assert "When should it run" in reply, reply
        assert "Russian" in await self.press(schedule)
        assert "English" in await self.send(ru)
        return await self.send(en)


@pytest.fixture
async def dialog(chat: Chat, db: Database, api: FakeBotAPI) -> Dialog:
    """A manager on the staff, ready to start `/campaign new`."""
    await add_staff(db, MANAGER, "manager")
    return Dialog(chat, api)
