"""Enumerations, stored as short strings so that both backends and migrations stay simple."""

from __future__ import annotations

from enum import StrEnum


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
    # Not a discount: an item the shop adds to the order at no charge.
    GIFT = "gift"
    # Goods before their launch (with an optional percent off them).
    EARLY_ACCESS = "early_access"


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
    WELCOME = "welcome"
    ACTION = "action"
    SURVEY = "survey"
    ANNIVERSARY = "anniversary"
    BIRTHDAY = "birthday"


class CampaignKind(StrEnum):
    COMEBACK = "comeback"
    REVIEW = "review"
    CART = "cart"
    REFERRAL = "referral"
    BROADCAST = "broadcast"
    # Each customer of a segment: a code limited to a category they never bought
    # (`bot.promo.campaigns.new_category`).
    NEW_CATEGORY = "new_category"
    # A shop-reported action's reward, set by a manager (`bot.promo.campaigns.actions`):
    # no run of its own, it pays as the reports arrive.
    ACTION = "action"


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
    CAPPED = "capped"  # the referrer had all the rewards the lifetime cap allows


class Role(StrEnum):
    OWNER = "owner"
    MANAGER = "manager"
    ANALYST = "analyst"
