"""Making a survey, sending it, closing it, and its results.

A survey goes to the customers of a segment (everyone, when none is chosen) who accept
promotions, have Telegram linked and are outside the global holdout: a question to
customers is marketing contact like a campaign's message. Each gets one outbox row (a
`survey` poll, promotional: within the frequency caps and quiet hours, withdrawn by an
opt-out before it goes), unique per survey and customer, queued in batches of
customer ids so that memory stays flat however large the shop. Sending twice, or from
two instances, queues each customer once.

A survey is open for `SURVEY_DAYS` by default; answers after that, or after a manager
closed it, are not stored (the poll stays in the chat, as Telegram keeps it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db.dialect import conflict_insert
from bot.db.models import Customer, Delivery, DeliveryStatus, Survey, SurveyAnswer
from bot.delivery.outbox import Reason, enqueue_many
from bot.promo.campaigns.admin import audience_counts
from bot.promo.campaigns.audience import audience, batches, reachable
from bot.promo.campaigns.context import Context, RunResult
from bot.promo.campaigns.global_holdout import without_members
from bot.promo.codes.issuing import ensure_within_guardrail
from bot.promo.codes.offers import Offer
from bot.promo.customers.segments import get_segment
from bot.promo.errors import DomainError, ErrorCode

SURVEY_DAYS = 14
MIN_OPTIONS, MAX_OPTIONS = 2, 10
# Telegram's limits for a poll's question and each option.
QUESTION_LIMIT, OPTION_LIMIT = 300, 100
OPEN, CLOSED = "open", "closed"


def check_poll(question: str, options: Sequence[str]) -> None:
    """Refuse what Telegram would refuse as a poll (ValueError)."""
    if not question.strip() or len(question) > QUESTION_LIMIT:
        raise ValueError("question")
    if not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
        raise ValueError("options")
    if any(not option.strip() or len(option) > OPTION_LIMIT for option in options):
        raise ValueError("option")
    if len({option.strip().casefold() for option in options}) != len(options):
        raise ValueError("duplicate")


async def create(
    session: AsyncSession,
    *,
    question: str,
    options: Sequence[str],
    template: str | None = None,
    segment: str | None = None,
    reward: Offer | None = None,
    created_by: int | None = None,
    request: str | None = None,
    settings: Settings,
    now: datetime,
    days: int = SURVEY_DAYS,
) -> Survey | None:
    """A new open survey (not committed); the reward is refused above the margin ceiling
    like any code (checked again for each customer's tier when paid).

    `request` names the asking (the dialog's confirmation message): the same request
    twice — a double tap, a retried update — makes one survey, and the second gets None.
    """
    check_poll(question, options)
    if segment is not None:
        get_segment(segment)  # KeyError for a name that is not a segment
    if reward is not None:
        await ensure_within_guardrail(session, reward, guardrail=settings.guardrail, now=now)
    made = await session.scalar(
        conflict_insert(session, Survey).values(
            template=template, question=question.strip(),
            options=[o.strip() for o in options], segment=segment,
            reward=reward.to_json() if reward is not None else {}, status=OPEN,
            created_by=created_by, request=request, created_at=now,
            closes_at=now + timedelta(days=days), queued=0,
        ).on_conflict_do_nothing(index_elements=["request"]).returning(Survey.id)
    )
    return None if made is None else await get(session, made)


def reward_of(survey: Survey) -> Offer | None:
    return Offer.from_json(survey.reward) if survey.reward else None


def is_open(survey: Survey, now: datetime) -> bool:
    return survey.status == OPEN and now < survey.closes_at


async def find(session: AsyncSession, survey_id: int) -> Survey | None:
    return await session.get(Survey, survey_id)


async def get(session: AsyncSession, survey_id: int) -> Survey:
    survey = await find(session, survey_id)
    if survey is None:
        raise DomainError(ErrorCode.UNKNOWN_SURVEY, f"survey {survey_id} not found")
    return survey


async def recent(session: AsyncSession, limit: int = 10) -> list[Survey]:
    """The latest surveys, newest first."""
    return list(await session.scalars(select(Survey).order_by(Survey.id.desc()).limit(limit)))


async def close(session: AsyncSession, survey_id: int, *, now: datetime) -> bool:
    """Close an open survey (not committed); False when it was closed already. Its polls
    still waiting to go out are withdrawn: an answer would no longer count."""
    await get(session, survey_id)
    done = await session.execute(
        update(Survey).where(Survey.id == survey_id, Survey.status == OPEN).values(status=CLOSED)
    )
    await session.execute(
        update(Delivery)
        .where(Delivery.status == DeliveryStatus.PENDING, Delivery.reason == Reason.SURVEY,
               Delivery.dedupe_key.like(f"survey:{survey_id}:customer:%"))
        .values(status=DeliveryStatus.CANCELLED, error="withdrawn: the survey was closed")
    )
    return done.rowcount == 1


def _asked(segment: str | None, settings: Settings, now: datetime) -> Select[Any]:
    """The segment's customers (everyone's, without one) outside the global holdout."""
    query = (get_segment(segment).select(now=now, tz=settings.shop.zone) if segment
             else select(Customer.id))
    return without_members(query, settings.policy.global_holdout)


async def reach(session: AsyncSession, segment: str | None, *, settings: Settings,
                now: datetime) -> int:
    """How many customers a survey to `segment` would reach now."""
    return (await audience_counts(session, _asked(segment, settings, now)))[1]


def audience_of(survey: Survey, settings: Settings, now: datetime) -> Select[Any]:
    """The survey's audience rows; consent and the Telegram link are checked per row
    (`reachable`), and counted."""
    return audience(_asked(survey.segment, settings, now))


async def send(ctx: Context, survey_id: int) -> RunResult:
    """Queue the survey's poll for its audience. A second send queues only those not
    queued before (customers new to the segment, or the rest of a send a restart cut
    short); the result counts who was skipped and why. A poll that caps or quiet hours
    hold until the survey closes is not sent: its answer would not count."""
    async with ctx.db.read_session() as session:
        survey = await get(session, survey_id)
    if not is_open(survey, ctx.now):
        raise DomainError(ErrorCode.SURVEY_CLOSED, f"survey {survey_id} is closed")
    result = RunResult(kind="survey")
    # The poll itself rides along, so that the sender words it without the database.
    payload = {"survey": survey_id, "template": survey.template, "question": survey.question,
               "options": list(survey.options)}
    async for session, rows in batches(ctx, audience_of(survey, ctx.settings, ctx.now)):
        queued = await enqueue_many(session, [
            {"dedupe_key": f"survey:{survey_id}:customer:{row.id}", "customer_id": row.id,
             "payload": payload}
            for row in reachable(rows, result)
        ], reason=Reason.SURVEY, due_at=ctx.now, expires_at=survey.closes_at)
        if queued:
            await session.execute(update(Survey).where(Survey.id == survey_id)
                                  .values(queued=Survey.queued + queued))
        result.queued += queued
    return result


@dataclass(frozen=True, slots=True)
class Results:
    """How a survey went: polls sent, customers who answered, how many chose each option
    (in the survey's order), rewards paid."""

    survey: Survey
    sent: int
    answered: int
    counts: tuple[int, ...]
    rewarded: int

    @property
    def response_rate(self) -> float | None:
        return self.answered / self.sent if self.sent else None


async def results(session: AsyncSession, survey_id: int) -> Results:
    survey = await get(session, survey_id)
    sent = await session.scalar(
        select(func.count()).select_from(Delivery)
        # A sent poll has its id: that index narrows the walk to polls.
        .where(Delivery.poll_id.is_not(None), Delivery.status == DeliveryStatus.SENT,
               Delivery.dedupe_key.like(f"survey:{survey_id}:customer:%"))
    ) or 0
    by_option = dict((await session.execute(
        select(SurveyAnswer.option, func.count())
        .where(SurveyAnswer.survey_id == survey_id, SurveyAnswer.option.is_not(None))
        .group_by(SurveyAnswer.option)
    )).all())
    rewarded = await session.scalar(
        select(func.count()).select_from(SurveyAnswer)
        .where(SurveyAnswer.survey_id == survey_id, SurveyAnswer.code_id.is_not(None))
    ) or 0
    counts = tuple(by_option.get(index, 0) for index in range(len(survey.options)))
    return Results(survey, sent, sum(counts), counts, rewarded)
