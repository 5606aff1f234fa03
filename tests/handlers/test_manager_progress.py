"""The managers' live progress message: `/campaign <id> resume` (or start, or its button)
posts "sent / total, failures, ETA" and edits it as delivery goes, then a final edit.

Delivery is made to progress by marking outbox rows in the database between polls; the
watcher's sleep is a gate the test opens, one poll at a time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from aiogram import Dispatcher
from sqlalchemy import update

import tests.support.factories as factories
import tests.support.updates as u
from bot.db import Database
from bot.db.models import Delivery
from bot.promo.campaigns.admin import HELD_UNTIL
from bot.promo.campaigns.launcher import LAUNCHER
from handlers.managers.campaigns import CampaignAction
from handlers.managers.progress import KEY, LiveProgress
from tests.support.chat import Chat
from tests.support.managers import MANAGER, add_staff


class Gate:
    """The watcher's `sleep`: each `step()` lets exactly one poll through."""

    def __init__(self) -> None:
        self.tickets: asyncio.Queue[None] = asyncio.Queue()
        self.waits = 0  # how many times the watcher has come back to wait

    async def sleep(self, _seconds: float) -> None:
        self.waits += 1
        await self.tickets.get()

    def step(self) -> None:
        self.tickets.put_nowait(None)

    async def poll(self) -> None:
        """One poll, done: the watcher is waiting again."""
        waits = self.waits
        self.step()
        await until(lambda: self.waits > waits)


@pytest.fixture
async def gate(dp: Dispatcher, db: Database, tg_settings, clock) -> AsyncIterator[Gate]:
    gate = Gate()
    dp[KEY] = LiveProgress(db, tg_settings, clock, interval=0, min_gap=0, sleep=gate.sleep)
    yield gate
    await dp.emit_shutdown()
    assert not dp[KEY].tasks


async def until(check: Callable[[], bool]) -> None:
    """Wait (up to 2 s) for the background task to get there."""
    async with asyncio.timeout(2.0):
        while not check():  # noqa: ASYNC110 - the fake API records requests, no event
            await asyncio.sleep(0.005)


async def seed(db: Database, clock, *, messages: int = 6, status: str = "paused") -> int:
    """A campaign with `messages` queued deliveries (held, as a paused campaign's are)."""
    campaign = await factories.campaign(db, now=clock(), name="Spring", kind="broadcast",
                                        status=status, segment="regulars")
    shoppers = await factories.customers(db, messages, now=clock(), prefix="p-",
                                         telegram_base=8000)
    async with db.session() as session:
        for i, customer in enumerate(shoppers):
            session.add(Delivery(dedupe_key=f"p:{i}", customer_id=customer.id,
                                 reason="campaign", campaign_id=campaign.id, status="pending",
                                 due_at=HELD_UNTIL if status == "paused" else clock(),
                                 created_at=clock()))
        await session.commit()
    return campaign.id


async def mark(db: Database, clock, campaign_id: int, keys: list[str], status: str) -> None:
    async with db.session() as session:
        await session.execute(update(Delivery).where(
            Delivery.campaign_id == campaign_id, Delivery.dedupe_key.in_(keys))
            .values(status=status, sent_at=clock() if status == "sent" else None))
        await session.commit()


async def test_resume_posts_progress_and_edits_it_until_done(chat: Chat, db, clock, api,
                                                             gate: Gate) -> None:
    await add_staff(db, MANAGER, "manager")
    campaign_id = await seed(db, clock)
    await chat.send(u.message(MANAGER, f"/campaign {campaign_id} resume", language_code="en"))
    await until(lambda: len(api.calls("sendMessage")) == 2)  # the card, then the progress
    first = api.calls("sendMessage")[-1]
    assert first.chat_id == MANAGER
    assert first.text.startswith(f"📤 Campaign #{campaign_id}: choosing the audience")
    assert "Chosen: 0, of them 0 in the control group" in first.text
    assert "Messages queued: 6; sent 0, failed 0, waiting 6" in first.text
    assert "Time to send the rest" in first.text
    await chat.dp[LAUNCHER].join()  # the run adds nobody: the queued messages are all

    edits = lambda: api.calls("editMessageText")  # noqa: E731
    await mark(db, clock, campaign_id, ["p:0", "p:1"], "sent")
    gate.step()
    await until(lambda: len(edits()) == 1)
    assert edits()[-1].text.startswith(f"📤 Campaign #{campaign_id}: sending\n")
    assert "Messages queued: 6; sent 2, failed 0, waiting 4" in edits()[-1].text

    await gate.poll()  # nothing changed: no edit (Telegram refuses an identical text)
    assert len(edits()) == 1
    await mark(db, clock, campaign_id, ["p:2", "p:3"], "sent")
    await mark(db, clock, campaign_id, ["p:4"], "failed")
    gate.step()
    await until(lambda: len(edits()) == 2)
    assert "sent 4, failed 1, waiting 1" in edits()[-1].text

    await mark(db, clock, campaign_id, ["p:5"], "sent")
    gate.step()
    await until(lambda: len(edits()) == 3)
    assert edits()[-1].text == f"✅ Campaign #{campaign_id} done: 5 sent, 1 failed"
    assert len({int(e.params["message_id"]) for e in edits()}) == 1  # one message, edited
    await until(lambda: not gate_tasks(chat))


def gate_tasks(chat: Chat) -> dict:
    return chat.dp[KEY].tasks


async def test_button_start_in_russian_and_pause_ends_it(chat: Chat, db, clock, api,
                                                        gate: Gate) -> None:
    await add_staff(db, MANAGER, "manager")
    campaign_id = await seed(db, clock, messages=3, status="draft")
    data = CampaignAction(id=campaign_id, action="start").pack()
    await chat.feed(u.callback(MANAGER, data, language_code="ru"))
    await until(lambda: len(api.calls("sendMessage")) == 1)
    text = api.calls("sendMessage")[-1].text
    assert f"#{campaign_id}" in text and "0" in text and "Campaign" not in text

    await chat.send(u.message(MANAGER, f"/campaign {campaign_id} pause", language_code="ru"))
    gate.step()
    await until(lambda: len(api.calls("editMessageText")) >= 2)
    final = api.calls("editMessageText")[-1].text
    assert "⏸" in final and f"#{campaign_id}" in final and "Campaign" not in final


async def test_a_deleted_message_ends_the_task_quietly(chat: Chat, db, clock, api,
                                                       gate: Gate) -> None:
    await add_staff(db, MANAGER, "manager")
    campaign_id = await seed(db, clock, messages=2)
    await chat.send(u.message(MANAGER, f"/campaign {campaign_id} resume", language_code="en"))
    await until(lambda: len(api.calls("sendMessage")) == 2)
    await chat.dp[LAUNCHER].join()
    api.fail("editMessageText", 400, description="Bad Request: message to edit not found")
    await mark(db, clock, campaign_id, ["p:0"], "sent")
    gate.step()
    await until(lambda: not gate_tasks(chat))
    assert len(api.calls("editMessageText")) == 1


async def test_not_modified_and_expiry(chat: Chat, db, clock, api, gate: Gate) -> None:
    await add_staff(db, MANAGER, "manager")
    campaign_id = await seed(db, clock, messages=2)
    chat.dp[KEY].lifetime = 0.3
    await chat.send(u.message(MANAGER, f"/campaign {campaign_id} resume", language_code="en"))
    await until(lambda: len(api.calls("sendMessage")) == 2)
    await chat.dp[LAUNCHER].join()
    api.fail("editMessageText", 400, description="Bad Request: message is not modified")
    await mark(db, clock, campaign_id, ["p:0"], "sent")
    gate.step()
    await until(lambda: len(api.calls("editMessageText")) == 1)
    await asyncio.sleep(0.3)  # the lifetime runs out while the watcher waits
    gate.step()
    await until(lambda: len(api.calls("editMessageText")) == 2)
    assert api.calls("editMessageText")[-1].text == (
        f"📤 Campaign #{campaign_id}: 1 sent, 0 failed, 1 waiting. This message is no longer "
        f"updated: /campaign {campaign_id}")
    await until(lambda: not gate_tasks(chat))


async def test_shutdown_cancels_running_messages(chat: Chat, dp: Dispatcher, db, clock, api,
                                                 gate: Gate) -> None:
    await add_staff(db, MANAGER, "manager")
    campaign_id = await seed(db, clock, messages=2)
    await chat.send(u.message(MANAGER, f"/campaign {campaign_id} resume", language_code="en"))
    await until(lambda: len(api.calls("sendMessage")) == 2)
    task = next(iter(dp[KEY].tasks.values()))
    await dp.emit_shutdown()
    assert task.cancelled() and not dp[KEY].tasks



async def test_a_run_that_queues_nothing_says_why(chat: Chat, db, clock, api,
                                                   gate: Gate) -> None:
    await add_staff(db, MANAGER, "manager")
    campaign = await factories.campaign(db, now=clock(), kind="broadcast", status="draft",
                                        segment="regulars")
    await factories.customers(db, 3, now=clock(), prefix="r-", telegram_base=8000,
                              orders_count=3, marketing_opt_in=False)
    await factories.customers(db, 1, now=clock(), prefix="n-", orders_count=3,
                              marketing_opt_in=True)
    await chat.send(u.message(MANAGER, f"/campaign {campaign.id} start", language_code="en"))
    await chat.dp[LAUNCHER].join()
    gate.step()
    await until(lambda: len(api.calls("editMessageText")) == 1)
    assert api.calls("editMessageText")[-1].text == (
        f"✅ Campaign #{campaign.id}: nobody to send to right now. Who it would reach: "
        f"/preview {campaign.id}\n"
        "In the segment: 4; no consent to promotions: 3; not linked to Telegram: 1; blocked "
        "the bot: 0; loyalty level leaves no room for the offer: 0")


async def test_an_offer_above_the_ceiling_is_told(chat: Chat, db, clock, api,
                                                  gate: Gate) -> None:
    await add_staff(db, MANAGER, "manager")
    campaign = await factories.campaign(db, now=clock(), kind="broadcast", status="paused",
                                        segment="regulars",
                                        offer={"discount_type": "percent", "value": 60})
    await chat.send(u.message(MANAGER, f"/campaign {campaign.id} resume", language_code="ru"))
    await chat.dp[LAUNCHER].join()
    gate.step()
    await until(lambda: len(api.calls("editMessageText")) == 1)
    assert api.calls("editMessageText")[-1].text == (
        f"⛔ Кампания #{campaign.id}: ничего не отправлено — предложение выше потолка по "
        f"марже. Расчёт: /preview {campaign.id}")
