"""A campaign as the `/campaign new` dialog leaves it (a draft broadcast, no schedule), its
audience linked to Telegram, and what reached whom once the sender has run."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from aiogram import Bot
from sqlalchemy import select

import tests.support.factories as factories
from bot.clock import Clock
from bot.config import Settings
from bot.db import Database
from bot.db.models import CampaignAssignment, Delivery, PromoCode
from bot.delivery.sender import Sender
from bot.texts.notices import render_message
from bot.texts.surveys import survey_poll
from tests.support.fake_bot_api import FakeBotAPI

SHOPPER_CHATS = 8000  # shopper n writes from the chat SHOPPER_CHATS + n


@dataclass(frozen=True)
class Shop:
    campaign_id: int
    chats: dict[int, int]  # customer id → their Telegram chat


async def draft_broadcast(db: Database, now: datetime, *, shoppers: int = 8,
                          holdout: int = 25) -> Shop:
    """A draft broadcast to "regulars" with a 10 % offer and two variants, as the dialog
    writes it (no schedule), and `shoppers` opted-in regulars linked to Telegram."""
    campaign = await factories.campaign(
        db, now=now, name="Spring", kind="broadcast", status="draft", segment="regulars",
        holdout_percent=holdout, schedule=None,
        offer={"discount_type": "percent", "value": 10, "min_order": 100_000,
               "valid_days": 14},
        variants=[{"name": "A", "weight": 1, "offer": {}},
                  {"name": "B", "weight": 1, "offer": {"value": 12}}],
        message_ru="Весна!", message_en="Spring!")
    rows = await factories.customers(db, shoppers, now=now, prefix="r-",
                                     telegram_base=SHOPPER_CHATS, orders_count=3,
                                     net_spend=900_000, gross_spend=900_000,
                                     marketing_opt_in=True, locale="en")
    return Shop(campaign.id, {row.id: SHOPPER_CHATS + n for n, row in enumerate(rows)})


async def deliver(db: Database, bot: Bot, settings: Settings, clock: Clock) -> None:
    """Run the sender until nothing is due (held messages of a paused campaign stay)."""
    sender = Sender(db, bot, settings, render=render_message, polls=survey_poll, clock=clock)
    async with asyncio.timeout(20):
        await sender.run_until_idle()


@dataclass(frozen=True)
class Reached:
    assigned: dict[int, bool]  # customer id → in the holdout
    codes: dict[int, list[str]]  # customer id → the campaign's codes they hold
    messages: dict[int, list[str]]  # customer id → texts the fake Bot API received


async def reached(db: Database, api: FakeBotAPI, shop: Shop) -> Reached:
    async with db.read_session() as session:
        assigned = dict((await session.execute(
            select(CampaignAssignment.customer_id, CampaignAssignment.is_holdout)
            .where(CampaignAssignment.campaign_id == shop.campaign_id))).all())
        codes: dict[int, list[str]] = {}
        for customer_id, code in await session.execute(
            select(PromoCode.customer_id, PromoCode.code)
            .where(PromoCode.campaign_id == shop.campaign_id, PromoCode.status == "active")
        ):
            codes.setdefault(customer_id, []).append(code)
    messages = {customer: [r.text for r in api.calls("sendMessage", chat_id=chat)]
                for customer, chat in shop.chats.items()}
    return Reached(assigned, codes, {c: m for c, m in messages.items() if m})


async def deliveries(db: Database, campaign_id: int) -> dict[str, int]:
    """The campaign's outbox rows by status."""
    async with db.read_session() as session:
        found: dict[str, int] = {}
        for status in await session.scalars(
            select(Delivery.status).where(Delivery.campaign_id == campaign_id)
        ):
            found[status] = found.get(status, 0) + 1
        return found
