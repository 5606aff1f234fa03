"""Factories: the one place tests make customers, codes and campaigns.

Rows go through the same doors the shop and the bot use (`upsert_customer`, the account's
`touch` / `link` / `set_blocked`, `issue_code`), so that a test starts from data the
application could have made itself. What no door writes is written straight, and each
factory says which: a customer's order history without its orders (for tests of segments,
tiers and cards), and a campaign's row (see `campaign`). Each factory commits and returns
the row (sessions keep their objects after commit, so `.id` and the columns are readable).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import Database
from bot.db.models import (
    Campaign,
    CampaignStatus,
    CampaignVariant,
    CodeSource,
    Customer,
    DiscountType,
    PromoCode,
)
from bot.promo.codes.issuing import issue_code
from bot.promo.codes.offers import Offer
from bot.promo.customers.accounts import Who, link, set_blocked, touch
from bot.promo.customers.profiles import upsert_customer

# Telegram ids of `linked_customer`s: TELEGRAM_BASE + the customer's id.
TELEGRAM_BASE = 7_000_000
TEN_PERCENT = Offer(DiscountType.PERCENT, 10)
# What the shop's API sends about a customer; `upsert_customer` validates these.
PROFILE = frozenset({"name", "phone", "email", "locale", "timezone", "marketing_opt_in",
                     "birthday"})
COLUMNS = frozenset(Customer.__table__.c.keys())


async def _create(session: AsyncSession, external_id: str, now: datetime,
                  fields: Mapping[str, Any]) -> Customer:
    """The profile through `upsert_customer`; the rest (`orders_count`, `net_spend`,
    `last_order_at`, ...) written straight: the aggregates `upsert_order` keeps, for tests
    that want a history without pushing its orders."""
    history = {key: value for key, value in fields.items() if key not in PROFILE}
    if unknown := history.keys() - COLUMNS:
        raise TypeError(f"Customer has no column {sorted(unknown)}")
    profile = {key: value for key, value in fields.items() if key in PROFILE}
    # A shopper of a test has agreed to promotions unless the test says otherwise (a new
    # customer's own default is no consent).
    profile.setdefault("marketing_opt_in", True)
    row, _ = await upsert_customer(session, external_id, now=now, **profile)
    if history:
        for key, value in history.items():
            setattr(row, key, value)
        row.updated_at = now
        await session.flush()
    return row


async def _link(session: AsyncSession, customer_id: int, telegram_id: int, now: datetime, *,
                username: str | None, blocked: bool) -> None:
    """As the bot records it: the shopper writes from a private chat (its id is the user's),
    links the account, and perhaps blocks the bot later."""
    who = Who(id=telegram_id, chat_id=telegram_id, username=username, first_name=None,
              language_code=None)
    await touch(session, who, now)
    await link(session, customer_id, telegram_id, now)
    if blocked:
        await set_blocked(session, who, True, now)


async def customer(
    db: Database, external_id: str = "c-1", *, now: datetime, telegram_id: int | None = None,
    username: str | None = None, blocked: bool = False, **fields: Any,
) -> Customer:
    """A customer; linked to the Telegram account `telegram_id` when given.

    `fields` are the profile (`name`, `locale`, `marketing_opt_in`, ...) and, written
    straight, any order aggregates (`orders_count=3, net_spend=900_000, ...`)."""
    async with db.session() as session:
        row = await _create(session, external_id, now, fields)
        if telegram_id is not None:
            await _link(session, row.id, telegram_id, now, username=username, blocked=blocked)
        await session.commit()
    return row


async def linked_customer(
    db: Database, external_id: str = "c-1", *, now: datetime, username: str | None = None,
    blocked: bool = False, **fields: Any,
) -> Customer:
    """A customer reachable in Telegram, for tests that need a shopper but no particular
    chat: the account's id is TELEGRAM_BASE + the customer's id."""
    async with db.session() as session:
        row = await _create(session, external_id, now, fields)
        await _link(session, row.id, TELEGRAM_BASE + row.id, now, username=username,
                    blocked=blocked)
        await session.commit()
    return row


async def customers(
    db: Database, count: int, *, now: datetime, prefix: str = "c", start: int = 0,
    telegram_base: int | None = None, **fields: Any,
) -> list[Customer]:
    """`count` alike customers `{prefix}{start}`, `{prefix}{start + 1}`, ... in one
    transaction (ids in that order); with `telegram_base`, customer number n is linked to
    the account telegram_base + n. `fields` as for `customer`."""
    rows = []
    async with db.session() as session:
        for number in range(start, start + count):
            row = await _create(session, f"{prefix}{number}", now, fields)
            if telegram_base is not None:
                await _link(session, row.id, telegram_base + number, now, username=None,
                            blocked=False)
            rows.append(row)
        await session.commit()
    return rows


async def code(
    db: Database, offer: Offer = TEN_PERCENT, *, now: datetime,
    source: CodeSource | str = CodeSource.MANUAL, **options: Any,
) -> PromoCode:
    """A code issued by `issue_code` (10 % off, manual, single use, 30 days by default);
    `options` are its own: `customer_id`, `usage_limit`, `per_customer_limit`, `starts_at`,
    `expires_at`, `expires_on_delivery`, `campaign_id`, `prefix`, ..."""
    async with db.session() as session:
        row = await issue_code(session, offer, source=source, now=now, **options)
        await session.commit()
    return row


async def campaign(
    db: Database, *, now: datetime, variants: Sequence[Mapping[str, Any]] = (), **fields: Any,
) -> Campaign:
    """A campaign (an active broadcast named "test" unless `fields` say otherwise) and its
    `variants` ({"name": ..., "weight": ..., "offer": {...}}, readable as `.variants`).

    Written straight rather than through `campaigns.admin.create`, which wants a staff
    member, refuses an offer above the guardrail and writes an audit row: tests set up
    campaigns in any state, and the tests of /campaign count the audit rows."""
    values = {"name": "test", "kind": "broadcast", "status": CampaignStatus.ACTIVE,
              "params": {}, "offer": {}, "created_at": now, "updated_at": now, **fields}
    async with db.session() as session:
        row = Campaign(**values, variants=[CampaignVariant(**variant) for variant in variants])
        session.add(row)
        await session.commit()
    return row
