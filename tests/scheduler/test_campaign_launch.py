"""Runs in the background (`Launcher`): a start during a run runs once more, a failing run
is told, two processes and the schedule starting one campaign at once send once, a
pause that lands during a batch holds that batch's messages too, and a run lost with its
process is run by the next one."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

import tests.support.factories as factories
from bot.db import create_database
from bot.db.models import Campaign, CampaignAssignment, Delivery, PromoCode, Role
from bot.delivery.outbox import enqueue
from bot.promo.campaigns import admin
from bot.promo.campaigns.builtin import still_active
from bot.promo.campaigns.context import RunResult
from bot.promo.campaigns.launcher import FAILED, Launcher
from bot.promo.staff.managers import Staff
from scheduler.jobs import Jobs
from tests.support.campaign_runs import draft_broadcast
from tests.support.managers import MANAGER, add_staff


async def start(db, clock, campaign_id: int) -> None:
    async with db.session() as session:
        await admin.change_status(session, None, campaign_id, "start", now=clock(),
                                  actor="test")
        await session.commit()


async def test_a_start_during_a_run_runs_it_once_more(db, settings, clock):
    shop = await draft_broadcast(db, clock(), shoppers=3, holdout=0)
    await start(db, clock, shop.campaign_id)
    launcher = Launcher(db, settings, clock)
    runs: list[RunResult] = []
    launcher.after_run.append(runs.append)
    launcher.launch(shop.campaign_id)
    launcher.launch(shop.campaign_id)  # before it began: the same run
    await asyncio.sleep(0)  # the run has begun
    launcher.launch(shop.campaign_id)  # while it is under way: once more, after it
    assert launcher.running(shop.campaign_id)
    await launcher.join()
    assert not launcher.running(shop.campaign_id)
    assert [(r.status, r.queued) for r in runs] == [("done", 3), ("done", 0)]
    assert launcher.results[shop.campaign_id] is runs[-1]


async def test_a_failing_run_is_told(db, settings, clock):
    # A segment that no longer exists (renamed in a later version, say) fails the run.
    campaign = await factories.campaign(db, now=clock(), segment="gone")
    launcher = Launcher(db, settings, clock)
    launcher.launch(campaign.id)
    await launcher.join()
    assert launcher.results[campaign.id].status == FAILED


async def test_two_processes_and_the_schedule_start_it_at_once(db, settings, clock):
    """Each on its own engine, as separate processes would be; small batches interleave."""
    shop = await draft_broadcast(db, clock(), shoppers=30)
    await start(db, clock, shop.campaign_id)
    small = settings.replace(campaign_batch_size=4)
    engines = [create_database(settings.db.url) for _ in range(3)]
    try:
        launchers = [Launcher(engine, small, clock) for engine in engines[:2]]
        for launcher in launchers:
            launcher.launch(shop.campaign_id)
        await asyncio.gather(Jobs(engines[2], small, clock).run_campaign(shop.campaign_id),
                             *(launcher.join() for launcher in launchers))
    finally:
        for engine in engines:
            await engine.dispose()
    async with db.read_session() as session:
        assigned = await session.scalar(
            select(func.count()).where(CampaignAssignment.campaign_id == shop.campaign_id))
        customers = await session.scalar(
            select(func.count(func.distinct(CampaignAssignment.customer_id))))
        messages = (await session.execute(
            select(func.count(), func.count(func.distinct(Delivery.customer_id)))
            .where(Delivery.campaign_id == shop.campaign_id))).one()
        codes = await session.scalar(select(func.count()).select_from(PromoCode))
    assert assigned == customers == 30
    assert messages[0] == messages[1] == codes > 0  # one message and one code each


async def test_a_pause_during_a_batch_holds_its_messages(db, settings, clock):
    """The batch checks the campaign is active and, until it commits, a pause waits."""
    await add_staff(db, MANAGER, "manager")
    shop = await draft_broadcast(db, clock(), shoppers=1)
    await start(db, clock, shop.campaign_id)
    [customer] = shop.chats
    other = create_database(settings.db.url)
    try:
        async with db.session() as batch:
            assert await still_active(batch, shop.campaign_id)
            pause = asyncio.create_task(pause_on(other, clock, shop.campaign_id))
            await asyncio.sleep(0.3)
            assert not pause.done()  # it waits for the batch
            await enqueue(batch, dedupe_key="batch:1", customer_id=customer, reason="campaign",
                          payload={}, campaign_id=shop.campaign_id, due_at=clock())
            await batch.commit()
        await pause
    finally:
        await other.dispose()
    async with db.read_session() as session:
        due = await session.scalar(select(Delivery.due_at))
    assert due == admin.HELD_UNTIL


async def pause_on(db, clock, campaign_id: int) -> None:
    async with db.session() as session:
        await admin.change_status(session, Staff(MANAGER, Role.MANAGER), campaign_id,
                                  "pause", now=clock())
        await session.commit()


async def marks(db) -> dict[int, bool]:
    async with db.read_session() as session:
        rows = (await session.execute(select(Campaign.id, Campaign.run_requested_at))).all()
    return {campaign_id: mark is not None for campaign_id, mark in rows}


async def test_a_run_cut_short_is_run_again_by_the_next_process(db, settings, clock):
    shop = await draft_broadcast(db, clock(), shoppers=3, holdout=0)
    await start(db, clock, shop.campaign_id)
    cut = Launcher(db, settings, clock)
    cut.launch(shop.campaign_id)
    await cut.close()  # the process stops before the run ends
    assert await marks(db) == {shop.campaign_id: True}

    launcher = Launcher(db, settings, clock)
    assert await launcher.resume_interrupted() == [shop.campaign_id]
    await launcher.join()
    assert launcher.results[shop.campaign_id].queued == 3
    assert await marks(db) == {shop.campaign_id: False}
    assert await Launcher(db, settings, clock).resume_interrupted() == []


async def test_what_is_not_resumed(db, settings, clock):
    """A failed run keeps its mark (the next start tries again), but only an active
    campaign is run: a paused one waits for its resume."""
    failing = await factories.campaign(db, now=clock(), segment="gone", status="draft")
    await start(db, clock, failing.id)
    shop = await draft_broadcast(db, clock(), shoppers=2, holdout=0)
    await start(db, clock, shop.campaign_id)
    await pause_on(db, clock, shop.campaign_id)
    launcher = Launcher(db, settings, clock)
    assert await launcher.resume_interrupted() == [failing.id]
    await launcher.join()
    assert launcher.results[failing.id].status == FAILED
    assert await marks(db) == {failing.id: True, shop.campaign_id: True}
