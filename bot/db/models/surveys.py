"""Surveys sent as Telegram polls, and the answers shoppers gave (`bot.promo.surveys`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.clock import utcnow
from bot.db.models.base import Base


class Survey(Base):
    """A question with its options, the customers it goes to and what answering earns.

    A survey made from one of the playbook's templates keeps the template's key and is
    worded in each reader's language; a survey a manager typed reads as typed."""

    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    template: Mapped[str | None] = mapped_column(String(32))
    question: Mapped[str] = mapped_column(String(300))
    options: Mapped[list[Any]] = mapped_column(default=list)
    segment: Mapped[str | None] = mapped_column(String(64))
    # The reward for an answer as an offer (`bot.promo.codes.offers.Offer.to_dict`);
    # empty: answering earns nothing.
    reward: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    # What asked for it (a dialog's confirmation), so that asking twice makes one survey.
    request: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closes_at: Mapped[datetime]
    queued: Mapped[int] = mapped_column(default=0)


class SurveyAnswer(Base):
    """One customer's answer to one survey: the option they chose last (a shopper may
    retract a vote and vote again), and the reward's code once paid."""

    __tablename__ = "survey_answers"
    __table_args__ = (UniqueConstraint("survey_id", "customer_id"),
                      Index("ix_survey_answers_customer_id", "customer_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    # None while a retracted vote is not replaced: the customer answers no option then.
    option: Mapped[int | None]
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)
    rewarded_at: Mapped[datetime | None]
    code_id: Mapped[int | None] = mapped_column(ForeignKey("promo_codes.id"))
