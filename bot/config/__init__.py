"""Settings: the `PROMOBOT_*` variables, grouped by the part of the product that reads
them (`groups.py`) and parsed at load into typed values (`settings.py` reads them), and
those values' types and parsers (`values.py`), which the domain uses too."""

from __future__ import annotations

from bot.config.groups import (
    CAMPAIGN_BATCH_SIZE,
    ApiSettings,
    ComebackSettings,
    DatabaseSettings,
    GuardrailSettings,
    JobSettings,
    LoyaltySettings,
    MomentSettings,
    PolicySettings,
    RedisSettings,
    RewardSettings,
    SendSettings,
    ShopSettings,
    StaffSettings,
    TelegramSettings,
    WebappSettings,
)
from bot.config.settings import Settings, describe_error
from bot.config.values import Cap, QuietHours, Rung

__all__ = [
    "CAMPAIGN_BATCH_SIZE",
    "ApiSettings",
    "Cap",
    "ComebackSettings",
    "DatabaseSettings",
    "GuardrailSettings",
    "JobSettings",
    "LoyaltySettings",
    "MomentSettings",
    "PolicySettings",
    "QuietHours",
    "RedisSettings",
    "RewardSettings",
    "Rung",
    "SendSettings",
    "Settings",
    "ShopSettings",
    "StaffSettings",
    "TelegramSettings",
    "WebappSettings",
    "describe_error",
]
