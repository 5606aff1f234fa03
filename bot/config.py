"""Settings from the environment (and a `.env` file), all prefixed `PROMOBOT_`."""

from __future__ import annotations

from functools import cached_property
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.windows import QuietHours, parse_caps, parse_gaps

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
    # Processes serving the shop API on one port (SO_REUSEPORT); 1 serves it in-process.
    api_workers: int = Field(1, ge=1, le=64)
    # One log line per API request (off: on a busy checkout it costs more than the work).
    api_access_log: bool = False
    owner_ids: CommaInts = Field(default_factory=list)
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_path: str = "/telegram/webhook"
    # The webhook listens on its own port (on `api_host`): the shop API's auth must not see it.
    webhook_port: int = 8081
    send_rate: float = 30.0
    # aiogram FSM state in Redis (e.g. `redis://127.0.0.1:6379/0`) for several processes.
    redis_url: str | None = None
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
    # Discount a manager may hand out per calendar month (minor units) unless their own
    # budget is set with `/managers budget`; 0 = unlimited. Owners are never limited.
    manager_monthly_budget: int = 0

    # Delivery (bot/delivery). Frequency caps per customer as `count/window` (s, m, h, d, w):
    # "1/1d,3/7d" = at most one promotional message a day and three a week.
    caps: CommaList = Field(default_factory=lambda: ["1/1d", "3/7d"])
    # Minimum time between two messages of one reason to one customer: `reason:window`.
    min_gaps: CommaList = Field(default_factory=list)
    # Reasons that count against the caps but are never held back by them (a manager's code).
    cap_exempt_reasons: CommaList = Field(default_factory=lambda: ["manual"])
    # Over the cap: `cap` (status capped, the code given back) or `defer` (sent when allowed).
    cap_overflow: str = "cap"
    # Local time (customer's zone, else the shop's) in which promotions wait; "" = none.
    quiet_hours: str = "22:00-08:00"
    # Paid broadcasts (`allow_paid_broadcast`): the global rate, up to 1000/s; 0 = off.
    paid_broadcast_rate: float = 0.0
    # Sends in flight at most; 0 = from the rate.
    send_concurrency: int = 0
    send_lease_seconds: float = 60.0
    send_max_attempts: int = 5
    send_backoff_seconds: float = 10.0
    send_backoff_max_seconds: float = 1800.0
    send_timeout_seconds: float = 15.0
    # How often an idle sender looks for due messages.
    send_poll_seconds: float = 1.0

    # Scheduled jobs (scheduler/). Times of day are in the shop's `timezone`.
    # Comeback ladder: `silent_days:percent`, `+fs` adds free shipping ("0+fs": only that).
    comeback_ladder: CommaList = Field(default_factory=lambda: ["60:10", "90:12+fs"])
    # "New but silent" (one order, then nothing): a small first-return offer; 0 days = off.
    comeback_new_silent_days: int = 30
    comeback_new_silent_offer: str = "5"
    # Customers silent longer than this are left alone.
    comeback_max_silent_days: int = 365
    # Comeback codes are valid this many days from the moment the message is delivered.
    comeback_valid_days: int = 30
    comeback_min_order: int = 0
    # Daily run of the comeback ladder, `HH:MM` local; empty = off.
    comeback_time: str = "11:00"
    # Review ask N days after delivery (0 = off); reward percents, without / with photo.
    review_ask_days: int = 3
    review_reward_percent: int = 5
    review_reward_photo_percent: int = 10
    review_reward_valid_days: int = 30
    # Hours between the shop reporting a review and its reward (0 = at the next run).
    review_reward_delay_hours: int = 0
    # Abandoned cart: hours before the offer (0 = off), its percent and lifetime; carts
    # older than `cart_max_age_hours` get nothing.
    cart_delay_hours: int = 3
    cart_percent: int = 5
    cart_valid_days: int = 3
    cart_max_age_hours: int = 72
    # Referral: both get this percent when the friend's first order passes the return
    # window; a referrer is paid at most `referral_monthly_cap` rewards a calendar month.
    referral_reward_percent: int = 10
    referral_valid_days: int = 30
    referral_monthly_cap: int = 5
    # Expiry reminder this many hours before a code expires (0 = off).
    reminder_hours_before: int = 24
    # "Almost the next tier" nudge at this share of the next threshold (0 = off).
    tier_nudge_percent: int = 90
    # How often the reward, cart, reminder and tier jobs run, minutes.
    jobs_interval_minutes: int = 10
    # Late runs still run within this many seconds (APScheduler's default is 1 s).
    jobs_misfire_grace_seconds: int = 3600
    # Customers per transaction in campaign runs.
    campaign_batch_size: int = 500
    # Non-leader instances (PostgreSQL) retry the scheduler lock this often, seconds.
    scheduler_leader_retry_seconds: int = 30

    @field_validator("api_keys", "tiers", "tier_order_ladder", "comeback_ladder", mode="before")
    @classmethod
    def _split_strings(cls, value: object) -> object:
        return _split(value)

    @field_validator("caps", "min_gaps", "cap_exempt_reasons", mode="before")
    @classmethod
    def _split_delivery(cls, value: object) -> object:
        return _split(value)

    @field_validator("caps")
    @classmethod
    def _caps(cls, value: list[str]) -> list[str]:
        parse_caps(value)
        return value

    @field_validator("min_gaps")
    @classmethod
    def _gaps(cls, value: list[str]) -> list[str]:
        parse_gaps(value)
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: str) -> str:
        QuietHours.parse(value)
        return value

    @field_validator("cap_overflow")
    @classmethod
    def _overflow(cls, value: str) -> str:
        if value not in ("cap", "defer"):
            raise ValueError("cap_overflow must be 'cap' or 'defer'")
        return value

    @field_validator("paid_broadcast_rate")
    @classmethod
    def _paid_rate(cls, value: float) -> float:
        if not 0 <= value <= 1000:
            raise ValueError("paid_broadcast_rate is between 0 (off) and 1000 messages/s")
        return value

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

    @property
    def delivery_rate(self) -> float:
        """Messages per second the sender aims at: the paid rate when paid broadcasts are on."""
        return self.paid_broadcast_rate or self.send_rate

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
