"""What every run shares: where and when it happens (`Context`) and what it did
(`RunResult`), counted across batches for logs, the CLI and managers."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from bot.config import CAMPAIGN_BATCH_SIZE, Settings
from bot.db import Database


@dataclass
class RunResult:
    """What a run did, for logs, the CLI and managers; counts add up across batches."""

    kind: str
    campaign_id: int | None = None
    # done | inactive (paused, stopped or draft: nothing was done) | refused (guardrail)
    status: str = "done"
    message: str = ""
    audience: int = 0
    assigned: int = 0
    holdout: int = 0
    issued: int = 0
    queued: int = 0
    escalated: int = 0
    # Suppressed: asked for no promotions, never linked Telegram, or blocked the bot.
    opted_out: int = 0
    no_telegram: int = 0
    blocked: int = 0
    # Someone else (a concurrent run) claimed them first.
    taken: int = 0
    # Held back by a rule (monthly cap, order returned, ...).
    held: int = 0
    # No code: with their tier, the margin guardrail leaves no room for the offer (or,
    # without stacking, the tier gives as much and the code would never apply).
    no_room: int = 0
    # No code: a "new category" campaign has no category to suggest to them (they bought
    # every one their peers buy, or none of their orders names a category).
    no_category: int = 0

    def merge(self, other: RunResult) -> None:
        for name, value in other.as_dict().items():
            if isinstance(value, int) and name != "campaign_id":
                setattr(self, name, getattr(self, name) + value)
        if other.status != "done" and self.status == "done":
            self.status, self.message = other.status, other.message

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        head = f"{self.kind}" + (f" #{self.campaign_id}" if self.campaign_id else "")
        if self.status != "done":
            return f"{head}: {self.status} {self.message}".rstrip()
        counts = ", ".join(
            f"{name} {value}" for name, value in self.as_dict().items()
            if isinstance(value, int) and value and name != "campaign_id"
        )
        return f"{head}: {counts or 'nothing to do'}"


@dataclass(frozen=True, slots=True)
class Context:
    """Where and when a run happens; `now` is fixed for the whole run."""

    db: Database
    settings: Settings
    now: datetime
    batch_size: int = CAMPAIGN_BATCH_SIZE
