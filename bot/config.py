"""Settings from the environment (and a `.env` file), all prefixed `PROMOBOT_`."""

from __future__ import annotations

from functools import cached_property
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Comma-separated values in the environment rather than JSON: that is what people type.
CommaList = Annotated[list[str], NoDecode]
CommaInts = Annotated[list[int], NoDecode]


def _split(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Everything the process reads from outside; defaults run a demo shop on SQLite."""

    model_config = SettingsConfigDict(
        env_prefix="PROMOBOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    bot_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    database_url: str = "sqlite+aiosqlite:///promobot.sqlite3"
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    # `name:key` pairs; the name is what the audit log and idempotency records show.
    api_keys: CommaList = Field(default_factory=list)
    api_max_body_bytes: int = 64 * 1024
    # Failed validations allowed per minute, per API key and per customer (anti brute force).
    api_failed_validations_per_minute: int = 30
    owner_ids: CommaInts = Field(default_factory=list)
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_path: str = "/telegram/webhook"
    # The webhook listens on its own port (on `api_host`): the shop API's auth must not see it.
    webhook_port: int = 8081
    send_rate: float = 30.0
    default_locale: str = "ru"
    timezone: str = "Europe/Moscow"
    currency: str = "RUB"
    # Public bot username, used in links (`https://t.me/<bot>?start=...`).
    bot_username: str = "promobot"

    link_token_ttl_minutes: int = 60 * 24
    code_length: int = 10

    # Loyalty tiers: `threshold:percent` in major currency units, or with `+fs` for free shipping.
    tiers: CommaList = Field(
        default_factory=lambda: ["5000:3", "20000:5", "50000:8", "100000:12+fs"]
    )
    # `spend` (net spend) or `orders` (order-count ladder, e.g. "3:5,7:10").
    tier_basis: str = "spend"
    tier_order_ladder: CommaList = Field(default_factory=lambda: ["3:5", "7:10"])
    # Days after delivery before an order's rewards are final (returns still possible).
    return_window_days: int = 14

    # Margin guardrail: net profit per order and average order value, minor units.
    # Average order value of 0 means "measure it from the last 180 days of orders".
    guardrail_net_profit_per_order: int = 150_000
    guardrail_average_order_value: int = 0
    guardrail_fallback_average_order_value: int = 500_000
    guardrail_safety_share: float = 0.4

    @field_validator("api_keys", "tiers", "tier_order_ladder", mode="before")
    @classmethod
    def _split_strings(cls, value: object) -> object:
        return _split(value)

    @field_validator("owner_ids", mode="before")
    @classmethod
    def _split_ints(cls, value: object) -> object:
        return _split(value)

    @field_validator("default_locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        if value not in ("ru", "en"):
            raise ValueError("default_locale must be 'ru' or 'en'")
        return value

    @field_validator("guardrail_safety_share")
    @classmethod
    def _share(cls, value: float) -> float:
        if not 0 <= value < 1:
            raise ValueError("guardrail_safety_share must be in [0, 1)")
        return value

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def api_key_map(self) -> dict[str, str]:
        """Key → name; a key without a name is named after its position."""
        keys: dict[str, str] = {}
        for index, item in enumerate(self.api_keys):
            name, sep, key = item.partition(":")
            if not sep:
                name, key = f"key{index + 1}", item
            keys[key.strip()] = name.strip()
        return keys
