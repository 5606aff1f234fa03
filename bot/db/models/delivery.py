"""The outbox: one row per message to a customer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.clock import utcnow
from bot.db.models.base import Base
from bot.db.models.enums import DeliveryStatus


class Delivery(Base):
    """The outbox: one message to one customer, sent at most once per dedupe key."""

    __tablename__ = "deliveries"
    # A campaign's report asks, per customer, whether their message went out: the pair is
    # one probe (by the campaign alone it was a walk of all its messages per customer).
    __table_args__ = (Index("ix_deliveries_status_due", "status", "due_at"),
                      Index("ix_deliveries_campaign_customer", "campaign_id", "customer_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(32))
    # Promotional messages obey opt-out, caps and quiet hours; service messages do not.
    promotional: Mapped[bool] = mapped_column(Boolean, default=True)
    code_id: Mapped[int | None] = mapped_column(ForeignKey("promo_codes.id"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A message about a day (a birthday) that has not gone out by then is cancelled, its
    # code given back, rather than sent late (`bot.delivery.sender.claim`); None = never.
    expires_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None]
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    # A poll's id: its answers (`poll_answer` updates) name the poll, not the message.
    poll_id: Mapped[str | None] = mapped_column(String(64), index=True)
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
