"""Managers in Telegram, end to end: /customer, /campaigns, /campaign <id> with its state
changes and /preview (/stats and /export: test_manager_stats.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

import tests.support.factories as factories
import tests.support.updates as u
from bot.db import Database
from bot.db.models import (
    Campaign,
    CampaignAssignment,
    CodeSource,
    Delivery,
    DiscountType,
    Order,
    PromoCode,
    Redemption,
)
from bot.promo.campaigns.admin import HELD_UNTIL
from bot.promo.codes.offers import Offer
from tests.support.chat import Chat
from tests.support.managers import (
    ANALYST,
    MANAGER,
    SHOPPER,
    UploadingBotAPI,
    add_staff,
    audit_rows,
)


@pytest.fixture
async def api() -> AsyncIterator[UploadingBotAPI]:
    async with UploadingBotAPI() as server:
        yield server


# What every regular here has spent: 9 000 ₽.
SPENT = {"net_spend": 900_000, "gross_spend": 900_000}


async def seed_campaign(db: Database, clock, *, customers: int = 8, status: str = "active",
                        holdout: int = 25) -> int:
    """A broadcast to "regulars" with two variants; half the customers bought again.

    The run's history (assignments, deliveries, orders, redemptions) is written straight,
    as a run five days ago would have left it: the card and /preview read nothing else."""
    now = clock()
    campaign = await factories.campaign(
        db, now=now, name="Spring <regulars>", kind="broadcast", status=status,
        segment="regulars", holdout_percent=holdout,
        offer={"discount_type": "percent", "value": 5, "min_order": 100_000},
        variants=[{"name": "A", "weight": 1, "offer": {}},
                  {"name": "B", "weight": 3, "offer": {"value": 10}}])
    a = campaign.variants[0]
    regulars = await factories.customers(db, customers, now=now, prefix="r-",
                                         telegram_base=7000, orders_count=3, **SPENT)
    held_out = {i for i in range(customers) if i % 4 == 0}
    codes = {i: await factories.code(db, Offer(DiscountType.PERCENT, 5), now=now,
                                     source=CodeSource.CAMPAIGN, customer_id=customer.id,
                                     campaign_id=campaign.id, prefix="SPR",
                                     expires_at=now + timedelta(days=20))
             for i, customer in enumerate(regulars) if i not in held_out}
    async with db.session() as session:
        for i, customer in enumerate(regulars):
            holdout_row = i in held_out
            session.add(CampaignAssignment(
                campaign_id=campaign.id, customer_id=customer.id, is_holdout=holdout_row,
                variant_id=None if holdout_row else a.id,
                assigned_at=now - timedelta(days=5)))
            if holdout_row:
                continue
            code = codes[i]
            session.add(Delivery(dedupe_key=f"c:{i}", customer_id=customer.id,
                                 reason="campaign", campaign_id=campaign.id, code_id=code.id,
                                 status="sent" if i % 2 else "pending",
                                 due_at=now - timedelta(days=4),
                                 sent_at=now - timedelta(days=4) if i % 2 else None,
                                 created_at=now - timedelta(days=4)))
            if i % 2:
                session.add(Order(external_id=f"o-{i}", customer_id=customer.id,
                                  placed_at=now - timedelta(days=2), status="paid",
                                  total=400_000, currency="RUB", discount=20_000))
                session.add(Redemption(code_id=code.id, customer_id=customer.id,
                                       order_external_id=f"o-{i}", order_total=400_000,
                                       discount=20_000, created_at=now - timedelta(days=2)))
        await session.commit()
        return campaign.id


# --- /customer -------------------------------------------------------------------------

async def test_customer_card(chat: Chat, db, clock) -> None:
    await add_staff(db, ANALYST, "analyst")
    await add_staff(db, MANAGER, "manager")
    await factories.customer(db, "c-1", now=clock(), telegram_id=SHOPPER, username="anna_k",
                             name="Anna", orders_count=3, net_spend=2_500_000,
                             last_order_at=clock() - timedelta(days=100))
    await chat.send(u.message(MANAGER, "/issue c-1 10%", language_code="en"))
    reply = await chat.send(u.message(ANALYST, "/customer @anna_k", language_code="en"))
    for part in ("Anna", "shop id c-1", "@anna_k", "Level: 2 (5%)", "₽25,000",
                 "Orders: 3", "regulars", "almost lost", "10% off", "active",
                 "code from the team: waiting", "0 of 1 per 1 day", "0 of 3 per 7 days"):
        assert part in reply, (part, reply)


async def test_customer_bad_arguments(chat: Chat, db) -> None:
    await add_staff(db, ANALYST, "analyst")
    assert "Usage: /customer" in await chat.send(u.message(ANALYST, "/customer",
                                                           language_code="en"))
    reply = await chat.send(u.message(ANALYST, "/customer nobody", language_code="en"))
    assert "No customer matches nobody" in reply and "Example: /customer" in reply
    assert "Пример" in await chat.send(u.message(ANALYST, "/customer", language_code="ru"))


# --- /campaigns and /campaign <id> ------------------------------------------------------

async def test_campaigns_list_and_card(chat: Chat, db, clock, api) -> None:
    await add_staff(db, ANALYST, "analyst")
    campaign_id = await seed_campaign(db, clock)
    listing = await chat.send(u.message(ANALYST, "/campaigns", language_code="en"))
    assert f"#{campaign_id} Spring &lt;regulars&gt;" in listing
    assert "manual broadcast, active" in listing and "4/6 sent" in listing
    assert "4 redeemed" in listing and "2 in the control group" in listing
    card = await chat.send(u.message(ANALYST, f"/campaign {campaign_id}", language_code="en"))
    assert "Variant B (weight 3): 10% off; on orders of ₽1,000 or more" in card
    assert "Control group: 25%" in card and "4 sent, 2 waiting" in card
    assert api.sent()[-1].reply_markup is None  # analysts get no buttons


async def test_pause_resume_stop_with_audit(chat: Chat, db, clock, api) -> None:
    await add_staff(db, MANAGER, "manager")
    campaign_id = await seed_campaign(db, clock)
    reply = await chat.send(u.message(MANAGER, f"/campaign {campaign_id} pause",
                                      language_code="en"))
    assert "paused" in reply
    async with db.read_session() as session:
        held = list(await session.scalars(select(Delivery.due_at).where(
            Delivery.status == "pending")))
    assert held and all(due == HELD_UNTIL for due in held)
    buttons = api.sent()[-1].reply_markup["inline_keyboard"]
    resume = next(b for row in buttons for b in row if "Resume" in b["text"])
    await chat.send(u.callback(MANAGER, resume["callback_data"], language_code="en"))
    assert "active" in api.last_text()
    async with db.read_session() as session:
        assert (await session.get(Campaign, campaign_id)).status == "active"
        due = list(await session.scalars(select(Delivery.due_at).where(
            Delivery.status == "pending")))
    assert all(d == clock() for d in due)
    await chat.send(u.message(MANAGER, f"/campaign {campaign_id} stop", language_code="en"))
    async with db.read_session() as session:
        statuses = set(await session.scalars(select(Delivery.status)))
        revoked = list(await session.scalars(select(PromoCode.code).where(
            PromoCode.status == "revoked")))
    assert statuses == {"sent", "cancelled"} and len(revoked) == 2
    rows = await audit_rows(db)
    assert [r.action for r in rows] == ["campaign.pause", "campaign.resume", "campaign.stop"]
    assert rows[0].before == {"status": "active"} and rows[0].after["status"] == "paused"
    assert rows[2].after == {"status": "stopped", "messages": 2}
    # A stopped campaign goes nowhere.
    reply = await chat.send(u.message(MANAGER, f"/campaign {campaign_id} resume",
                                      language_code="en"))
    assert "is not possible" in reply and len(await audit_rows(db)) == 3


async def test_a_refused_card_button_is_an_alert_in_the_readers_language(
        chat: Chat, db, clock, api) -> None:
    await add_staff(db, MANAGER, "manager")
    campaign_id = await seed_campaign(db, clock)
    await chat.send(u.message(MANAGER, f"/campaign {campaign_id}", language_code="ru"))
    buttons = api.sent()[-1].reply_markup["inline_keyboard"]
    pause = next(b for row in buttons for b in row if "⏸" in b["text"])
    await chat.send(u.message(MANAGER, f"/campaign {campaign_id} pause", language_code="ru"))
    sent = len(api.sent())
    await chat.send(u.callback(MANAGER, pause["callback_data"], language_code="ru"))
    alert = api.calls("answerCallbackQuery")[-1].params
    assert alert.get("show_alert") is True
    assert alert["text"] == "Кампания сейчас «на паузе», действие «pause» для неё недоступно."
    assert len(api.sent()) == sent and len(await audit_rows(db)) == 1


async def test_campaign_changes_need_a_manager(chat: Chat, db, clock) -> None:
    await add_staff(db, ANALYST, "analyst")
    campaign_id = await seed_campaign(db, clock)
    reply = await chat.send(u.message(ANALYST, f"/campaign {campaign_id} stop",
                                      language_code="en"))
    assert "role (analyst)" in reply
    await chat.send(u.callback(ANALYST, f"mgrc:{campaign_id}:stop", language_code="en"))
    async with db.read_session() as session:
        assert (await session.get(Campaign, campaign_id)).status == "active"
    assert await audit_rows(db) == []


@pytest.mark.parametrize(("text", "expected"), [
    ("/campaign", "Usage: /campaign"),
    ("/campaign x", "Usage: /campaign"),
    ("/campaign 1 explode", "Usage: /campaign"),
    ("/campaign 999", "no such campaign"),
    ("/campaign 999 pause", "no such campaign"),
    ("/preview", "Usage: /preview"),
    ("/preview 999", "no such campaign"),
])
async def test_campaign_bad_arguments(chat: Chat, db, text, expected) -> None:
    await add_staff(db, MANAGER, "manager")
    assert expected.lower() in (await chat.send(u.message(MANAGER, text,
                                                          language_code="en"))).lower()


# --- /preview --------------------------------------------------------------------------

async def test_preview_splits_the_audience_and_checks_the_guardrail(chat: Chat, db,
                                                                     clock) -> None:
    await add_staff(db, ANALYST, "analyst")
    campaign_id = await seed_campaign(db, clock, customers=8, holdout=25, status="draft")
    reply = await chat.send(u.message(ANALYST, f"/preview {campaign_id}", language_code="en"))
    assert "Segment “regulars” — customers: 8, reachable in Telegram: 8" in reply
    assert "control group: 2" in reply
    assert "A: 2 × 5% off" in reply and "B: 4 × 10% off" in reply
    assert "within the margin ceiling of" in reply
    assert "Estimated discount cost" in reply and "Time to send at 30 messages/s" in reply


async def test_preview_of_a_comeback_shows_each_rung_of_the_ladder(chat: Chat, db,
                                                                  clock) -> None:
    await add_staff(db, ANALYST, "analyst")
    now = clock()
    campaign = await factories.campaign(db, now=now, name="Comeback", kind="comeback",
                                        status="draft")
    silences = {"one-order-35d": (35, 1), "regular-65d": (65, 3), "lost-100d": (100, 4),
                "lost-120d": (120, 2), "fresh-10d": (10, 5)}
    for n, (external_id, (days, orders)) in enumerate(silences.items()):
        await factories.customer(db, external_id, now=now, telegram_id=8000 + n,
                                 orders_count=orders, last_order_at=now - timedelta(days=days),
                                 **SPENT)
    campaign_id = campaign.id
    reply = await chat.send(u.message(ANALYST, f"/preview {campaign_id}", language_code="en"))
    assert "Comeback ladder — customers: 4, reachable in Telegram: 4" in reply, reply
    assert "silent 30+ days, one order only: 1 (1 reachable)" in reply
    assert "silent 60+ days: 1 (1 reachable), 10% off" in reply
    assert "silent 90+ days: 2 (2 reachable), 12% off + free shipping" in reply


# /stats and /export: tests/handlers/test_manager_stats.py
