"""`/campaign new` end to end: the guided dialog through the Dispatcher with real button
presses, the preview in both languages, and nothing written until the manager confirms."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram import Dispatcher
from sqlalchemy import func, select

import tests.support.updates as u
from bot.app.telegram import create_dispatcher
from bot.config import Settings
from bot.db import Database
from bot.db.models import Campaign, CampaignVariant
from tests.support.chat import Chat
from tests.support.fake_bot_api import FakeBotAPI
from tests.support.managers import ANALYST, MANAGER, add_staff, audit_rows


@pytest.fixture
def dp(tg_settings: Settings, db: Database, clock: Any) -> Dispatcher:
    """The real Dispatcher; a dialog is more updates than the default burst allows."""
    return create_dispatcher(tg_settings, db, clock, throttle_burst=50)


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


async def walk_to_confirm(chat: Chat, api: FakeBotAPI, *, offer: str = "10% 30 3000 shoes",
                          variants: str = "A 1 10%\nB 3 12%") -> None:
    send = lambda text: chat.send(u.message(MANAGER, text, language_code="en"))  # noqa: E731
    press = lambda text: chat.send(u.callback(MANAGER, button(api, text),  # noqa: E731
                                              language_code="en"))
    assert "What kind" in await send("/campaign new")
    assert "Which segment" in await press("manual broadcast")
    assert "The offer" in await press("regulars")
    assert "Variants" in await send(offer)
    assert "Holdout" in await send(variants)
    assert "When does it run" in await press("20%")
    assert "Russian" in await press("Keep as draft")
    assert "English" in await send("Мы скучали, <друг>!")
    await send("We missed you!")


async def test_dialog_creates_a_campaign_with_variants_and_audit(chat: Chat, db, api) -> None:
    await add_staff(db, MANAGER, "manager")
    await walk_to_confirm(chat, api)
    texts = [r.text for r in api.sent(MANAGER)[-4:]]
    assert "Kind: manual broadcast" in texts[0] and "Holdout: 20%" in texts[0]
    assert texts[1].startswith("🇷🇺") and "Мы скучали, &lt;друг&gt;!" in texts[1]
    assert "<code>SAMPLE1234</code>" in texts[1] and "скидка 10%" in texts[1]
    assert texts[2].startswith("🇬🇧") and "We missed you!" in texts[2] and "10% off" in texts[2]
    assert await campaigns(db) == 0  # nothing written before the confirmation
    reply = await chat.send(u.callback(MANAGER, button(api, "Create"), language_code="en"))
    assert "created" in reply
    async with db.read_session() as session:
        campaign = await session.scalar(select(Campaign))
        variants = list(await session.scalars(select(CampaignVariant)
                                              .order_by(CampaignVariant.id)))
    assert (campaign.kind, campaign.status, campaign.segment) == ("broadcast", "draft",
                                                                  "regulars")
    assert campaign.holdout_percent == 20 and campaign.created_by == MANAGER
    assert campaign.offer["value"] == 10 and campaign.offer["min_order"] == 300_000
    assert campaign.message_ru == "Мы скучали, <друг>!"
    assert [(v.name, v.weight, v.offer["value"]) for v in variants] == [("A", 1, 10),
                                                                        ("B", 3, 12)]
    (row,) = await audit_rows(db, "campaign.create")
    assert row.actor == f"tg:{MANAGER}" and row.after["holdout_percent"] == 20


async def test_cancel_and_stale_buttons_leave_nothing(chat: Chat, db, api) -> None:
    await add_staff(db, MANAGER, "manager")
    await walk_to_confirm(chat, api)
    create = button(api, "Create")
    assert "nothing was saved" in await chat.send(u.message(MANAGER, "/cancel",
                                                            language_code="en"))
    await chat.send(u.callback(MANAGER, create, language_code="en"))
    assert await campaigns(db) == 0 and await audit_rows(db) == []
    assert "ended" in api.calls("answerCallbackQuery")[-1].params.get("text", "")


async def test_guardrail_refuses_at_the_end(chat: Chat, db, api) -> None:
    await add_staff(db, MANAGER, "manager")
    await walk_to_confirm(chat, api, variants="A 1 10%\nB 1 40%")
    reply = await chat.send(u.callback(MANAGER, button(api, "Create"), language_code="en"))
    assert "guardrail" in reply and await campaigns(db) == 0


async def test_bad_offer_is_asked_again(chat: Chat, db, api) -> None:
    await add_staff(db, MANAGER, "manager")
    await chat.send(u.message(MANAGER, "/campaign new", language_code="en"))
    await chat.send(u.callback(MANAGER, button(api, "manual broadcast"), language_code="en"))
    await chat.send(u.callback(MANAGER, button(api, "regulars"), language_code="en"))
    reply = await chat.send(u.message(MANAGER, "lots", language_code="en"))
    assert "The offer" in reply and "&lt;reward&gt;" in reply  # HTML-safe
    assert "could not read" in api.sent(MANAGER)[-2].text


async def test_analysts_cannot_create(chat: Chat, db) -> None:
    await add_staff(db, ANALYST, "analyst")
    reply = await chat.send(u.message(ANALYST, "/campaign new", language_code="en"))
    assert "What kind" not in reply
    assert "Your role (analyst) does not allow this command." in reply, reply
    assert await campaigns(db) == 0
