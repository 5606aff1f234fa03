"""One-time links that tie a Telegram account to the shop's customer.

The shop asks for a token; the shopper opens `https://t.me/<bot>?start=link_<token>`.
Only the token's SHA-256 is stored, so a leaked database cannot be replayed as links.
Consuming is one conditional UPDATE (`used_at IS NULL AND expires_at > now`) checked by
its row count: of two concurrent taps exactly one links.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.dialect import insert_ignoring_conflict
from bot.db.models import AccountLink, Customer, LinkToken, TelegramAccount

# 32 random bytes → 43 URL-safe characters: 256 bits, and `link_` + token fits the
# 64-character limit of Telegram's start payload.
TOKEN_BYTES = 32
MAX_TOKEN_LENGTH = 60
START_PREFIX = "link_"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,60}$")

tokens_table = LinkToken.__table__
accounts_table = TelegramAccount.__table__
links_table = AccountLink.__table__


class LinkOutcome(StrEnum):
    LINKED = "linked"
    EXPIRED = "expired"
    USED = "used"
    UNKNOWN = "unknown"
    MALFORMED = "malformed"


@dataclass(frozen=True, slots=True)
class LinkResult:
    outcome: LinkOutcome
    customer: Customer | None = None

    @property
    def linked(self) -> bool:
        return self.outcome is LinkOutcome.LINKED


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_url(bot_username: str, token: str) -> str:
    return f"https://t.me/{bot_username}?start={START_PREFIX}{token}"


async def create_link_token(
    session: AsyncSession, customer: Customer, *, ttl: timedelta, now: datetime
) -> tuple[str, datetime]:
    """A fresh token for the customer (not committed); returns it and its expiry."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    expires_at = now + ttl
    session.add(
        LinkToken(
            token_hash=token_hash(token),
            customer_id=customer.id,
            expires_at=expires_at,
            created_at=now,
        )
    )
    await session.flush()
    return token, expires_at


async def link(session: AsyncSession, customer_id: int, telegram_id: int, now: datetime) -> None:
    """Link the account to the customer; whatever either was linked to before lets go.

    Each new link is kept in `account_links` too: relinking moves the account, and the
    referral rules (`bot.promo.customers.referrals`) must still see who it was. The
    update changes only an account linked elsewhere, and its row count says whether a
    link was made, so a repeated update records no second row.
    """
    await session.execute(
        update(accounts_table)
        .where(accounts_table.c.customer_id == customer_id, accounts_table.c.id != telegram_id)
        .values(customer_id=None, updated_at=now)
    )
    await session.execute(
        insert_ignoring_conflict(
            session,
            accounts_table,
            id=telegram_id,
            is_blocked=False,
            created_at=now,
            updated_at=now,
        )
    )
    moved = await session.execute(
        update(accounts_table)
        .where(
            accounts_table.c.id == telegram_id,
            accounts_table.c.customer_id.is_distinct_from(customer_id),
        )
        .values(customer_id=customer_id, linked_at=now, updated_at=now)
    )
    if moved.rowcount == 1:
        await session.execute(
            insert(links_table).values(
                telegram_id=telegram_id,
                customer_id=customer_id,
                linked_at=now,
            )
        )


async def consume_link_token(
    session: AsyncSession, token: str, telegram_user_id: int, now: datetime
) -> LinkResult:
    """Use the token once and link the account (not committed).

    Accepts the bare token or the whole `link_<token>` start payload.
    """
    if token.startswith(START_PREFIX):
        token = token[len(START_PREFIX) :]
    if not _TOKEN.match(token):
        return LinkResult(LinkOutcome.MALFORMED)
    digest = token_hash(token)
    taken = await session.execute(
        update(tokens_table)
        .where(
            tokens_table.c.token_hash == digest,
            tokens_table.c.used_at.is_(None),
            tokens_table.c.expires_at > now,
        )
        .values(used_at=now, used_by_telegram_id=telegram_user_id)
    )
    row = (
        await session.execute(
            select(
                tokens_table.c.customer_id,
                tokens_table.c.used_at,
                tokens_table.c.used_by_telegram_id,
            ).where(tokens_table.c.token_hash == digest)
        )
    ).first()
    if row is None:
        return LinkResult(LinkOutcome.UNKNOWN)
    customer = await session.get(Customer, row.customer_id)
    if taken.rowcount != 1:
        outcome = LinkOutcome.USED if row.used_at is not None else LinkOutcome.EXPIRED
        return LinkResult(outcome, customer)
    await link(session, row.customer_id, telegram_user_id, now)
    return LinkResult(LinkOutcome.LINKED, customer)
