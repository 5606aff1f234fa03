"""Promo codes, their per-customer use counters, redemptions, and the leak watch's alerts."""

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
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.clock import utcnow
from bot.db.models.base import Base
from bot.db.models.enums import CodeStatus


class PromoCode(Base):
    """A code and its offer: reward, conditions, validity and limits."""

    __tablename__ = "promo_codes"
    # Partial: bulk codes have no customer, mostly no campaign and never an earning
    # order, and every lookup asks for a value; a million of them then cost one unique
    # index and the key, not five (bench_codes: 13 → 9 s on PostgreSQL).
    __table_args__ = (
        Index("ix_promo_codes_customer_status", "customer_id", "status",
              postgresql_where=text("customer_id IS NOT NULL"),
              sqlite_where=text("customer_id IS NOT NULL")),
        Index("ix_promo_codes_campaign_customer", "campaign_id", "customer_id",
              postgresql_where=text("campaign_id IS NOT NULL"),
              sqlite_where=text("campaign_id IS NOT NULL")),
        Index("ix_promo_codes_earned_by_order_id", "earned_by_order_id",
              postgresql_where=text("earned_by_order_id IS NOT NULL"),
              sqlite_where=text("earned_by_order_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    source: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16), default="telegram")
    status: Mapped[str] = mapped_column(String(16), default=CodeStatus.ACTIVE)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    variant_id: Mapped[int | None] = mapped_column(ForeignKey("campaign_variants.id"))

    discount_type: Mapped[str] = mapped_column(String(16))
    # Percent as a whole number (10 = 10 %) or an amount in minor units.
    discount_value: Mapped[int] = mapped_column(BigInteger, default=0)
    free_shipping: Mapped[bool] = mapped_column(Boolean, default=False)
    # Under additive stacking, combinable codes may share an order; others take it alone.
    combinable: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    currency: Mapped[str] = mapped_column(String(3))
    min_order: Mapped[int] = mapped_column(BigInteger, default=0)
    max_discount: Mapped[int | None] = mapped_column(BigInteger)
    include_categories: Mapped[list[Any]] = mapped_column(default=list)
    exclude_categories: Mapped[list[Any]] = mapped_column(default=list)
    include_skus: Mapped[list[Any]] = mapped_column(default=list)
    exclude_skus: Mapped[list[Any]] = mapped_column(default=list)
    # A gift item (`discount_type` "gift"): the SKU the shop adds to the order at no
    # charge, its name as the shopper reads it, and what it costs the shop (minor units),
    # which counts against the order's ceiling and the campaign's budget like a discount.
    gift_sku: Mapped[str | None] = mapped_column(String(64))
    gift_name: Mapped[str | None] = mapped_column(String(100))
    gift_cost: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # Early access (`discount_type` "early_access"): the included categories and SKUs
    # open to this code before they go on sale to everyone at `launch_at`; the code's
    # deadline is never later than that.
    launch_at: Mapped[datetime | None]

    starts_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    # Lifetime counted from delivery; `expires_at` is set when the message is delivered.
    valid_days: Mapped[int | None] = mapped_column(Integer)
    # None means unlimited; issuing always sets both, so no column default can turn an
    # explicit None into 1.
    usage_limit: Mapped[int | None] = mapped_column(Integer)
    per_customer_limit: Mapped[int | None] = mapped_column(Integer)
    used_count: Mapped[int] = mapped_column(Integer, default=0)

    # The order whose action earned this reward; a return of that order revokes it.
    earned_by_order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    issued_by: Mapped[int | None] = mapped_column(BigInteger)
    revoked_at: Mapped[datetime | None]
    revoke_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CodeCustomerUsage(Base):
    """Uses of a shared code per customer; bumped by a conditional upsert."""

    __tablename__ = "code_customer_usage"

    code_id: Mapped[int] = mapped_column(
        ForeignKey("promo_codes.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    used_count: Mapped[int] = mapped_column(Integer, default=0)


class Redemption(Base):
    """One use of a code on one order; releasing it gives the use back."""

    __tablename__ = "redemptions"
    __table_args__ = (UniqueConstraint("code_id", "order_external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code_id: Mapped[int] = mapped_column(ForeignKey("promo_codes.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    order_external_id: Mapped[str] = mapped_column(String(64), index=True)
    order_total: Mapped[int] = mapped_column(BigInteger)
    discount: Mapped[int] = mapped_column(BigInteger)
    # The tier's part of the order's discount when this code was redeemed (additive
    # stacking); a retried redeem answers with it.
    tier_discount: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    free_shipping: Mapped[bool] = mapped_column(Boolean, default=False)
    # What this use cost the shop: the discount plus the cost of the free shipping it
    # gave. Counted against the order's ceiling and the campaign's budget, and given back
    # exactly by a release.
    cost: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # Indexed for the leak watch, which reads the last days' uses of every shared code:
    # an append at the index's right edge per redeem, where a scan of all would be minutes.
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    released_at: Mapped[datetime | None]


class OrderDiscount(Base):
    """What the codes redeemed on one order took, so that order-level rules (one code per
    order, the ceiling) hold across concurrent redeems: each redeem updates this row
    conditionally in its own transaction."""

    __tablename__ = "order_discounts"

    order_external_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    # Live (not released) codes on the order.
    codes: Mapped[int] = mapped_column(Integer, default=0)
    # A code that is not combinable holds the order alone.
    exclusive: Mapped[bool] = mapped_column(Boolean, default=False)
    # What the live codes cost (`Redemption.cost` summed): a redeem that computed the
    # order from other figures finds them changed and is refused.
    cost: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class LeakAlert(Base):
    """A shared code the leak watch told staff about (`bot.promo.codes.leaks`): one row per
    code, claimed by INSERT … ON CONFLICT DO NOTHING, so a code alerts once however many
    runs or instances see it; `level` goes up, by a conditional UPDATE, only when the
    uses nobody can explain (`suspects`) have doubled since the last alert."""

    __tablename__ = "leak_alerts"

    code_id: Mapped[int] = mapped_column(ForeignKey("promo_codes.id"), primary_key=True,
                                         autoincrement=False)
    level: Mapped[int] = mapped_column(Integer, default=1)
    # What the last alert said: uses in the window, customers who never received the code
    # through a channel we know, how many did, and the larger of the unexplained counts.
    uses: Mapped[int] = mapped_column(Integer)
    strangers: Mapped[int] = mapped_column(Integer)
    reach: Mapped[int] = mapped_column(Integer)
    suspects: Mapped[int] = mapped_column(Integer)
    first_alerted_at: Mapped[datetime]
    alerted_at: Mapped[datetime]
