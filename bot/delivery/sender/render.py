"""Rendering: the text of a claimed row, made by a renderer the composition root hands in.

The sender does not know what messages say (bot.delivery never imports bot.texts): it
calls a `Renderer` with the row, its code and the reader's locale and time zone, just
before the send. A personal code that counts its days from delivery has no deadline yet;
the text shows the one it will get, and `record` gives it exactly that deadline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from bot.db.models import Delivery, PromoCode
from bot.delivery.sender.claim import Job

# A text waiting longer than this for its turn (a long 429 pause) is rendered again, so
# that the deadline it shows stays the one the code gets from its delivery.
REDRAFT_AFTER = timedelta(seconds=30)


class Renderer(Protocol):
    """Telegram HTML for an outbox row, in `locale`; the code (if any) worded in full.

    Covers every reason (a plain fallback for one it has no wording for); an exception
    fails the delivery."""

    def __call__(
        self, delivery: Delivery, *, code: PromoCode | None, locale: str, tz: ZoneInfo
    ) -> str: ...


class Buttons(Protocol):
    """The inline keyboard under an outbox row's message (Bot API JSON), or None."""

    def __call__(self, delivery: Delivery, *, locale: str) -> dict[str, Any] | None: ...


class Polls(Protocol):
    """The poll an outbox row sends instead of a text (`{"question": str, "options":
    [str, ...]}`, in `locale`), or None for a row that is a text message."""

    def __call__(self, delivery: Delivery, *, locale: str) -> dict[str, Any] | None: ...


@dataclass(frozen=True, slots=True)
class Draft:
    """A rendered message. `expires_at` is the deadline its text shows (counted from
    `prepared_at`, just before the send); the code gets exactly that deadline."""

    text: str
    prepared_at: datetime
    expires_at: datetime | None
    reply_markup: dict[str, Any] | None = None
    poll: dict[str, Any] | None = None


def prepare(job: Job, render: Renderer, now: datetime, buttons: Buttons | None = None,
            polls: Polls | None = None) -> Draft:
    """The text (or the poll) to send, and the deadline it shows for a code that counts
    its days from delivery; raises what `render` raises."""
    poll = polls(job.delivery, locale=job.locale) if polls is not None else None
    if poll is not None:
        return Draft("", now, None, poll=poll)
    expires_at = None
    code = job.code
    if job.personal_code and code is not None and code.expires_at is None and (
        code.valid_days
    ):
        expires_at = now + timedelta(days=code.valid_days)
        code.expires_at = expires_at  # for the renderer only: the row is detached
    try:
        text = render(job.delivery, code=code, locale=job.locale, tz=job.tz)
        markup = buttons(job.delivery, locale=job.locale) if buttons is not None else None
        return Draft(text, now, expires_at, markup)
    finally:
        if code is not None and expires_at is not None:
            code.expires_at = None
