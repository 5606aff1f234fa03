"""ORM models: the shop's customers and orders, promo codes and everything around them.

Money columns are integers in minor units. Times are aware UTC (`UTCDateTime`).
Enumerations are stored as short strings so that both backends and migrations stay simple.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bot.clock import utcnow
from bot.db.types import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class OrderStatus(StrEnum):
    PAID = "paid"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    RETURNED = "returned"
    PARTIALLY_RETURNED = "partially_returned"


class DiscountType(StrEnum):
    PERCENT = "percent"
    FIXED = "fixed"
    FREE_SHIPPING = "free_shipping"


class CodeStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


class CodeSource(StrEnum):
    """Why a code exists; campaigns, rewards and analytics group by it."""

    MANUAL = "manual"
    API = "api"
    BULK = "bulk"
    COMEBACK = "comeback"
    REVIEW = "review"
    CART = "cart"
    REFERRAL = "referral"
    TIER = "tier"
    CAMPAIGN = "campaign"


class CampaignKind(StrEnum):
    COMEBACK = "comeback"
    REVIEW = "review"
    CART = "cart"
    REFERRAL = "referral"
    BROADCAST = "broadcast"


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    STOPPED = "stopped"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CAPPED = "capped"
    UNREACHABLE = "unreachable"
    CANCELLED = "cancelled"


class ReferralStatus(StrEnum):
    PENDING = "pending"
    QUALIFIED = "qualified"
    REWARDED = "rewarded"
    REJECTED = "rejected"


class Role(StrEnum):
    OWNER = "owner"
    MANAGER = "manager"
    ANALYST = "analyst"


class Customer(Base):
    """A shop customer. Order aggregates are kept here so that segments are index scans."""

    __tablename__ = "customers"
    # Segments: "one order, silent since ..." is an equality then a range on this index.
    __table_args__ = (
        Index("ix_customers_orders_count_last_order", "orders_count", "last_order_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    email: Mapped[str | None] = mapped_column(String(254))
    locale: Mapped[str | None] = mapped_column(String(8))
    timezone: Mapped[str | None] = mapped_column(String(64))
    marketing_opt_in: Mapped[bool] = mapped_column(Boolean, default=True)
    referral_code: Mapped[str | None] = mapped_column(String(32), unique=True)
    referred_by_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))

    orders_count: Mapped[int] = mapped_column(Integer, default=0)
    gross_spend: Mapped[int] = mapped_column(BigInteger, default=0)
    net_spend: Mapped[int] = mapped_column(BigInteger, default=0, index=True)
    first_order_at: Mapped[datetime | None]
    last_order_at: Mapped[datetime | None] = mapped_column(index=True)
    favourite_category: Mapped[str | None] = mapped_column(String(100))

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    telegram: Mapped[TelegramAccount | None] = relationship(
        back_populates="customer", uselist=False, lazy="raise",
        foreign_keys="TelegramAccount.customer_id",
    )


class TelegramAccount(Base):
    """A Telegram user who talked to the bot, linked to at most one customer."""

    __tablename__ = "telegram_accounts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), unique=True)
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    username: Mapped[str | None] = mapped_column(String(64), index=True)
    first_name: Mapped[str | None] = mapped_column(String(200))
    language_code: Mapped[str | None] = mapped_column(String(16))
    locale: Mapped[str | None] = mapped_column(String(8))
    is_blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    blocked_at: Mapped[datetime | None]
    linked_at: Mapped[datetime | None]
    # Who invited this Telegram user (`/start ref_<code>` before linking); turned into a
    # Referral when the account links to a new customer.
    referred_by_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    customer: Mapped[Customer | None] = relationship(
        back_populates="telegram", lazy="raise", foreign_keys=[customer_id]
    )


class LinkToken(Base):
    """A one-time deep-link token; only its SHA-256 is stored."""

    __tablename__ = "link_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by_telegram_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_customer_placed", "customer_id", "placed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    placed_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(24))
    total: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    discount: Mapped[int] = mapped_column(BigInteger, default=0)
    promo_code: Mapped[str | None] = mapped_column(String(64))
    returned_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    delivered_at: Mapped[datetime | None]
    # What this order added to the customer's net spend, so that updates apply deltas once.
    counted_spend: Mapped[int] = mapped_column(BigInteger, default=0)
    counted_in_orders: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", cascade="all, delete-orphan", lazy="raise"
    )


class OrderItem(Base):
    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    sku: Mapped[str] = mapped_column(String(64))
    category: Mapped[str | None] = mapped_column(String(100))
    price: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(Integer)

    order: Mapped[Order] = relationship(back_populates="items", lazy="raise")


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
    schedule: Mapped[str | None] = mapped_column(String(100))
    message_ru: Mapped[str | None] = mapped_column(Text)
    message_en: Mapped[str | None] = mapped_column(Text)
    code_prefix: Mapped[str | None] = mapped_column(String(12))
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    started_at: Mapped[datetime | None]
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
    step: Mapped[int] = mapped_column(Integer, default=0)
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The code this customer holds from the campaign now (the ladder's current step).
    code_id: Mapped[int | None] = mapped_column(ForeignKey("promo_codes.id"))
    # Comeback: the customer's last order when this silence began; a newer order starts
    # a new cycle. `escalated`: the cycle has used its one step up the ladder.
    reference_at: Mapped[datetime | None]
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)


class PromoCode(Base):
    """A code and its offer: reward, conditions, validity and limits."""

    __tablename__ = "promo_codes"
    __table_args__ = (Index("ix_promo_codes_customer_status", "customer_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    source: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16), default="telegram")
    status: Mapped[str] = mapped_column(String(16), default=CodeStatus.ACTIVE)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    variant_id: Mapped[int | None] = mapped_column(ForeignKey("campaign_variants.id"))

    discount_type: Mapped[str] = mapped_column(String(16))
    # Percent as a whole number (10 = 10 %) or an amount in minor units.
    discount_value: Mapped[int] = mapped_column(BigInteger, default=0)
    free_shipping: Mapped[bool] = mapped_column(Boolean, default=False)
    currency: Mapped[str] = mapped_column(String(3))
    min_order: Mapped[int] = mapped_column(BigInteger, default=0)
    max_discount: Mapped[int | None] = mapped_column(BigInteger)
    include_categories: Mapped[list[Any]] = mapped_column(default=list)
    exclude_categories: Mapped[list[Any]] = mapped_column(default=list)
    include_skus: Mapped[list[Any]] = mapped_column(default=list)
    exclude_skus: Mapped[list[Any]] = mapped_column(default=list)

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
    earned_by_order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
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
    free_shipping: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    released_at: Mapped[datetime | None]


class Delivery(Base):
    """The outbox: one message to one customer, sent at most once per dedupe key."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(32))
    # Promotional messages obey opt-out, caps and quiet hours; service messages do not.
    promotional: Mapped[bool] = mapped_column(Boolean, default=True)
    code_id: Mapped[int | None] = mapped_column(ForeignKey("promo_codes.id"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None]
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Referral(Base):
    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(primary_key=True)
    referrer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    referee_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=ReferralStatus.PENDING)
    first_order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    rewarded_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Review(Base):
    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    rating: Mapped[int] = mapped_column(Integer)
    has_photo: Mapped[bool] = mapped_column(Boolean, default=False)
    reward_code_id: Mapped[int | None] = mapped_column(ForeignKey("promo_codes.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AbandonedCart(Base):
    __tablename__ = "abandoned_carts"

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    items: Mapped[list[Any]] = mapped_column(default=list)
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    code_id: Mapped[int | None] = mapped_column(ForeignKey("promo_codes.id"))
    recovered_order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the cart job decided (code queued, holdout, or nobody to tell): decided once.
    handled_at: Mapped[datetime | None]


class Manager(Base):
    __tablename__ = "managers"

    telegram_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    role: Mapped[str] = mapped_column(String(16), default=Role.MANAGER)
    # Discount this manager may hand out per calendar month, minor units; None = unlimited.
    monthly_budget: Mapped[int | None] = mapped_column(BigInteger)
    added_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditLog(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_actor_created", "actor", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class IdempotencyRecord(Base):
    """The first answer to a write, replayed when the shop retries with the same key."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("api_key_name", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    api_key_name: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(300))
    request_hash: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

