"""The groups of the settings, one per part of the product that reads them.

Each field's alias is its variable's name without the `PROMOBOT_` prefix; a field given
as text (from the environment) is parsed here, with `bot.config.values`, into the value
the code uses. Defaults are written the way the variable is, where it is text
(`"1/1d,3/7d"`), and go through the same parser: what the README shows is what runs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import time, timedelta
from decimal import Decimal
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.numbers import get_currency_precision
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
)

from bot.config.values import (
    Cap,
    QuietHours,
    Rung,
    comeback_steps,
    parse_actions,
    parse_caps,
    parse_category_ceilings,
    parse_clock,
    parse_gaps,
    parse_offer,
    parse_rungs,
    split_commas,
)

CAMPAIGN_BATCH_SIZE = 2000


def _strings(value: object) -> bool:
    return isinstance(value, list | tuple) and all(isinstance(item, str) for item in value)


def _parsed(parse: Callable[[list[str]], object]) -> BeforeValidator:
    """A comma-separated variable (or a list of its parts) read by `parse`; a value that
    is parsed already (a copy's, through `Settings.replace`) passes as it is."""

    def validate(value: object) -> object:
        value = split_commas(value)
        return parse(value) if _strings(value) else value  # type: ignore[arg-type]

    return BeforeValidator(validate)


# Comma-separated in the environment rather than JSON: that is what people type.
Ids = Annotated[tuple[int, ...], BeforeValidator(split_commas)]
Names = Annotated[frozenset[str], BeforeValidator(split_commas)]
Caps = Annotated[tuple[Cap, ...], _parsed(parse_caps)]
Gaps = Annotated[dict[str, timedelta], _parsed(parse_gaps)]
Counts = Annotated[tuple[Rung, ...], _parsed(parse_rungs)]
Actions = Annotated[dict[str, Rung], _parsed(parse_actions)]
Ceilings = Annotated[dict[str, Decimal], _parsed(parse_category_ceilings)]


class Group(BaseModel):
    """A part of the settings: immutable, filled by its variables' names (aliases) or by
    field names (in code and tests)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")


class TelegramSettings(Group):
    token: SecretStr | None = Field(None, alias="bot_token")
    # The Bot API server (a local Bot API server, or the tests' fake one).
    api_url: str = Field("https://api.telegram.org", alias="telegram_api_url")
    # Public bot username, used in links (`https://t.me/<bot>?start=...`). Unset, it is
    # Telegram's answer to getMe at start-up (`bot.app.telegram.adopt_username`).
    username: str | None = Field(None, alias="bot_username")
    # Owners whatever the staff table says (`/managers remove` cannot lock them out).
    owner_ids: Ids = Field((), alias="owner_ids")
    webhook_url: str | None = Field(None, alias="webhook_url")
    webhook_secret: SecretStr | None = Field(None, alias="webhook_secret")
    webhook_path: str = Field("/telegram/webhook", alias="webhook_path")
    # The webhook listens on its own port (on `api.host`): the shop API's auth must not see it.
    webhook_port: int = Field(8081, alias="webhook_port", ge=1, le=65535)

    @field_validator("token", mode="before")
    @classmethod
    def _token(cls, value: object) -> object:
        """A token pasted with a newline (a secret file, a `.env` line) is the same token:
        the bot and the Mini App's signature check must both see it bare."""
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, str):
            return value.strip() or None
        return value

    @property
    def link_username(self) -> str:
        """The bot's name in t.me links; `promobot` only where Telegram could not be
        asked (a `promobot api` started without reaching it)."""
        return self.username or "promobot"


class DatabaseSettings(Group):
    url: str = Field("sqlite+aiosqlite:///promobot.sqlite3", alias="database_url")


class RedisSettings(Group):
    # Shared state of several processes (aiogram dialogs), e.g. `redis://127.0.0.1:6379/0`.
    url: str | None = Field(None, alias="redis_url")


class ApiSettings(Group):
    host: str = Field("127.0.0.1", alias="api_host")
    # 0 = any free port (tests).
    port: int = Field(8080, alias="api_port", ge=0, le=65535)
    # Key → name, from `name:key` pairs; a key without a name is named after its place
    # (`key1`, ...). The name is what the audit log and idempotency records show.
    keys: dict[str, str] = Field(default_factory=dict, alias="api_keys")
    max_body_bytes: int = Field(64 * 1024, alias="api_max_body_bytes", gt=0)
    # Anti-guessing (`bot.api.ratelimit`): failed checks that look like guessing allowed
    # per minute per customer and per shopper client; and per API key, a last-resort
    # ceiling far above what a busy shop's typos make (the module says the arithmetic).
    failed_validations_per_minute: int = Field(
        30, alias="api_failed_validations_per_minute", gt=0)
    failed_validations_per_key_per_minute: int = Field(
        6000, alias="api_failed_validations_per_key_per_minute", gt=0)
    # Processes serving the shop API on one port (SO_REUSEPORT); 1 serves it in-process.
    workers: int = Field(1, alias="api_workers", ge=1, le=64)
    # One log line per API request (off: on a busy checkout it costs more than the work).
    access_log: bool = Field(False, alias="api_access_log")

    @field_validator("keys", mode="before")
    @classmethod
    def _keys(cls, value: object) -> object:
        value = split_commas(value)
        if not _strings(value):
            return value
        keys: dict[str, str] = {}
        for index, item in enumerate(value):  # type: ignore[arg-type]
            name, sep, key = item.partition(":")
            if not sep:
                name, key = f"key{index + 1}", item
            keys[key.strip()] = name.strip()
        return keys


class WebappSettings(Group):
    """The Mini App (`bot.webapp`): its own listener, so that only it and the webhook face
    the internet, never the shop API."""

    # Its public https address: the bot's menu button and the "Open cabinet" buttons
    # open it; unset, the cabinet is served but not offered in the chat.
    url: str | None = Field(None, alias="webapp_url", pattern=r"^https://\S+$")
    # On PROMOBOT_API_HOST; 0 = any free port (tests).
    port: int = Field(8082, alias="webapp_port", ge=0, le=65535)
    # Launch data older than this is refused (Telegram signs it when the app opens).
    auth_max_age: int = Field(24 * 3600, alias="webapp_auth_max_age", gt=0)


class ShopSettings(Group):
    default_locale: Literal["ru", "en"] = Field("ru", alias="default_locale")
    # How shoppers know the shop: the name signs campaign messages ("{shop}" in their
    # texts), the URL is their button to the shop (no button when unset).
    name: str = Field("", alias="shop_name", max_length=64)
    url: str | None = Field(None, alias="shop_url", pattern=r"^https?://\S+$")
    # The shop's zone: times of day (the comeback run, quiet hours), calendar months.
    zone: ZoneInfo = Field("Europe/Moscow", alias="timezone", validate_default=True)
    currency: str = Field("RUB", alias="currency", min_length=3, max_length=3)
    link_token_ttl_minutes: int = Field(60 * 24, alias="link_token_ttl_minutes", gt=0)
    # Random characters of a generated code (a prefix comes on top): at least 6, and at
    # most 28 so that the longest prefix (12) still makes a code of 40, the longest looked up.
    code_length: int = Field(10, alias="code_length", ge=6, le=28)
    # Days after delivery before an order's rewards are final (returns still possible).
    return_window_days: int = Field(14, alias="return_window_days", ge=0)

    @field_validator("url", mode="before")
    @classmethod
    def _url(cls, value: object) -> object:
        return value.strip() or None if isinstance(value, str) else value

    @field_validator("zone", mode="before")
    @classmethod
    def _zone(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r}, e.g. Europe/Moscow") from None
        return value

    @property
    def timezone(self) -> str:
        """The zone's name (`Europe/Moscow`), for what takes a name."""
        return self.zone.key


class LoyaltySettings(Group):
    """Tiers by net spend or by the number of orders (`bot.promo.customers.tiers`)."""

    # `PROMOBOT_CURRENCY` again (the shop group reads it too): its precision scales the
    # spend thresholds, so it is declared before them.
    currency: str = Field("RUB", alias="currency")
    # `spend` (net spend) or `orders` (the order-count ladder).
    basis: Literal["spend", "orders"] = Field("spend", alias="tier_basis")
    # `threshold:percent[+fs]`, thresholds in major units in the variable, minor units here.
    spend: tuple[Rung, ...] = Field("5000:3,20000:5,50000:8,100000:12+fs", alias="tiers",
                                    validate_default=True)
    order_ladder: Counts = Field("3:5,7:10", alias="tier_order_ladder", validate_default=True)

    @field_validator("spend", mode="before")
    @classmethod
    def _spend(cls, value: object, info: ValidationInfo) -> object:
        value = split_commas(value)
        if not _strings(value):
            return value
        scale = get_currency_precision(info.data.get("currency", "RUB"))
        return parse_rungs(value, scale)  # type: ignore[arg-type]

    @property
    def ladder(self) -> tuple[Rung, ...]:
        """The rungs in force, by `basis`."""
        return self.order_ladder if self.basis == "orders" else self.spend


class GuardrailSettings(Group):
    # Net profit per order and average order value, minor units; an average of 0 means
    # "measure it from the last 180 days of orders", the fallback when there are none.
    net_profit_per_order: int = Field(150_000, alias="guardrail_net_profit_per_order", ge=0)
    average_order_value: int = Field(0, alias="guardrail_average_order_value", ge=0)
    fallback_average_order_value: int = Field(
        500_000, alias="guardrail_fallback_average_order_value", gt=0)
    # How far below the break-even discount the ceiling sits.
    safety_share: float = Field(0.4, alias="guardrail_safety_share", ge=0, lt=1)
    # What free shipping costs the shop on an order (minor units): it counts against the
    # ceiling like a price discount.
    shipping_cost: int = Field(30_000, alias="shipping_cost", ge=0)
    # How a tier discount and codes combine on one order: `exclusive` (the larger of the
    # tier and one code) or `additive` (the tier plus codes, combinable codes together,
    # capped at the ceiling). See `bot.promo.checkout.order_discount`.
    stacking: Literal["exclusive", "additive"] = Field("exclusive", alias="stacking")
    # A lower ceiling (percent) for codes limited to a category, where its goods earn
    # less than the average order: `Чай:12,Кофе:8.5`. A code limited to categories is
    # held to the lowest of theirs and the shop's ceiling (`guardrail.judge`).
    category_ceilings: Ceilings = Field(default_factory=dict,
                                        alias="guardrail_category_ceilings")


class StaffSettings(Group):
    # Discount a manager may hand out per calendar month (minor units) unless their own
    # budget is set with `/managers budget`; 0 = unlimited. Owners are never limited.
    monthly_budget: int = Field(0, alias="manager_monthly_budget", ge=0)
    # The leak watch (`bot.promo.codes.leaks`): over the last `leak_window_days`, a shared
    # code with at least `leak_min_uses` uses (0 = no watch) is a leak when at least
    # `leak_stranger_percent` % of its customers never received it through a channel we
    # know, or when its uses pass `leak_reach_percent` % of the customers it reached.
    # Codes of `leak_public_channels` are published for anyone and not watched.
    leak_window_days: int = Field(7, alias="leak_window_days", gt=0, le=366)
    leak_min_uses: int = Field(10, alias="leak_min_uses", ge=0)
    leak_stranger_percent: int = Field(50, alias="leak_stranger_percent", gt=0, le=100)
    leak_reach_percent: int = Field(100, alias="leak_reach_percent", gt=0)
    leak_public_channels: Names = Field("site", alias="leak_public_channels",
                                        validate_default=True)


class SendSettings(Group):
    """The sender (`bot.delivery.sender`): pace, leases, retries."""

    rate: float = Field(30.0, alias="send_rate", gt=0)
    # Paid broadcasts (`allow_paid_broadcast`): the global rate, up to 1000/s; 0 = off.
    paid_broadcast_rate: float = Field(0.0, alias="paid_broadcast_rate", ge=0, le=1000)
    # Sends in flight at most; 0 = from the rate.
    concurrency: int = Field(0, alias="send_concurrency", ge=0)
    lease_seconds: float = Field(60.0, alias="send_lease_seconds", gt=0)
    max_attempts: int = Field(5, alias="send_max_attempts", ge=1)
    backoff_seconds: float = Field(10.0, alias="send_backoff_seconds", ge=0)
    backoff_max_seconds: float = Field(1800.0, alias="send_backoff_max_seconds", ge=0)
    timeout_seconds: float = Field(15.0, alias="send_timeout_seconds", gt=0)
    # How often an idle sender looks for due messages.
    poll_seconds: float = Field(1.0, alias="send_poll_seconds", gt=0)

    @property
    def delivery_rate(self) -> float:
        """Messages per second the sender aims at: the paid rate when paid broadcasts are on."""
        return self.paid_broadcast_rate or self.rate


class PolicySettings(Group):
    """Frequency caps, gaps and quiet hours for promotions (`bot.delivery.caps`)."""

    # `count/window` (s, m, h, d, w): "1/1d,3/7d" = one promotion a day, three a week.
    caps: Caps = Field("1/1d,3/7d", alias="caps", validate_default=True)
    # Minimum time between two messages of one reason to one customer: `reason:window`.
    min_gaps: Gaps = Field(default_factory=dict, alias="min_gaps")
    # Reasons that count against the caps but are never held back by them (a manager's code).
    exempt_reasons: Names = Field("manual", alias="cap_exempt_reasons", validate_default=True)
    # Over the cap: `cap` (status capped, the code given back) or `defer` (sent when allowed).
    overflow: Literal["cap", "defer"] = Field("cap", alias="cap_overflow")
    # Local time (customer's zone, else the shop's) in which promotions wait; "" = none.
    quiet_hours: QuietHours | None = Field("22:00-08:00", alias="quiet_hours",
                                           validate_default=True)
    # Percent of customers who never get campaigns' promotions, to measure the whole
    # program against (`bot.promo.campaigns.global_holdout`); 0 = none.
    global_holdout: float = Field(0.0, alias="global_holdout", ge=0, le=50)

    @field_validator("quiet_hours", mode="before")
    @classmethod
    def _quiet(cls, value: object) -> object:
        return QuietHours.parse(value) if isinstance(value, str) else value


class ComebackSettings(Group):
    """The comeback ladder (`bot.promo.campaigns.comeback`) and its daily run."""

    # "New but silent" (one order, then nothing): a first step before the ladder's, with
    # its own small offer, `percent[+fs]`; 0 days = no such step.
    new_silent_days: int = Field(30, alias="comeback_new_silent_days", ge=0)
    new_silent_offer: Rung = Field("5", alias="comeback_new_silent_offer",
                                   validate_default=True)
    # `silent_days:percent`, `+fs` adds free shipping ("0+fs": only that). Declared after
    # the "new but silent" step: the two are checked together, as one ladder.
    ladder: Counts = Field("60:10,90:12+fs", alias="comeback_ladder", validate_default=True)
    # Customers silent longer than this are left alone.
    max_silent_days: int = Field(365, alias="comeback_max_silent_days", gt=0)
    # Comeback codes are valid this many days from the moment the message is delivered.
    valid_days: int = Field(30, alias="comeback_valid_days", gt=0)
    min_order: int = Field(0, alias="comeback_min_order", ge=0)
    # The daily run, `HH:MM` in the shop's zone; None = off (`PROMOBOT_COMEBACK_TIME=`).
    daily_at: time | None = Field("11:00", alias="comeback_time", validate_default=True)

    @field_validator("new_silent_offer", mode="before")
    @classmethod
    def _offer(cls, value: object) -> object:
        return parse_offer(str(value)) if isinstance(value, str | int) else value

    @field_validator("daily_at", mode="before")
    @classmethod
    def _time(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_clock(value) if value.strip() else None
        return value

    @field_validator("ladder")
    @classmethod
    def _steps(cls, value: tuple[Rung, ...], info: ValidationInfo) -> tuple[Rung, ...]:
        """With the "new but silent" step (when that is valid), the steps make a ladder."""
        if "new_silent_days" in info.data and "new_silent_offer" in info.data:
            comeback_steps(value, info.data["new_silent_days"], info.data["new_silent_offer"])
        return value


class RewardSettings(Group):
    """Reviews, abandoned carts, referrals, reminders and tier notices."""

    # Review ask N days after delivery (0 = off); reward percents, without / with photo.
    review_ask_days: int = Field(3, alias="review_ask_days", ge=0)
    review_percent: int = Field(5, alias="review_reward_percent", ge=0, le=100)
    review_photo_percent: int = Field(10, alias="review_reward_photo_percent", ge=0, le=100)
    review_valid_days: int = Field(30, alias="review_reward_valid_days", gt=0)
    # Hours between the shop reporting a review and its reward (0 = at the next run).
    review_delay_hours: int = Field(0, alias="review_reward_delay_hours", ge=0)
    # Abandoned cart: hours before the offer (0 = off), its percent and lifetime; carts
    # older than `cart_max_age_hours` get nothing.
    cart_delay_hours: int = Field(3, alias="cart_delay_hours", ge=0)
    cart_percent: int = Field(5, alias="cart_percent", ge=0, le=100)
    cart_valid_days: int = Field(3, alias="cart_valid_days", gt=0)
    cart_max_age_hours: int = Field(72, alias="cart_max_age_hours", gt=0)
    # Referral: both get this percent when the friend's first order passes the return
    # window; a referrer is paid at most `referral_monthly_cap` rewards a calendar month.
    referral_percent: int = Field(10, alias="referral_reward_percent", ge=0, le=100)
    referral_valid_days: int = Field(30, alias="referral_valid_days", gt=0)
    referral_monthly_cap: int = Field(5, alias="referral_monthly_cap", ge=0)
    # ... and at most this many rewards in all (0 = no lifetime cap).
    referral_lifetime_cap: int = Field(20, alias="referral_lifetime_cap", ge=0)
    # Expiry reminder this many hours before a code expires (0 = off).
    reminder_hours_before: int = Field(24, alias="reminder_hours_before", ge=0)
    # "Almost the next tier" nudge at this share of the next threshold (0 = off).
    tier_nudge_percent: int = Field(90, alias="tier_nudge_percent", ge=0, le=100)
    # The welcome offer on a customer's first link, before any order: `percent[+fs]`
    # ("0" = none), from a minimum order (minor units), valid for days from delivery.
    welcome_offer: Rung = Field("5", alias="welcome_offer", validate_default=True)
    welcome_min_order: int = Field(200_000, alias="welcome_min_order", ge=0)
    welcome_valid_days: int = Field(14, alias="welcome_valid_days", gt=0)
    # Actions the shop reports (`POST /api/v1/events/action`) and their rewards,
    # `action:percent[+fs]`: each paid once per (customer, action, ref), at most
    # `action_monthly_cap` a calendar month per customer (0 = no cap).
    action_rewards: Actions = Field("app_install:5", alias="action_rewards",
                                    validate_default=True)
    action_valid_days: int = Field(30, alias="action_reward_valid_days", gt=0)
    action_monthly_cap: int = Field(3, alias="action_reward_monthly_cap", ge=0)

    @field_validator("welcome_offer", mode="before")
    @classmethod
    def _welcome(cls, value: object) -> object:
        return parse_offer(str(value)) if isinstance(value, str | int) else value


class MomentSettings(Group):
    """Moments (`bot.promo.campaigns.moments`): a thank-you code on the anniversary of a
    customer's first order and on their birthday, once a year each."""

    # Each `percent[+fs]` ("0" = none), valid for days from the message's delivery.
    anniversary_offer: Rung = Field("5", alias="anniversary_offer", validate_default=True)
    anniversary_valid_days: int = Field(14, alias="anniversary_valid_days", gt=0)
    birthday_offer: Rung = Field("7", alias="birthday_offer", validate_default=True)
    birthday_valid_days: int = Field(14, alias="birthday_valid_days", gt=0)
    # The codes' minimum order, minor units (0 = any order).
    min_order: int = Field(0, alias="moments_min_order", ge=0)
    # The message is due at this local time (the customer's zone, else the shop's) on
    # the day, and goes out within this many days of it or not at all.
    send_at: time = Field("10:00", alias="moments_time", validate_default=True)
    window_days: int = Field(3, alias="moments_window_days", ge=1, le=14)

    @field_validator("anniversary_offer", "birthday_offer", mode="before")
    @classmethod
    def _offer(cls, value: object) -> object:
        return parse_offer(str(value)) if isinstance(value, str | int) else value

    @field_validator("send_at", mode="before")
    @classmethod
    def _time(cls, value: object) -> object:
        return parse_clock(value) if isinstance(value, str) else value


class JobSettings(Group):
    # How often the reward, cart, reminder and tier jobs run, minutes; 0 = not at all.
    interval_minutes: int = Field(10, alias="jobs_interval_minutes", ge=0)
    # Late runs still run within this many seconds (APScheduler's default is 1 s).
    misfire_grace_seconds: int = Field(3600, alias="jobs_misfire_grace_seconds", ge=1)
    # Customers per transaction in campaign runs. Each batch costs a few statements
    # whatever its size, and on SQLite holds the write lock while it runs (about 60 ms
    # for 2 000 on a 2-core machine: the longest a checkout waits for a campaign).
    campaign_batch_size: int = Field(CAMPAIGN_BATCH_SIZE, alias="campaign_batch_size", ge=1)
    # Non-leader instances (PostgreSQL) retry the scheduler lock this often, seconds.
    leader_retry_seconds: int = Field(30, alias="scheduler_leader_retry_seconds", ge=1)
