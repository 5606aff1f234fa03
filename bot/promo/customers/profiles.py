"""Customers: the shop's profile upsert, lookup by whatever a manager types, referral codes.

The profile comes from the shop (its id is `external_id`); order aggregates on the row are
kept by `bot.promo.shop.orders`, never here.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import TelegramSettings
from bot.db.dialect import insert_ignoring_conflict
from bot.db.models import Customer, TelegramAccount
from bot.i18n import LOCALES
from bot.promo.codes import generator as codes
from bot.promo.errors import DomainError, ErrorCode

REFERRAL_CODE_LENGTH = 8
_PHONE_PUNCTUATION = re.compile(r"[\s\-().]+")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_USERNAME = re.compile(r"^@?([A-Za-z][A-Za-z0-9_]{3,31})$")
# Telegram user ids are positive and fit a signed 64-bit column.
_MAX_TELEGRAM_ID = 2**63 - 1
# Nobody shopping now was born before this.
_EARLIEST_BIRTHDAY = date(1900, 1, 1)


def normalize_phone(raw: str | None) -> str | None:
    """`8 (916) 123-45-67` → `+79161234567`; anything that is not a phone number → None.

    Russian habits are understood: a leading 8 for +7 and ten digits starting with 9
    (a mobile number typed without the country code).
    """
    if not raw:
        return None
    text = _PHONE_PUNCTUATION.sub("", raw.strip())
    if text.startswith("00"):
        text = "+" + text[2:]
    plus = text.startswith("+")
    digits = text[1:] if plus else text
    if not digits.isascii() or not digits.isdigit():
        return None
    if not plus:
        if len(digits) == 11 and digits[0] == "8":
            digits = "7" + digits[1:]
        elif len(digits) == 10 and digits[0] == "9":
            digits = "7" + digits
    if digits[0] == "0" or not 8 <= len(digits) <= 15:
        return None
    if digits[0] == "7" and len(digits) != 11:
        return None
    return "+" + digits


def _clean_text(value: str, limit: int) -> str | None:
    value = value.strip()
    return value[:limit] or None


def _profile_changes(
    *,
    name: str | None,
    phone: str | None,
    email: str | None,
    locale: str | None,
    timezone: str | None,
    marketing_opt_in: bool | None,
    birthday: date | None,
    now: datetime,
) -> dict[str, Any]:
    """Validated column values for the fields that were given; "" clears a text field."""
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = _clean_text(name, 200)
    if phone is not None:
        if phone.strip():
            normalized = normalize_phone(phone)
            if normalized is None:
                raise DomainError(ErrorCode.INVALID_PHONE, "not a phone number", field="phone")
            changes["phone"] = normalized
        else:
            changes["phone"] = None
    if email is not None:
        cleaned = _clean_text(email, 254)
        if cleaned is not None and not _EMAIL.match(cleaned):
            raise DomainError(ErrorCode.INVALID_EMAIL, "not an e-mail address", field="email")
        changes["email"] = cleaned
    if locale is not None:
        # "en-US" → "en"; a language the bot does not speak → None (the shop's default).
        short = locale.strip().replace("_", "-").split("-")[0].lower()
        changes["locale"] = short if short in LOCALES else None
    if timezone is not None:
        zone = timezone.strip() or None
        if zone is not None:
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError) as error:
                raise DomainError(
                    ErrorCode.INVALID_TIMEZONE, "unknown time zone", field="timezone"
                ) from error
        changes["timezone"] = zone
    if marketing_opt_in is not None:
        changes["marketing_opt_in"] = bool(marketing_opt_in)
    if birthday is not None:
        # A day after today anywhere on Earth is a typo, not a birthday.
        if not _EARLIEST_BIRTHDAY <= birthday <= (now + timedelta(days=1)).date():
            raise DomainError(ErrorCode.INVALID_BIRTHDAY,
                              f"a birthday between {_EARLIEST_BIRTHDAY} and today",
                              field="birthday")
        changes["birthday"] = birthday
    return changes


async def get_by_external_id(session: AsyncSession, external_id: str) -> Customer | None:
    return await session.scalar(select(Customer).where(Customer.external_id == external_id))


async def upsert_customer(
    session: AsyncSession,
    external_id: str,
    *,
    name: str | None = None,
    phone: str | None = None,
    email: str | None = None,
    locale: str | None = None,
    timezone: str | None = None,
    marketing_opt_in: bool | None = None,
    birthday: date | None = None,
    now: datetime,
) -> tuple[Customer, bool]:
    """Create or update the shop's customer; only the fields given change.

    Returns the customer and whether it was created. Safe against a concurrent upsert
    of the same id (the insert ignores the conflict and the update follows). A new
    customer has not agreed to promotional messages unless `marketing_opt_in` says so:
    consent is given, never assumed.
    """
    external_id = (external_id or "").strip()
    if not external_id or len(external_id) > 64:
        raise DomainError(ErrorCode.INVALID_CUSTOMER_ID, "customer id must be 1-64 characters")
    changes = _profile_changes(
        name=name, phone=phone, email=email, locale=locale, timezone=timezone,
        marketing_opt_in=marketing_opt_in, birthday=birthday, now=now,
    )
    inserted = await session.execute(
        insert_ignoring_conflict(
            session, Customer.__table__,
            **{"external_id": external_id, "marketing_opt_in": False, "orders_count": 0,
               "gross_spend": 0, "net_spend": 0, "created_at": now, "updated_at": now,
               **changes},
        ).returning(Customer.__table__.c.id)
    )
    created = inserted.first() is not None
    if not created and changes:
        await session.execute(
            update(Customer)
            .where(Customer.external_id == external_id)
            .values(updated_at=now, **changes)
            .execution_options(synchronize_session=False)
        )
    customer = await session.scalar(
        select(Customer)
        .where(Customer.external_id == external_id)
        .execution_options(populate_existing=True)
    )
    assert customer is not None
    return customer, created


async def find_customer(session: AsyncSession, who: str) -> Customer | None:
    """What a manager typed → the customer: a shop id, `@username`, Telegram id or phone.

    Tried in that order, so a shop id that looks like a number still wins.
    """
    who = (who or "").strip()
    if not who:
        return None
    if not who.startswith("@"):
        customer = await get_by_external_id(session, who)
        if customer is not None:
            return customer
    username = _USERNAME.match(who)
    if username and (who.startswith("@") or not who.isdigit()):
        customer = await session.scalar(
            select(Customer)
            .join(TelegramAccount, TelegramAccount.customer_id == Customer.id)
            .where(func.lower(TelegramAccount.username) == username.group(1).lower())
            .limit(1)
        )
        if customer is not None or who.startswith("@"):
            return customer
    if who.isdigit() and 0 < int(who) <= _MAX_TELEGRAM_ID:
        customer = await session.scalar(
            select(Customer)
            .join(TelegramAccount, TelegramAccount.customer_id == Customer.id)
            .where(TelegramAccount.id == int(who))
        )
        if customer is not None:
            return customer
    phone = normalize_phone(who)
    if phone is not None:
        return await session.scalar(
            select(Customer).where(Customer.phone == phone).order_by(Customer.id).limit(1)
        )
    return None


async def ensure_referral_code(session: AsyncSession, customer: Customer) -> str:
    """The customer's referral code, made on first ask (short, unambiguous, unique)."""
    if customer.referral_code:
        return customer.referral_code
    for _attempt in range(8):
        candidate = codes.generate(REFERRAL_CODE_LENGTH)
        try:
            async with session.begin_nested():
                await session.execute(
                    update(Customer)
                    .where(Customer.id == customer.id, Customer.referral_code.is_(None))
                    .values(referral_code=candidate)
                    .execution_options(synchronize_session=False)
                )
        except IntegrityError:
            continue  # another customer has this code: draw again
        # Either ours was written or a concurrent call wrote one first; read what stands.
        await session.refresh(customer, ["referral_code"])
        if customer.referral_code:
            return customer.referral_code
    raise RuntimeError("could not draw a unique referral code")  # pragma: no cover


# `/start ref_<code>`: the payload of an invitation link.
REFERRAL_PREFIX = "ref_"


def referral_link(telegram: TelegramSettings, code: str) -> str:
    """The t.me link that opens the bot with the customer's invitation."""
    return f"https://t.me/{telegram.link_username}?start={REFERRAL_PREFIX}{code}"


async def referral_code_of(session: AsyncSession, customer_id: int) -> str:
    """`ensure_referral_code` for a customer known by id (the bot holds customers loaded
    by another session)."""
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise LookupError(f"no customer {customer_id}")
    return await ensure_referral_code(session, customer)
