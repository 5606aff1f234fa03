"""Telegram accounts: who is talking to the bot, their link to a customer, their choices.

The bot's handlers call these; nothing here knows aiogram. Writes are not committed: the
caller decides. Every write is safe to repeat, because Telegram may deliver an update twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.dialect import insert_ignoring_conflict
from bot.db.hotpath import HotPath, on_connection
from bot.db.models import Customer, LinkToken, Referral, ReferralStatus, TelegramAccount
from bot.db.prepared import DetachedRows, Prepared
from bot.db.tx import Tx
from bot.i18n import LOCALES, pick_locale
from bot.promo.customers import referrals
from bot.promo.customers.linking import START_PREFIX, LinkOutcome, link, token_hash
from bot.promo.customers.profiles import normalize_phone
from bot.promo.customers.referrals import ReferralOutcome

accounts_table = TelegramAccount.__table__
# Telegram's own limit for a start payload, and the characters it allows.
_START_PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_LINK_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,60}$")
_REFERRAL_CODE = re.compile(r"^[A-Za-z0-9]{4,32}$")
_ZONE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}$")


@dataclass(frozen=True, slots=True)
class Who:
    """The Telegram user behind an update, as far as the bot keeps it."""

    id: int
    chat_id: int | None
    username: str | None
    first_name: str | None
    language_code: str | None


_ACCOUNT = (
    select(TelegramAccount, Customer)
    .outerjoin(Customer, Customer.id == TelegramAccount.customer_id)
    .where(TelegramAccount.id == bindparam("telegram_id"))
)


async def load(
    session: AsyncSession, telegram_id: int
) -> tuple[TelegramAccount | None, Customer | None]:
    """The account and its customer in one query."""
    row = (await session.execute(_ACCOUNT, {"telegram_id": telegram_id})).first()
    if row is None:
        return None, None
    return row[0], row[1]


_ACCOUNT_ROW = DetachedRows(TelegramAccount, Customer)
_LOOKUP = Prepared(
    _ACCOUNT_ROW.select()
    .select_from(accounts_table)
    .outerjoin(Customer, Customer.id == accounts_table.c.customer_id)
    .where(accounts_table.c.id == bindparam("telegram_id"))
)


async def lookup(hot: HotPath, telegram_id: int) -> tuple[TelegramAccount | None, Customer | None]:
    """`load` as a hot read, for every update whose sender is not cached. The objects
    come back detached, as from a closed session."""
    row = await hot.first(_LOOKUP, {"telegram_id": telegram_id})
    if row is None:
        return None, None
    account, customer = _ACCOUNT_ROW.objects(row)
    return account, customer


def reading_locale(customer: Customer | None, account: TelegramAccount | None,
                   language_code: str | None, *, default: str) -> str:
    """The language to speak to someone: the customer's saved choice, else the account's,
    else Telegram's, else the shop's default (the chat and the cabinet alike)."""
    return pick_locale(customer.locale if customer is not None else None,
                       account.locale if account is not None else None, language_code,
                       default=default)


def needs_touch(account: TelegramAccount | None, who: Who) -> bool:
    """Whether what Telegram says about the user differs from what we keep."""
    if account is None:
        return True
    return (
        (who.chat_id is not None and account.chat_id != who.chat_id)
        or account.username != who.username
        or account.first_name != who.first_name
        or account.language_code != who.language_code
    )


async def touch(session: AsyncSession, who: Who, now: datetime) -> None:
    """Create the account on first contact, refresh its username and language after."""
    values = {
        "username": who.username,
        "first_name": who.first_name,
        "language_code": who.language_code,
    }
    if who.chat_id is not None:
        values["chat_id"] = who.chat_id
    await session.execute(
        insert_ignoring_conflict(
            session,
            accounts_table,
            id=who.id,
            is_blocked=False,
            created_at=now,
            updated_at=now,
            **values,
        )
    )
    await session.execute(
        update(accounts_table).where(accounts_table.c.id == who.id).values(updated_at=now, **values)
    )


def is_safe_payload(payload: str) -> bool:
    return bool(_START_PAYLOAD.match(payload))


@dataclass(frozen=True, slots=True)
class PendingLink:
    """What a link token would do, found without using it up."""

    outcome: LinkOutcome
    customer_id: int | None = None
    used_by_telegram_id: int | None = None


async def peek_link_token(session: AsyncSession, token: str, now: datetime) -> PendingLink:
    """Check a token before asking the shopper to confirm; `consume_link_token` decides."""
    if token.startswith(START_PREFIX):
        token = token[len(START_PREFIX) :]
    if not _LINK_TOKEN.match(token):
        return PendingLink(LinkOutcome.MALFORMED)
    row = (
        await session.execute(
            select(
                LinkToken.customer_id,
                LinkToken.used_at,
                LinkToken.expires_at,
                LinkToken.used_by_telegram_id,
            ).where(LinkToken.token_hash == token_hash(token))
        )
    ).first()
    if row is None:
        return PendingLink(LinkOutcome.UNKNOWN)
    if row.used_at is not None:
        return PendingLink(LinkOutcome.USED, row.customer_id, row.used_by_telegram_id)
    if row.expires_at <= now:
        return PendingLink(LinkOutcome.EXPIRED, row.customer_id)
    return PendingLink(LinkOutcome.LINKED, row.customer_id)


async def linked_telegram_id(session: AsyncSession, customer_id: int) -> int | None:
    """The Telegram account a customer is linked to now, if any."""
    return await session.scalar(
        select(TelegramAccount.id).where(TelegramAccount.customer_id == customer_id)
    )


async def customers_with_phone(session: AsyncSession, raw_phone: str) -> list[Customer]:
    phone = normalize_phone(raw_phone)
    if phone is None:
        return []
    rows = await session.scalars(
        select(Customer).where(Customer.phone == phone).order_by(Customer.id).limit(2)
    )
    return list(rows)


async def link_offered(
    session: AsyncSession, customer_id: int, telegram_id: int, now: datetime
) -> Customer | None:
    """`link` to a customer the bot offered (a shared phone matched it); None, and
    nothing linked, when that customer is gone."""
    customer = await session.get(Customer, customer_id)
    if customer is not None:
        await link(session, customer.id, telegram_id, now)
    return customer


async def _referrer(session: AsyncSession, code: str) -> int | None:
    if not _REFERRAL_CODE.match(code):
        return None
    return await session.scalar(select(Customer.id).where(Customer.referral_code == code.upper()))


async def record_referral(
    session: AsyncSession, referrer_id: int, referee: Customer, now: datetime
) -> ReferralOutcome:
    """A referral for a new customer only: not oneself by any route
    (`bot.promo.customers.referrals`), not someone who already bought."""
    if referrer_id == referee.id:
        return ReferralOutcome.SELF
    if referee.orders_count or referee.first_order_at is not None:
        return ReferralOutcome.EXISTING_BUYER
    refused = await referrals.refusal(session, referrer_id, customer_id=referee.id)
    if refused is not None:
        return refused
    inserted = await session.execute(
        insert_ignoring_conflict(
            session,
            Referral.__table__,
            referrer_id=referrer_id,
            referee_id=referee.id,
            status=ReferralStatus.PENDING,
            created_at=now,
        ).returning(Referral.__table__.c.id)
    )
    if inserted.first() is None:
        return ReferralOutcome.ALREADY_REFERRED
    await session.execute(
        update(Customer)
        .where(Customer.id == referee.id, Customer.referred_by_id.is_(None))
        .values(referred_by_id=referrer_id)
        .execution_options(synchronize_session=False)
    )
    return ReferralOutcome.RECORDED


async def start_referral(
    session: AsyncSession, who: Who, customer: Customer | None, code: str, now: datetime
) -> ReferralOutcome:
    """`/start ref_<code>`: record it now, or remember it until the account links."""
    referrer_id = await _referrer(session, code)
    if referrer_id is None:
        return ReferralOutcome.UNKNOWN
    if customer is not None:
        return await record_referral(session, referrer_id, customer, now)
    refused = await referrals.refusal(session, referrer_id, telegram_id=who.id)
    if refused is not None:
        return refused
    await session.execute(
        update(accounts_table)
        .where(accounts_table.c.id == who.id, accounts_table.c.customer_id.is_(None))
        .values(referred_by_id=referrer_id, updated_at=now)
    )
    return ReferralOutcome.REMEMBERED


async def settle_pending_referral(
    session: AsyncSession, telegram_id: int, customer: Customer, now: datetime
) -> ReferralOutcome | None:
    """After linking: a referral remembered on the account becomes a real one (or not)."""
    referrer_id = await session.scalar(
        select(TelegramAccount.referred_by_id).where(TelegramAccount.id == telegram_id)
    )
    if referrer_id is None:
        return None
    await session.execute(
        update(accounts_table).where(accounts_table.c.id == telegram_id).values(referred_by_id=None)
    )
    return await record_referral(session, referrer_id, customer, now)


_REFERRALS = Prepared(
    select(func.count(Referral.id).label("joined"),
           func.sum(func.cast(Referral.status == ReferralStatus.REWARDED,
                              type_=Referral.id.type)).label("rewarded"))
    .where(Referral.referrer_id == bindparam("customer_id"))
)


async def count_referrals(tx: Tx, customer_id: int) -> tuple[int, int]:
    """Friends who joined by the customer's link, and those whose reward was paid; a job
    for the hot path (the cabinet's reads) or a session (`referral_counts`)."""
    row = await tx.first(_REFERRALS, {"customer_id": customer_id})
    return (0, 0) if row is None else (int(row.joined or 0), int(row.rewarded or 0))


async def referral_counts(session: AsyncSession, customer_id: int) -> tuple[int, int]:
    return await on_connection(session, count_referrals, customer_id)


def valid_zone(name: str) -> str | None:
    """A typed IANA zone name → its canonical spelling, or None."""
    name = name.strip()
    if len(name) > 64 or not _ZONE_NAME.match(name):
        return None
    try:
        return str(ZoneInfo(name))
    except (ZoneInfoNotFoundError, ValueError):
        return None


async def set_locale(
    session: AsyncSession, telegram_id: int, customer_id: int | None, locale: str, now: datetime
) -> None:
    if locale not in LOCALES:
        raise ValueError(f"unsupported locale {locale!r}")
    await session.execute(
        update(accounts_table)
        .where(accounts_table.c.id == telegram_id)
        .values(locale=locale, updated_at=now)
    )
    if customer_id is not None:
        await _update_customer(session, customer_id, now, locale=locale)


async def set_marketing(
    session: AsyncSession, customer_id: int, opt_in: bool, now: datetime
) -> None:
    await _update_customer(session, customer_id, now, marketing_opt_in=opt_in)


async def set_timezone(session: AsyncSession, customer_id: int, zone: str, now: datetime) -> None:
    checked = valid_zone(zone)
    if checked is None:
        raise ValueError(f"unknown time zone {zone!r}")
    await _update_customer(session, customer_id, now, timezone=checked)


async def _update_customer(
    session: AsyncSession, customer_id: int, now: datetime, **values: object
) -> None:
    await session.execute(
        update(Customer)
        .where(Customer.id == customer_id)
        .values(updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )


async def set_blocked(session: AsyncSession, who: Who, blocked: bool, now: datetime) -> None:
    """`my_chat_member`: the user blocked or unblocked the bot; the sender skips the blocked."""
    await touch(session, who, now)
    await session.execute(
        update(accounts_table)
        .where(accounts_table.c.id == who.id)
        .values(is_blocked=blocked, blocked_at=now if blocked else None, updated_at=now)
    )
