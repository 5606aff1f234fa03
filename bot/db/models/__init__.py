"""ORM models: the shop's customers and orders, promo codes and everything around them,
one module per idea; everything is importable from here.

Money columns are integers in minor units. Times are aware UTC (`UTCDateTime`).
"""

from bot.db.models.base import NAMING_CONVENTION, Base
from bot.db.models.campaigns import Campaign, CampaignAssignment, CampaignVariant
from bot.db.models.cluster import ChatClock, RateCounter, SeenUpdate, SendClock
from bot.db.models.codes import (
    CodeCustomerUsage,
    LeakAlert,
    OrderDiscount,
    PromoCode,
    Redemption,
)
from bot.db.models.customers import (
    AccountLink,
    ActionReward,
    Customer,
    LinkToken,
    MomentReward,
    Referral,
    TelegramAccount,
    WelcomeOffer,
)
from bot.db.models.delivery import Delivery
from bot.db.models.enums import (
    CampaignKind,
    CampaignStatus,
    CodeSource,
    CodeStatus,
    DeliveryStatus,
    DiscountType,
    OrderStatus,
    ReferralStatus,
    Role,
)
from bot.db.models.shop import AbandonedCart, Order, OrderItem, Review
from bot.db.models.staff import AuditLog, IdempotencyRecord, Manager
from bot.db.models.surveys import Survey, SurveyAnswer

__all__ = [
    "NAMING_CONVENTION",
    "AbandonedCart",
    "AccountLink",
    "ActionReward",
    "AuditLog",
    "Base",
    "Campaign",
    "CampaignAssignment",
    "CampaignKind",
    "CampaignStatus",
    "CampaignVariant",
    "ChatClock",
    "CodeCustomerUsage",
    "CodeSource",
    "CodeStatus",
    "Customer",
    "Delivery",
    "DeliveryStatus",
    "DiscountType",
    "IdempotencyRecord",
    "LeakAlert",
    "LinkToken",
    "Manager",
    "MomentReward",
    "Order",
    "OrderDiscount",
    "OrderItem",
    "OrderStatus",
    "PromoCode",
    "RateCounter",
    "Redemption",
    "Referral",
    "ReferralStatus",
    "Review",
    "Role",
    "SeenUpdate",
    "SendClock",
    "Survey",
    "SurveyAnswer",
    "TelegramAccount",
    "WelcomeOffer",
]
