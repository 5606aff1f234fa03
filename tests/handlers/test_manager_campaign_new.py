"""`/campaign new` end to end: the guided dialog through the Dispatcher with real button
presses, offers checked at their own step, schedule presets, placeholders, the preview of
every variant in both languages, and nothing written until the manager confirms."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from aiogram import Dispatcher
from sqlalchemy import select

import tests.support.factories as factories
import tests.support.shop as shop
import tests.support.updates as u
from bot.app.telegram import create_dispatcher
from bot.config import Settings
from bot.db import Database
from bot.db.models import CampaignVariant
from tests.support.campaign_dialog import Dialog, button, campaigns, only_campaign
from tests.support.chat import Chat
from tests.support.managers import ANALYST, MANAGER, add_staff, audit_rows


@pytest.fixture
def dp(tg_settings: Settings, db: Database, clock: Any) -> Dispatcher:
    """The real Dispatcher; a dialog is more updates than the default burst allows."""
    return create_dispatcher(tg_settings, db, clock, throttle_burst=50)


async def test_dialog_creates_a_campaign_with_variants_and_audit(dialog: Dialog, db) -> None:
    assert "Create it?" in await dialog.walk()
    summary, a_ru, a_en, b_ru, b_en, _create = dialog.texts(6)
    assert "Name: Winter regulars" in summary and "Kind: manual broadcast" in summary
    assert "Control group: 20%" in summary and "Schedule: draft" in summary
    # Every variant, in both languages, with its own reward.
    assert a_ru.startswith("🇷🇺 Variant A") and "Мы скучали, &lt;друг&gt;!" in a_ru
    assert "<code>SAMPLE1234</code>" in a_ru and "скидка 10" in a_ru
    assert a_en.startswith("🇬🇧 Variant A") and "We missed you!" in a_en and "10" in a_en
    assert b_ru.startswith("🇷🇺 Variant B") and "скидка 12" in b_ru
    assert b_en.startswith("🇬🇧 Variant B") and "12" in b_en
    assert await campaigns(db) == 0  # nothing written before the confirmation
    assert "created" in await dialog.press("Create")
    campaign = await only_campaign(db)
    async with db.read_session() as session:
        variants = list(await session.scalars(select(CampaignVariant)
                                              .order_by(CampaignVariant.id)))
    assert (campaign.name, campaign.kind, campaign.status, campaign.segment) == (
        "Winter regulars", "broadcast", "draft", "regulars")
    assert campaign.holdout_percent == 20 and campaign.created_by == MANAGER
    assert campaign.offer["value"] == 10 and campaign.offer["min_order"] == 300_000
    assert campaign.message_ru == "Мы скучали, <друг>!"
    assert [(v.name, v.weight, v.offer["value"]) for v in variants] == [("A", 1, 10),
                                                                        ("B", 3, 12)]
    (row,) = await audit_rows(db, "campaign.create")
    assert row.actor == f"tg:{MANAGER}" and row.after["holdout_percent"] == 20


async def test_cancel_and_stale_buttons_leave_nothing(dialog: Dialog, chat: Chat, db,
                                                      api) -> None:
    await dialog.walk()
    create = button(api, "Create")
    assert "nothing was saved" in await dialog.send("/cancel")
    await chat.send(u.callback(MANAGER, create, language_code="en"))
    assert await campaigns(db) == 0 and await audit_rows(db) == []
    assert "ended" in api.calls("answerCallbackQuery")[-1].params.get("text", "")


async def test_guardrail_refuses_at_the_offer_step_and_keeps_the_draft(dialog: Dialog,
                                                                       db) -> None:
    """The ceiling is 18 % (net profit 1 500 ₽ on a 5 000 ₽ order, 40 % kept in reserve):
    a 40 % offer is refused where it is typed, with the numbers, and asked again."""
    assert "What kind" in await dialog.send("/campaign new")
    await dialog.press("Manual broadcast")
    await dialog.send("Winter regulars")
    await dialog.press("Regulars")
    assert "The offer" in await dialog.send("40% 30")
    refusal = dialog.texts(2)[0]
    assert "40%" in refusal and "18%" in refusal and "Nothing is lost" in refusal
    assert "Variants" in await dialog.send("10% 30")
    # A variant above the ceiling is refused at the variants' step, not nine steps later.
    assert "Variants" in await dialog.send("A 1 10%\nB 1 40%")
    assert "40%" in dialog.texts(2)[0]
    assert "Control group" in await dialog.send("A 1 10%\nB 1 15%")
    await dialog.press("20%")
    await dialog.press("By the weights")
    await dialog.press("Keep as draft")
    await dialog.send("-")
    assert "Create it?" in await dialog.send("-")
    assert "Name: Winter regulars" in dialog.texts(6)[0]  # the draft came through whole
    assert "created" in await dialog.press("Create")
    assert (await only_campaign(db)).segment == "regulars"


async def test_monthly_budget_refuses_at_the_offer_step(chat: Chat, db, api) -> None:
    """A manager with 300 ₽ left this month: one 10 % code on a 5 000 ₽ order costs 500 ₽."""
    await add_staff(db, MANAGER + 1, "manager", budget=30_000)
    dialog = Dialog(chat, api, user=MANAGER + 1)
    await dialog.send("/campaign new")
    await dialog.press("Manual broadcast")
    await dialog.send("-")
    await dialog.press("Regulars")
    assert "The offer" in await dialog.send("10%")
    refusal = dialog.texts(2)[0]
    assert "budget" in refusal and "500" in refusal and "300" in refusal
    assert "Variants" in await dialog.send("5%")


async def test_refusal_at_create_returns_to_the_offer_step(dialog: Dialog, db, settings,
                                                           clock) -> None:
    """The average order grows while the manager types (30 000 ₽: the ceiling falls to
    3 %): "Create" sends them back to the offer with the rest of the draft kept, and
    once the offer is fixed straight back to "Create"."""
    assert "Create it?" in await dialog.walk(offer="10% 30", variants=None)
    now = clock()
    customer = await factories.customer(db, "big", now=now)
    await shop.order(db, settings, "big-1", customer.id, placed_at=now - timedelta(days=1),
                     now=now, total=3_000_000)
    assert "The offer" in await dialog.press("Create")
    assert "3%" in dialog.texts(2)[0] and await campaigns(db) == 0
    assert "Create it?" in await dialog.send("2% 30")
    assert "Name: Winter regulars" in dialog.texts(4)[0]
    assert "created" in await dialog.press("Create")
    campaign = await only_campaign(db)
    assert (campaign.name, campaign.offer["value"], campaign.holdout_percent) == (
        "Winter regulars", 2, 20)
    assert campaign.message_en == "We missed you!"


@pytest.mark.parametrize(("presses", "typed", "schedule", "words"), [
    (["Every day at…", "09:00"], None, "0 9 * * *", "every day at 09:00"),
    (["Every week on…", "Monday"], "10:30", "30 10 * * mon", "every week on Monday at 10:30"),
    (["Crontab"], "0 11 * * 1", "0 11 * * 1", "crontab"),
])
async def test_schedule_presets_in_words(dialog: Dialog, db, presses, typed, schedule,
                                         words) -> None:
    """Times are the shop's (Europe/Moscow: the scheduler reads the crontab there)."""
    assert "What kind" in await dialog.send("/campaign new")
    await dialog.press("Manual broadcast")
    await dialog.send("-")
    await dialog.press("Regulars")
    await dialog.send("10%")
    await dialog.press("Single offer")
    assert "Europe/Moscow" in await dialog.press("0%")
    for text in presses:
        reply = await dialog.press(text)
    if typed is not None:
        assert "That is not" in await dialog.send("25:00")  # neither a time nor a crontab
        reply = await dialog.send(typed)
    assert "Russian" in reply
    await dialog.send("-")
    await dialog.send("-")
    assert words in dialog.texts(4)[0]
    await dialog.press("Create")
    campaign = await only_campaign(db)
    assert (campaign.schedule, campaign.status) == (schedule, "active")
    assert campaign.name == "broadcast 2026-06-01"  # a dash keeps the kind and date


async def test_placeholders_are_documented_checked_and_previewed(dialog: Dialog) -> None:
    assert "What kind" in await dialog.send("/campaign new")
    await dialog.press("Manual broadcast")
    await dialog.send("Spring")
    await dialog.press("Regulars")
    await dialog.send("10% 14")
    await dialog.press("Single offer")
    await dialog.press("0%")
    prompt = await dialog.press("Keep as draft")
    for name in ("{name}", "{code}", "{deadline}", "{shop}"):
        assert f"<code>{name}</code>" in prompt
    reply = await dialog.send("Привет, {имя}! {name}")
    assert "<code>{имя}</code>" in reply and "Russian" not in reply
    assert "English" in await dialog.send("{name}, ваш код {code} до {deadline}. {shop}")
    assert "Create it?" in await dialog.send("-")
    _summary, ru, en, _create = dialog.texts(4)
    # The sample reader's name, code and deadline (14 days, in the shop's time).
    assert ("Анна, ваш код <code>SAMPLE1234</code> до 15 июн. 2026\u202fг., 15:00. "
            "наш магазин") in ru
    assert "{" not in ru
    # English readers get the standard English text, not the Russian one.
    assert "A personal code for you" in en and "ваш код" not in en


async def test_bad_offer_is_asked_again(dialog: Dialog, api) -> None:
    await dialog.send("/campaign new")
    await dialog.press("Manual broadcast")
    await dialog.send("-")
    await dialog.press("Regulars")
    reply = await dialog.send("lots")
    assert "The offer" in reply and "&lt;reward&gt;" in reply  # HTML-safe
    assert "could not read" in api.sent(MANAGER)[-2].text


async def test_analysts_cannot_create(chat: Chat, db) -> None:
    await add_staff(db, ANALYST, "analyst")
    reply = await chat.send(u.message(ANALYST, "/campaign new", language_code="en"))
    assert "What kind" not in reply
    assert "Your role (analyst) does not allow this command." in reply, reply
    assert await campaigns(db) == 0


async def test_a_dash_keeps_the_single_offer(dialog: Dialog, db) -> None:
    """As at the other steps, a dash keeps the default: here, no variants."""
    assert "Create it?" in await dialog.walk(variants="-")
    assert "created" in await dialog.press("Create")
    async with db.read_session() as session:
        assert list(await session.scalars(select(CampaignVariant))) == []
    assert (await only_campaign(db)).offer["value"] == 10


async def test_a_campaign_of_variants_may_optimise_its_split(dialog: Dialog, db) -> None:
    """With two variants or more the dialog asks how to split; "Optimise" is saved and
    said in the summary. A single offer is never asked."""
    assert "Create it?" in await dialog.walk(split="Optimise")
    (summary, *_rest) = dialog.texts(6)
    assert "Split: optimised towards the most profitable variant" in summary
    assert "created" in await dialog.press("Create")
    campaign = await only_campaign(db)
    assert campaign.optimise
    (row,) = await audit_rows(db, "campaign.create")
    assert row.after["optimise"] is True


async def test_by_the_weights_is_not_optimised(dialog: Dialog, db) -> None:
    await dialog.walk()
    await dialog.press("Create")
    campaign = await only_campaign(db)
    assert not campaign.optimise
