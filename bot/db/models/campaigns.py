"""Campaigns, their variants and who was assigned to which (or to the holdout)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.clock import utcnow
from bot.db.models.base import Base
from bot.db.models.enums import CampaignStatus


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(16), default=CampaignStatus.DRAFT)
    segment: Mapped[str | None] = mapped_column(String(64))
    # Segment parameters, e.g. {"silent_days": 60}; the offer template for issued codes.
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    offer: Mapped[dict[str, Any]] = mapped_column(default=dict)
    holdout_percent: Mapped[int] = mapped_column(Integer, default=0)
    # New recipients' split moves towards the most profitable variant
    # (`bot.promo.campaigns.optimiser`); off: the variants' weights.
    optimise: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Budgets stop the campaign's codes at the checkout when spent (None: no budget);
    # `spent_*` grow and shrink in the redeem and release transactions.
    budget_amount: Mapped[int | None] = mapped_column(BigInteger)
    budget_uses: Mapped[int | None] = mapped_column(Integer)
    spent_amount: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    spent_uses: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    schedule: Mapped[str | None] = mapped_column(String(100))
    message_ru: Mapped[str | None] = mapped_column(Text)
    message_en: Mapped[str | None] = mapped_column(Text)
    code_prefix: Mapped[str | None] = mapped_column(String(12))
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    started_at: Mapped[datetime | None]
    # Set when a start or resume asks for a run, cleared when a run since then finished:
    # still set at start-up, the run was lost with a process and is launched again.
    run_requested_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    variants: Mapped[list[CampaignVariant]] = relationship(
        back_populates="campaign", cascade="all, delete-orphan", lazy="raise"
    )


class CampaignVariant(Base):
    __tablename__ = "campaign_variants"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    weight: Mapped[int] = mapped_column(Integer, default=1)
    offer: Mapped[dict[str, Any]] = mapped_column(default=dict)

    campaign: Mapped[Campaign] = relationship(back_populates="variants", lazy="raise")


class CampaignAssignment(Base):
    """Which variant a customer got in a campaign; holdout rows have no variant."""

    __tablename__ = "campaign_assignments"
    __table_args__ = (UniqueConstraint("campaign_id", "customer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    variant_id: Mapped[int | None] = mapped_column(ForeignKey("campaign_variants.id"))
    is_holdout: Mapped[bool] = mapped_column(Boolean, default=False)
    # The chance, when assigned, of the group this customer got (`propensity`) and of the
    # holdout (`holdout_share`): the reports weigh each customer by them, so a split that
    # moved over time (the optimiser) still compares like with like.
    propensity: Mapped[float] = mapped_column(Float, default=1.0, server_default="1")
    holdout_share: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    step: Mapped[int] = mapped_column(Integer, default=0)
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The code this customer holds from the campaign now (the ladder's current step).
    code_id: Mapped[int | None] = mapped_column(ForeignKey("promo_codes.id"))
    # Comeback: the customer's last order when this silence began; a newer order starts
    # a new cycle. `escalated`: the cycle has used its one step up the ladder.
    reference_at: Mapped[datetime | None]
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
