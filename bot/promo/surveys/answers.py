"""A shopper's answer to a survey poll (`poll_answer`), and the reward it earns.

The poll is found by its id (the sender recorded it with the message; a vote quicker
than the record finds the customer's poll in flight), and with it the survey and the
customer it was sent to; an answer counts only from that customer's
linked Telegram account, only while the survey is open. The answer is one row per
survey and customer, written by an upsert: a shopper who changes their vote changes
the row, one who retracts it leaves no option chosen (Telegram lets them do both).

The reward is paid once, on the first answer: a conditional UPDATE sets `rewarded_at`
where it is still empty, so a duplicated update, a vote changed and changed back, or
two instances taking updates at once pay it once. It is a personal code, checked
against the margin guardrail with the customer's tier, sent as a service message
through the outbox in the same transaction (the shopper asked for it by answering).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db.dialect import conflict_insert
from bot.db.models import (
    CodeSource,
    Customer,
    Delivery,
    DeliveryStatus,
    PromoCode,
    Survey,
    SurveyAnswer,
)
from bot.delivery.outbox import Reason, enqueue
from bot.promo.codes.issuing import headroom, issue_code
from bot.promo.surveys.surveys import is_open, reward_of

log = logging.getLogger(__name__)
answers = SurveyAnswer.__table__


@dataclass(frozen=True, slots=True)
class Answered:
    """What an answer did: the survey, the option now chosen (None: retracted) and the
    reward's code when this answer earned it."""

    survey: Survey
    option: int | None
    code: PromoCode | None


async def record_answer(
    session: AsyncSession,
    *,
    poll_id: str,
    customer: Customer | None,
    option_ids: Sequence[int],
    settings: Settings,
    now: datetime,
) -> Answered | None:
    """Store the answer of `customer` (the one linked to the Telegram account that voted)
    to the poll (not committed); None when it is not an answer to count: a poll that is
    not a survey's, sent to someone else, a closed survey, an option it does not have."""
    if customer is None:
        return None
    delivery = await session.scalar(
        select(Delivery).where(Delivery.poll_id == poll_id, Delivery.reason == Reason.SURVEY)
    ) or await _not_recorded_yet(session, poll_id, customer.id)
    if delivery is None or delivery.customer_id != customer.id:
        return None
    survey = await session.get(Survey, int(delivery.payload.get("survey") or 0))
    if survey is None or not is_open(survey, now):
        return None
    option = option_ids[0] if option_ids else None
    if option is not None and not 0 <= option < len(survey.options):
        return None
    upsert = conflict_insert(session, answers).values(
        survey_id=survey.id, customer_id=customer.id, option=option, answered_at=now)
    await session.execute(upsert.on_conflict_do_update(
        index_elements=["survey_id", "customer_id"],
        set_={"option": option, "answered_at": now},
    ))
    code = None
    if option is not None:
        code = await _reward(session, survey, customer, settings=settings, now=now)
    return Answered(survey, option, code)


async def _not_recorded_yet(session: AsyncSession, poll_id: str, customer_id: int
                            ) -> Delivery | None:
    """The customer's poll that went out but whose id the sender has not written yet (it
    records in batches, later still while the database is slow): a vote can be that
    quick. Taken only when it is the one such poll, and marked with the id here."""
    waiting = list(await session.scalars(
        select(Delivery).where(Delivery.customer_id == customer_id,
                               Delivery.status == DeliveryStatus.SENDING,
                               Delivery.reason == Reason.SURVEY, Delivery.poll_id.is_(None))
        .limit(2)))
    if len(waiting) != 1:
        return None
    marked = await session.execute(
        update(Delivery).where(Delivery.id == waiting[0].id, Delivery.poll_id.is_(None))
        .values(poll_id=poll_id))
    return waiting[0] if marked.rowcount == 1 else None


async def _reward(session: AsyncSession, survey: Survey, customer: Customer, *,
                  settings: Settings, now: datetime) -> PromoCode | None:
    offer = reward_of(survey)
    if offer is None:
        return None
    if not (await headroom(session, settings, now=now)).allows(offer, customer):
        log.warning("survey %s's reward leaves no room under the margin guardrail with "
                    "customer %s's tier", survey.id, customer.id)
        return None
    claimed = await session.execute(
        update(answers)
        .where(answers.c.survey_id == survey.id, answers.c.customer_id == customer.id,
               answers.c.rewarded_at.is_(None))
        .values(rewarded_at=now)
    )
    if claimed.rowcount != 1:
        return None
    code = await issue_code(session, offer, source=CodeSource.SURVEY, now=now,
                            customer_id=customer.id, length=settings.shop.code_length,
                            expires_on_delivery=True)
    await session.execute(
        update(answers)
        .where(answers.c.survey_id == survey.id, answers.c.customer_id == customer.id)
        .values(code_id=code.id)
    )
    await enqueue(session, dedupe_key=f"survey_reward:{survey.id}:{customer.id}",
                  customer_id=customer.id, reason=Reason.SURVEY_REWARD, promotional=False,
                  code_id=code.id, due_at=now, payload={"survey": survey.id})
    return code


@dataclass(frozen=True, slots=True)
class Given:
    """A customer's answer as their card shows it."""

    survey_id: int
    template: str | None
    question: str
    answer: str | None
    option: int | None
    answered_at: datetime


async def answers_of(session: AsyncSession, customer_id: int, limit: int = 5) -> list[Given]:
    """The customer's latest answers, newest first."""
    rows = await session.execute(
        select(SurveyAnswer, Survey).join(Survey, Survey.id == SurveyAnswer.survey_id)
        .where(SurveyAnswer.customer_id == customer_id)
        .order_by(SurveyAnswer.answered_at.desc()).limit(limit)
    )
    return [
        Given(survey.id, survey.template, survey.question,
              survey.options[answer.option] if answer.option is not None else None,
              answer.option, answer.answered_at)
        for answer, survey in rows.all()
    ]
