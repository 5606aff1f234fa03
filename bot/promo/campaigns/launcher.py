"""Campaign runs in the background of the running process: what starting or resuming a
campaign sets off (a manager's button or command, the shop API's `PATCH … {"action"}`).

The caller answers at once; the run is `running.run_campaign`, the very code of `promobot
campaign run` and of the scheduled jobs, so a started campaign selects its audience,
issues codes and queues messages without a command-line step. One run per campaign at a
time in this process: a start while one is under way asks it to go once more when it
ends, so a resume during a run's last batch is not lost. Against a scheduled run or
another process nothing is sent twice all the same: each customer is claimed once per
campaign (`claims.claim_new`) and the outbox's dedupe key is unique.

A run lost with its process (a restart or a crash mid-run) is launched again when a
process starts (`resume_interrupted`): starting or resuming marks the campaign
`run_requested_at` in the same transaction as its new state, and only a run that ends
(rather than one cancelled or raising) clears the mark. The batches already committed
stand, so the new run carries on where the lost one stopped. Several processes starting
together may each resume it; the claims above keep that to duplicated reads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update

from bot.clock import Clock
from bot.config import Settings
from bot.db import Database
from bot.db.models import Campaign
from bot.db.models.enums import CampaignStatus
from bot.promo.campaigns import running
from bot.promo.campaigns.context import Context, RunResult

log = logging.getLogger(__name__)

# Where the bot's dispatcher keeps its launcher (workflow data: handlers take `launcher`).
LAUNCHER = "launcher"
# The run raised: told to whoever follows it, logged with its traceback.
FAILED = "failed"


@dataclass
class Launcher:
    """The campaign runs of one process, by campaign id."""

    db: Database
    settings: Settings
    clock: Clock
    # Called with each finished run's result (e.g. to wake the sender at once).
    after_run: list[Callable[[RunResult], object]] = field(default_factory=list)
    tasks: dict[int, asyncio.Task[None]] = field(default_factory=dict)
    # The last finished run of each campaign, for the managers' progress message.
    results: dict[int, RunResult] = field(default_factory=dict)
    _again: set[int] = field(default_factory=set)

    def launch(self, campaign_id: int) -> None:
        """Run the campaign now in the background (or once more after the current run)."""
        current = self.tasks.get(campaign_id)
        if current is not None and not current.done():
            self._again.add(campaign_id)
            return
        self.results.pop(campaign_id, None)
        task = asyncio.create_task(self._runs(campaign_id), name=f"campaign-run:{campaign_id}")
        self.tasks[campaign_id] = task
        task.add_done_callback(lambda done: self._forget(campaign_id, done))

    def running(self, campaign_id: int) -> bool:
        current = self.tasks.get(campaign_id)
        return current is not None and not current.done()

    def _forget(self, campaign_id: int, task: asyncio.Task[None]) -> None:
        if self.tasks.get(campaign_id) is task:
            del self.tasks[campaign_id]

    async def _runs(self, campaign_id: int) -> None:
        while True:
            self._again.discard(campaign_id)
            result = await self._run_once(campaign_id)
            self.results[campaign_id] = result
            for listener in self.after_run:
                try:
                    listener(result)
                except Exception:
                    log.exception("after a run of campaign %s", campaign_id)
            if campaign_id not in self._again:
                return

    async def _run_once(self, campaign_id: int) -> RunResult:
        ctx = Context(self.db, self.settings, self.clock(),
                      batch_size=self.settings.jobs.campaign_batch_size)
        try:
            result = await running.run_campaign(ctx, campaign_id)
            await self._ran(campaign_id, ctx.now)
        except Exception:
            # Committed batches stand; a later run (this process's next start at the
            # latest: the mark stays) carries on from them.
            log.exception("campaign %s: the run failed", campaign_id)
            return RunResult(kind="?", campaign_id=campaign_id, status=FAILED,
                             message="the run failed; see the log")
        log.info("campaign run %s: %s", campaign_id, result.summary())
        return result

    async def _ran(self, campaign_id: int, begun: datetime) -> None:
        """Clear the run's mark, unless a start or resume asked for another since."""
        async with self.db.session() as session:
            await session.execute(
                update(Campaign)
                .where(Campaign.id == campaign_id, Campaign.run_requested_at <= begun)
                .values(run_requested_at=None)
                .execution_options(synchronize_session=False)
            )
            await session.commit()

    async def resume_interrupted(self) -> list[int]:
        """Launch the active campaigns whose asked-for run never finished (at start-up)."""
        async with self.db.read_session() as session:
            ids = list((await session.scalars(
                select(Campaign.id).where(Campaign.status == CampaignStatus.ACTIVE,
                                          Campaign.run_requested_at.is_not(None))
                .order_by(Campaign.id)
            )).all())
        for campaign_id in ids:
            log.info("campaign %s: its run was interrupted; running it again", campaign_id)
            self.launch(campaign_id)
        return ids

    async def join(self) -> None:
        """Until no run is under way (tests; a run that asks for another is waited for)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks.values()), return_exceptions=True)

    async def close(self) -> None:
        """Cancel the runs under way (at shutdown): the batch in flight rolls back."""
        tasks = list(self.tasks.values())
        self.tasks.clear()
        self._again.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
