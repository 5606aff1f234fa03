"""The jobs: thin calls into the domain with ids and kinds, never a Bot or a session.

Each run takes `now` from the clock once and logs what the domain did. A failure is
logged and the next run tries again: every run starts from the database's state.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.clock import Clock
from bot.config import Settings
from bot.db import Database
from bot.promo.campaigns import running as campaigns
from bot.promo.campaigns.context import Context, RunResult

log = logging.getLogger(__name__)

# Automatic jobs that run on an interval; comeback runs daily, campaigns on their cron.
INTERVAL_KINDS = ("review", "cart", "referral", "reminders", "tiers", "moments", "leaks")
# These read every customer whose day it may be, or every shared code in use: hourly is
# soon enough for a birthday or a leak, and a tenth of the reading.
HOURLY_KINDS = ("moments", "leaks")


@dataclass
class Jobs:
    db: Database
    settings: Settings
    clock: Clock

    def context(self) -> Context:
        return Context(self.db, self.settings, self.clock(),
                       batch_size=self.settings.jobs.campaign_batch_size)

    async def run_kind(self, kind: str) -> RunResult:
        """Comeback (every active comeback campaign without a schedule of its own) or one
        of the automatic jobs."""
        result = await campaigns.run_kind(self.context(), kind)
        log.info("job %s: %s", kind, result.summary())
        return result

    async def run_campaign(self, campaign_id: int) -> RunResult:
        """A campaign's own schedule; a paused campaign's run does nothing."""
        result = await campaigns.run_campaign(self.context(), campaign_id)
        log.info("job campaign:%s: %s", campaign_id, result.summary())
        return result
