"""Customers, their Telegram accounts, account-link tokens and referrals."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.clock import utcnow
from bot.db.models.base import Base
from bot.db.models.enums import ReferralStatus


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
    marketing_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    # As the shop sends it (`PUT /customers/{id}`): only the day counts, for the birthday
    # reward (`bot.promo.campaigns.moments`); the year is never shown.
    birthday: Mapped[date | None]
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


class AccountLink(Base):
    """Every link ever made between a Telegram account and a customer: relinking moves
    the account, this keeps who it was, so that nobody refers themselves by a new
    account."""

    __tablename__ = "account_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)


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


class Referral(Base):
    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(primary_key=True)
    referrer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    referee_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=ReferralStatus.PENDING)
    first_order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    rewarded_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WelcomeOffer(Base):
    """The welcome offer given on a first link: at most one per customer and one per
    Telegram account, whatever relinking happens (`bot.promo.campaigns.welcome`)."""

    __tablename__ = "welcome_offers"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), unique=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    code_id: Mapped[int | None] = mapped_column(ForeignKey("promo_codes.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ActionReward(Base):
    """A reward paid for an action the shop reported: one per (customer, action, ref)
    (`bot.promo.campaigns.actions`)."""

    __tablename__ = "action_rewards"
    __table_args__ = (UniqueConstraint("customer_id", "action", "ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    action: Mapped[str] = mapped_column(String(32))
    ref: Mapped[str] = mapped_column(String(128), default="")
    code_id: Mapped[int | None] = mapped_column(ForeignKey("promo_codes.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MomentReward(Base):
    """A moment's reward (a purchase anniversary, a birthday): one per customer, kind and
    year, the year of the moment's local day (`bot.promo.campaigns.moments`)."""

    __tablename__ = "moment_rewards"
    __table_args__ = (UniqueConstraint("customer_id", "kind", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    kind: Mapped[str] = mapped_column(String(16))
    year: Mapped[int] = mapped_column(Integer)
    code_id: Mapped[int | None] = mapped_column(ForeignKey("promo_codes.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
