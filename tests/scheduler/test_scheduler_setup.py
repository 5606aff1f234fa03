"""APScheduler set-up: ids, zones, grace; campaign schedules follow the database; the
leader lock on PostgreSQL; the CLI."""

from __future__ import annotations

import argparse
import asyncio
from datetime import timedelta

import pytest
from apscheduler.schedulers.base import STATE_PAUSED, STATE_RUNNING
from apscheduler.triggers.cron import CronTrigger

import tests.support.factories as factories
import tests.support.shop as shop
from bot.commands.campaign import run as cli
from bot.db.models import CampaignStatus
from scheduler import SchedulerService, create_scheduler, sync_campaign_jobs
from scheduler.jobs import Jobs
from scheduler.leader import Leadership


async def test_jobs_have_stable_ids_zone_and_grace(db, settings, clock):
    scheduler = create_scheduler(settings, db, clock)
    scheduler.start(paused=True)  # inside the running loop; jobs get their defaults now
    ids = {job.id for job in scheduler.get_jobs()}
    assert ids == {"comeback", "job:review", "job:cart", "job:referral", "job:reminders",
                   "job:tiers", "job:moments", "job:leaks", "campaigns:sync"}
    comeback = scheduler.get_job("comeback")
    assert isinstance(comeback.trigger, CronTrigger)
    assert str(comeback.trigger.timezone) == "Europe/Moscow"
    assert comeback.args == ("comeback",)
    for job in scheduler.get_jobs():
        assert job.misfire_grace_time == settings.jobs.misfire_grace_seconds
        assert job.coalesce is True and job.max_instances == 1
        # Only plain values as arguments (ids, kinds), never a Bot or a session.
        assert all(isinstance(a, str | int) for a in job.args) or job.id == "campaigns:sync"
    assert scheduler.state == STATE_PAUSED
    next_run = scheduler.get_job("comeback").next_run_time
    assert (next_run.hour, next_run.minute, str(next_run.tzinfo)) == (11, 0, "Europe/Moscow")
    scheduler.shutdown(wait=False)


async def test_campaign_schedules_follow_the_database(db, settings, clock):
    now = clock()
    scheduler = create_scheduler(settings, db, clock)
    jobs = Jobs(db, settings, clock)
    scheduled = (await factories.campaign(db, now=now, kind="broadcast", segment="almost_lost",
                                          schedule="0 10 * * 1")).id
    await factories.campaign(db, now=now, kind="broadcast", segment="almost_lost")  # no schedule
    assert await sync_campaign_jobs(scheduler, jobs) == {f"campaign:{scheduled}"}
    job = scheduler.get_job(f"campaign:{scheduled}")
    assert job.args == (scheduled,) and str(job.trigger.timezone) == "Europe/Moscow"

    await shop.set_status(db, scheduled, CampaignStatus.PAUSED)
    assert await sync_campaign_jobs(scheduler, jobs) == set()
    assert scheduler.get_job(f"campaign:{scheduled}") is None


async def test_a_paused_campaigns_job_does_nothing(db, settings, clock):
    now = clock()
    await shop.silent_customer(db, settings, "anna", now, 100)
    campaign_id = (await factories.campaign(
        db, now=now, kind="broadcast", segment="almost_lost", schedule="* * * * *",
        offer={"discount_type": "percent", "value": 5}, status=CampaignStatus.PAUSED)).id
    result = await Jobs(db, settings, clock).run_campaign(campaign_id)
    assert result.status == "inactive" and result.queued == 0
    await shop.set_status(db, campaign_id, CampaignStatus.ACTIVE)
    assert (await Jobs(db, settings, clock).run_campaign(campaign_id)).queued == 1


async def test_service_starts_leads_and_stops(db, settings, clock):
    fast = settings.replace(scheduler_leader_retry_seconds=1)
    service = SchedulerService(fast, db, clock)
    await service.start()
    for _ in range(50):
        if service.scheduler.state == STATE_RUNNING:
            break
        await asyncio.sleep(0.05)
    assert service.leadership.leading and service.scheduler.state == STATE_RUNNING
    await service.stop()
    assert not service.scheduler.running


async def test_one_leader_on_postgresql(db, settings):
    if db.is_sqlite:
        assert await Leadership(db.url).acquire()  # one process: always leads
        return
    first, second = Leadership(db.url, key=4242), Leadership(db.url, key=4242)
    try:
        assert await first.acquire()
        assert not await second.acquire()
        assert await first.held()
        await first.release()
        assert await second.acquire()
    finally:
        await first.release()
        await second.release()


@pytest.mark.parametrize("action", ["list", "run", "status"])
async def test_cli(db, settings, clock, action):
    now = clock()
    await shop.silent_customer(db, settings, "anna", now, 65)
    lines: list[str] = []
    args = argparse.Namespace(action=action, target="comeback", id=None)
    await cli(argparse.Namespace(action="run", target="comeback", id=None), settings, db=db,
              clock=clock)
    code = await cli(args, settings, db=db, clock=lambda: now + timedelta(minutes=1),
                     out=lines.append)
    assert code == 0
    text = "\n".join(lines)
    if action == "list":
        assert "auto:comeback" in text
    elif action == "run":
        assert "nothing to do" in text  # the first run did it all
    else:
        assert "sent 0/1" in text and "waiting 1" in text and "assigned 1" in text
    bad = await cli(argparse.Namespace(action="run", target="nope", id=None), settings,
                    db=db, clock=clock, out=lines.append)
    assert bad == 2
