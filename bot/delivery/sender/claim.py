"""Claiming: due outbox rows become the sender's jobs, in one write transaction per batch.

Due `pending` rows, and `sending` rows whose lease has run out (their sender died), are
locked with `FOR UPDATE SKIP LOCKED` on PostgreSQL — two instances never get the same
row — and under SQLite's IMMEDIATE write lock. In the same transaction opt-out, quiet
hours and caps are decided (`caps.decide`) and the rows to send become `sending` with
`lease_until` = now + lease. That lease value is also the claim's fencing token: results
and renewals only touch a row whose lease is still ours, so a sender that stalled past
its lease cannot overwrite another's claim.

Whenever a message ends without reaching the shopper (failed, unreachable, capped,
opted out), its personal, unused code is given back: revoked with a reason, so that the
shopper's `/codes` does not list a code nobody told them about and a later job may issue
a fresh one. A code that another message already delivered (a reminder) is left alone.
Capped, opted-out and unreachable rows are settled here, at claim time
(`give_back_codes` is shared with `record`, which settles the rest), and so are rows past
their `expires_at` or held back beyond it: a message about a day (a birthday) is
cancelled rather than sent after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, bindparam, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import ShopSettings
from bot.db import Database
from bot.db.models import (
    CodeStatus,
    Customer,
    Delivery,
    DeliveryStatus,
    PromoCode,
    TelegramAccount,
)
from bot.delivery.caps import Candidate, Decision, Policy, Verdict, decide
from bot.i18n import pick_locale, zone

deliveries = Delivery.__table__
codes = PromoCode.__table__

ERROR_LIMIT = 500
Target = tuple[int, int | None, str, ZoneInfo]  # chat, account id, locale, time zone


@dataclass(slots=True)
class Job:
    """A claimed row, with everything needed to send it without the database."""

    delivery: Delivery  # detached: for rendering
    code: PromoCode | None  # detached
    chat_id: int
    account_id: int | None
    locale: str
    tz: ZoneInfo
    lease: datetime  # the claim's fencing token

    @property
    def id(self) -> int:
        return self.delivery.id

    @property
    def personal_code(self) -> bool:
        return self.code is not None and self.code.customer_id is not None and (
            self.code.customer_id == self.delivery.customer_id
        )


async def _claimable(session: AsyncSession, now: datetime, limit: int) -> list[int]:
    """Ids of rows whose lease ran out (their sender died), then of due pending rows.

    Two statements rather than one OR: each walks `ix_deliveries_status_due` in order
    and stops at `limit`, where an OR would sort every due row of a million-row queue.
    """
    d = Delivery
    expired = list(await session.scalars(
        select(d.id)
        .where(d.status == DeliveryStatus.SENDING, d.lease_until < now)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ))
    if len(expired) >= limit:
        return expired
    due = await session.scalars(
        select(d.id)
        .where(d.status == DeliveryStatus.PENDING, d.due_at <= now)
        .order_by(d.due_at)
        .limit(limit - len(expired))
        .with_for_update(skip_locked=True)
    )
    return expired + list(due)


_LIVE_STATES = (DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.SENT)


async def give_back_codes(
    session: AsyncSession, rows: Sequence[tuple[int, int, int]], why: str, now: datetime
) -> None:
    """Revoke the personal, unused codes of messages that never reached their shopper.

    `rows` are (delivery id, code id, customer id). A code that some other message still
    carries (queued, being sent, or delivered) is kept.
    """
    if not rows:
        return
    other = Delivery.__table__.alias("other")
    statement = (
        update(codes)
        .where(
            codes.c.id == bindparam("b_code"),
            codes.c.customer_id == bindparam("b_customer"),
            codes.c.status == CodeStatus.ACTIVE,
            codes.c.used_count == 0,
            ~exists().where(
                other.c.code_id == codes.c.id,
                other.c.id != bindparam("b_delivery"),
                # OR of plain comparisons: an IN list would be an "expanding"
                # parameter, which executemany refuses.
                or_(*(other.c.status == status for status in _LIVE_STATES)),
            ),
        )
        .values(status=CodeStatus.REVOKED, revoked_at=now, revoke_reason=why[:200])
    )
    await session.execute(
        statement,
        [{"b_delivery": d, "b_code": c, "b_customer": u} for d, c, u in rows],
    )


async def _finish(
    session: AsyncSession, rows: Sequence[tuple[Delivery, str]], status: DeliveryStatus,
    now: datetime,
) -> None:
    """Final states decided at claim time (no send): capped, cancelled, unreachable."""
    if not rows:
        return
    await session.execute(
        update(deliveries)
        .where(deliveries.c.id == bindparam("b_id"))
        .values(status=status, error=bindparam("b_error"), lease_until=None),
        [{"b_id": row.id, "b_error": why[:ERROR_LIMIT]} for row, why in rows],
    )
    await give_back_codes(
        session,
        [(row.id, row.code_id, row.customer_id) for row, _ in rows
         if row.code_id is not None and row.customer_id is not None],
        f"not delivered: {status}",
        now,
    )


async def claim(
    db: Database,
    *,
    now: datetime,
    limit: int,
    lease: timedelta,
    policy: Policy,
    shop: ShopSettings,
) -> list[Job]:
    """Claim up to `limit` due rows for sending; rows held back are settled on the way."""
    lease_until = now + lease
    async with db.session() as session, session.begin():
        ids = await _claimable(session, now, limit)
        if not ids:
            return []
        rows = await _load(session, ids)
        late = [(row, "expired: its day has passed") for row, *_ in rows
                if row.expires_at is not None and row.expires_at <= now]
        gone = {row.id for row, _ in late}
        rows = [found for found in rows if found[0].id not in gone]
        targets, candidates, unreachable = _address(rows, shop)

        decisions = await decide(session, candidates, now, policy)
        by_id = {row.id: row for row, *_ in rows}
        send = [i for i, d in decisions.items() if d.verdict is Verdict.SEND]
        deferred = [(i, d) for i, d in decisions.items() if d.verdict is Verdict.DEFER]
        # Held past its expiry (quiet hours, a cap's window), it would only go out late.
        late += [(by_id[i], f"expired: {d.why}") for i, d in deferred
                 if _too_late(by_id[i].expires_at, d.until)]
        deferred = [(i, d) for i, d in deferred if not _too_late(by_id[i].expires_at, d.until)]
        capped = [(by_id[i], d.why) for i, d in decisions.items() if d.verdict is Verdict.CAPPED]
        opted_out = [(by_id[i], d.why) for i, d in decisions.items()
                     if d.verdict is Verdict.OPTED_OUT]

        if send:
            await session.execute(
                update(deliveries)
                .where(deliveries.c.id.in_(send))
                .values(status=DeliveryStatus.SENDING, lease_until=lease_until)
            )
        await _defer(session, deferred)
        await _finish(session, capped, DeliveryStatus.CAPPED, now)
        await _finish(session, opted_out, DeliveryStatus.CANCELLED, now)
        await _finish(session, unreachable, DeliveryStatus.UNREACHABLE, now)
        await _finish(session, late, DeliveryStatus.CANCELLED, now)

        code_ids = {by_id[i].code_id for i in send if by_id[i].code_id is not None}
        loaded = {
            code.id: code
            for code in await session.scalars(select(PromoCode).where(PromoCode.id.in_(code_ids)))
        } if code_ids else {}

    jobs = []
    for delivery_id in send:
        row = by_id[delivery_id]
        chat, account_id, locale, tz = targets[delivery_id]
        code = loaded.get(row.code_id) if row.code_id is not None else None
        jobs.append(Job(row, code, int(chat), account_id, locale, tz, lease_until))
    return jobs


def _too_late(expires_at: datetime | None, until: datetime | None) -> bool:
    return expires_at is not None and until is not None and until >= expires_at


async def _load(session: AsyncSession, ids: Sequence[int]) -> Sequence[Row[Any]]:
    """The claimed rows with their customer's and Telegram account's settings."""
    ta = TelegramAccount
    return (
        await session.execute(
            select(
                Delivery, Customer.timezone, Customer.marketing_opt_in, Customer.locale,
                ta.id, ta.chat_id, ta.is_blocked, ta.locale, ta.language_code,
            )
            .outerjoin(Customer, Customer.id == Delivery.customer_id)
            .outerjoin(ta, ta.customer_id == Delivery.customer_id)
            .where(Delivery.id.in_(ids))
            .order_by(Delivery.due_at, Delivery.id)
        )
    ).all()


def _address(
    rows: Sequence[Row[Any]], shop: ShopSettings
) -> tuple[dict[int, Target], list[Candidate], list[tuple[Delivery, str]]]:
    """Where each row goes and in which language and zone; the caps' candidates; and the
    rows that have nowhere to go (no linked account, or the shopper blocked the bot)."""
    unreachable: list[tuple[Delivery, str]] = []
    targets: dict[int, Target] = {}
    candidates: list[Candidate] = []
    for (row, tz_name, opted_in, c_locale, account_id, account_chat, blocked,
         a_locale, language) in rows:
        chat = row.chat_id or account_chat or account_id
        if chat is None:
            unreachable.append((row, "no linked Telegram account"))
            continue
        if blocked and row.chat_id is None:
            unreachable.append((row, "the shopper blocked the bot"))
            continue
        tz = zone(tz_name, shop.timezone)
        # A message to a chat that is no customer's (staff) carries its reader's language.
        own = (row.payload or {}).get("locale") if row.customer_id is None else None
        locale = pick_locale(own, a_locale, c_locale, language, default=shop.default_locale)
        targets[row.id] = (chat, account_id, locale, tz)
        candidates.append(Candidate(
            row.id, row.customer_id, row.reason, row.promotional,
            opted_in if opted_in is not None else True, tz,
        ))
    return targets, candidates, unreachable


async def _defer(session: AsyncSession, deferred: Sequence[tuple[int, Decision]]) -> None:
    """Rows the caps hold back for now (quiet hours, a gap): pending again, due when allowed."""
    if not deferred:
        return
    await session.execute(
        update(deliveries)
        .where(deliveries.c.id == bindparam("b_id"))
        .values(
            status=DeliveryStatus.PENDING, due_at=bindparam("b_due"), lease_until=None,
            error=bindparam("b_error"),
        ),
        [{"b_id": i, "b_due": d.until, "b_error": f"deferred: {d.why}"} for i, d in deferred],
    )
