"""The outbox: messages to send, written in the transaction that decides to send them.

One row per message with a unique dedupe key (e.g. `comeback:2:customer:42`), so that a
job run twice, or by two instances at once, queues the message once. Rows are inserted
with `INSERT … ON CONFLICT DO NOTHING` — never read-then-write — so two transactions
racing on the same key cannot both insert, and the loser's transaction is not aborted.
Nothing here commits: the row becomes visible together with the code it carries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.dialect import conflict_insert
from bot.db.models import Delivery, DeliveryStatus


class Reason(StrEnum):
    """Why a message is sent; the sender's caps may differ by reason."""

    COMEBACK = "comeback"
    CAMPAIGN = "campaign"
    REVIEW_ASK = "review_ask"
    REVIEW_REWARD = "review_reward"
    CART = "cart"
    REFERRAL_REWARD = "referral_reward"
    EXPIRY_REMINDER = "expiry_reminder"
    TIER_UP = "tier_up"
    TIER_NUDGE = "tier_nudge"
    MANUAL = "manual"


def _row(
    *,
    dedupe_key: str,
    customer_id: int | None,
    reason: str,
    payload: Mapping[str, Any],
    promotional: bool,
    code_id: int | None,
    campaign_id: int | None,
    due_at: datetime,
    chat_id: int | None,
) -> dict[str, Any]:
    if customer_id is None and chat_id is None:
        raise ValueError("a delivery needs a customer or a chat")
    if due_at.tzinfo is None:
        raise ValueError("due_at must be an aware datetime")
    return {
        "dedupe_key": dedupe_key,
        "customer_id": customer_id,
        "chat_id": chat_id,
        "reason": reason,
        "promotional": promotional,
        "code_id": code_id,
        "campaign_id": campaign_id,
        "payload": dict(payload),
        "status": DeliveryStatus.PENDING,
        "due_at": due_at,
        "attempts": 0,
    }


async def enqueue(
    session: AsyncSession,
    *,
    dedupe_key: str,
    customer_id: int | None,
    reason: str,
    payload: dict[str, Any],
    promotional: bool = True,
    code_id: int | None = None,
    campaign_id: int | None = None,
    due_at: datetime,
    chat_id: int | None = None,
) -> Delivery | None:
    """Queue one message in the caller's transaction; None when the key is already queued.

    `chat_id` is for messages to someone who is not a customer (managers); for customers
    the sender looks up the linked Telegram account at send time, so a re-link or a block
    after queueing is respected. `promotional=False` marks a service message: it skips
    opt-out, frequency caps and quiet hours.
    """
    values = _row(
        dedupe_key=dedupe_key, customer_id=customer_id, reason=reason, payload=payload,
        promotional=promotional, code_id=code_id, campaign_id=campaign_id, due_at=due_at,
        chat_id=chat_id,
    )
    statement = (
        conflict_insert(session, Delivery)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(Delivery)
    )
    result = await session.scalars(statement)
    return result.one_or_none()


async def enqueue_many(session: AsyncSession, rows: Iterable[Mapping[str, Any]]) -> int:
    """Queue many messages in one statement (not committed); returns how many were new.

    Each row takes the keyword arguments of `enqueue`. For audiences: feed it batches of
    a few thousand rows while streaming customer ids, so memory stays flat.
    """
    values = [
        _row(
            dedupe_key=row["dedupe_key"], customer_id=row.get("customer_id"),
            reason=row["reason"], payload=row.get("payload") or {},
            promotional=row.get("promotional", True), code_id=row.get("code_id"),
            campaign_id=row.get("campaign_id"), due_at=row["due_at"],
            chat_id=row.get("chat_id"),
        )
        for row in rows
    ]
    if not values:
        return 0
    statement = (
        conflict_insert(session, Delivery.__table__)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(Delivery.__table__.c.id)
    )
    result = await session.execute(statement, values)
    return len(result.all())
