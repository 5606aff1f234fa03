"""APScheduler 3.11 set-up: the jobs, their triggers, and the leader that runs them.

The scheduler only ticks; our tables are the truth (assignments, codes, the outbox), so
jobs live in memory and are rebuilt at every start. Triggers carry the shop's time zone;
late runs still run within `jobs_misfire_grace_seconds` (APScheduler's default of 1 s
would skip them silently) and coalesce into one. Campaigns with a `schedule` (crontab,
shop's time zone) get a job each, kept in step with the database every minute.

`promobot run` starts it through `bot.app.run`'s services: `SchedulerService(runtime)`.
On PostgreSQL only the instance holding the advisory lock runs jobs; the others keep the
scheduler paused and try again every `scheduler_leader_retry_seconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.clock import Clock, utcnow
from bot.config import Settings
from bot.db import Database
from bot.db.models import CampaignKind
from bot.promo.campaigns.running import own_schedules
from scheduler.jobs import HOURLY_KINDS, INTERVAL_KINDS, Jobs
from scheduler.leader import Leadership

log = logging.getLogger(__name__)

SYNC_JOB_ID = "campaigns:sync"
SYNC_SECONDS = 60
CAMPAIGN_JOB_PREFIX = "campaign:"


def comeback_trigger(settings: Settings) -> CronTrigger | None:
    """The daily comeback run, at `PROMOBOT_COMEBACK_TIME` in the shop's zone; None = off."""
    daily_at = settings.comeback.daily_at
    if daily_at is None:
        return None
    return CronTrigger(hour=daily_at.hour, minute=daily_at.minute, timezone=settings.shop.zone)


def create_scheduler(
    settings: Settings, db: Database, clock: Clock = utcnow, *, jobs: Jobs | None = None
) -> AsyncIOScheduler:
    """A scheduler with the settings' jobs registered (not started). Start it inside the
    running loop; `sync_campaign_jobs` adds the database's campaigns."""
    scheduler = AsyncIOScheduler(
        timezone=settings.shop.zone,
        job_defaults={
            "misfire_grace_time": settings.jobs.misfire_grace_seconds,
            "coalesce": True,
            "max_instances": 1,
        },
    )
    jobs = jobs or Jobs(db, settings, clock)
    trigger = comeback_trigger(settings)
    if trigger is not None:
        scheduler.add_job(jobs.run_kind, trigger, args=[CampaignKind.COMEBACK.value],
                          id="comeback", name="comeback ladder", replace_existing=True)
    if settings.jobs.interval_minutes > 0:
        for kind in INTERVAL_KINDS:
            minutes = settings.jobs.interval_minutes
            if kind in HOURLY_KINDS:
                minutes = max(minutes, 60)
            scheduler.add_job(
                jobs.run_kind,
                IntervalTrigger(minutes=minutes, timezone=settings.shop.zone),
                args=[kind], id=f"job:{kind}", name=kind, replace_existing=True,
            )
    scheduler.add_job(
        sync_campaign_jobs, IntervalTrigger(seconds=SYNC_SECONDS, timezone=settings.shop.zone),
        args=[scheduler, jobs], id=SYNC_JOB_ID, name="campaign schedules",
        replace_existing=True,
    )
    return scheduler


async def sync_campaign_jobs(scheduler: AsyncIOScheduler, jobs: Jobs) -> set[str]:
    """One job per active campaign with a schedule; jobs of the others are removed.
    Returns the ids of the campaign jobs now registered."""
    wanted: dict[str, Any] = {}
    for campaign_id, schedule in await own_schedules(jobs.context()):
        try:
            trigger = CronTrigger.from_crontab(schedule, timezone=jobs.settings.shop.zone)
        except ValueError as error:
            log.warning("campaign %s: bad schedule %r (%s)", campaign_id, schedule, error)
            continue
        wanted[f"{CAMPAIGN_JOB_PREFIX}{campaign_id}"] = (campaign_id, schedule, trigger)
    for job in scheduler.get_jobs():
        if job.id.startswith(CAMPAIGN_JOB_PREFIX) and job.id not in wanted:
            job.remove()
    for job_id, (campaign_id, schedule, trigger) in wanted.items():
        current = scheduler.get_job(job_id)
        if current is not None and getattr(current, "name", "") == schedule:
            continue  # unchanged: keep its next run time
        scheduler.add_job(jobs.run_campaign, trigger, args=[campaign_id], id=job_id,
                          name=schedule, replace_existing=True)
    return set(wanted)


class SchedulerService:
    """The scheduler as a background service of `promobot run` (start/stop), paused
    unless this instance leads."""

    def __init__(self, settings: Settings, db: Database, clock: Clock = utcnow) -> None:
        self.settings = settings
        self.jobs = Jobs(db, settings, clock)
        self.scheduler = create_scheduler(settings, db, clock, jobs=self.jobs)
        self.leadership = Leadership(db.url)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.scheduler.start(paused=True)
        self._task = asyncio.create_task(self._lead(), name="scheduler-leader")

    async def _lead(self) -> None:
        retry = self.settings.jobs.leader_retry_seconds  # at least 1, checked at load
        leading = False
        while True:
            now_leading = await self.leadership.acquire()
            if now_leading and not leading:
                await sync_campaign_jobs(self.scheduler, self.jobs)
                self.scheduler.resume()
            elif leading and not now_leading:
                log.warning("scheduler: leadership lost, pausing jobs")
                self.scheduler.pause()
            leading = now_leading
            await asyncio.sleep(retry)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
            await asyncio.sleep(0)  # AsyncIOScheduler shuts down on the loop's next turn
        await self.leadership.release()


async def start_scheduler(settings: Settings, db: Database, clock: Clock = utcnow
                          ) -> SchedulerService:
    """Create and start the scheduler service inside the running loop."""
    service = SchedulerService(settings, db, clock)
    await service.start()
    return service


__all__ = ["SchedulerService", "create_scheduler", "start_scheduler", "sync_campaign_jobs"]
