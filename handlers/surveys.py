"""A shopper's vote in a survey poll (`poll_answer`): stored, and its reward queued.

Nothing is said back in the chat: the poll itself shows the vote, and the reward, when
the survey gives one, comes as a message of its own through the outbox.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.types import PollAnswer
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.db.models import Customer
from bot.promo.surveys.answers import record_answer


async def on_poll_answer(poll_answer: PollAnswer, session: AsyncSession,
                         customer: Customer | None, settings: Settings, clock: Clock) -> None:
    answered = await record_answer(session, poll_id=poll_answer.poll_id, customer=customer,
                                   option_ids=poll_answer.option_ids, settings=settings,
                                   now=clock())
    if answered is not None:
        await session.commit()


def create_router() -> Router:
    router = Router(name="surveys")
    router.poll_answer.register(on_poll_answer)
    return router
