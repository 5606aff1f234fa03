"""The outbox: messages to send, written in the transaction that decides to send them.

One row per message with a unique dedupe key (e.g. `comeback:2:customer:42`), so that a
job run twice, or by two instances at once, queues the message once. Rows are inserted
with `INSERT … ON CONFLICT DO NOTHING` — never read-then-write — so two transactions
racing on the same key cannot both insert, and the loser's transaction is not aborted.
Nothing here commits: the row becomes visible together with the code it carries.
A message that has become pointless before the sender took it is withdrawn the same way
(`withdraw`): in the transaction that made it pointless, with the codes it carried.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import exists, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.bulk import insert_rows
from bot.db.dialect import conflict_insert
from bot.db.models import CodeStatus, Delivery, DeliveryStatus, PromoCode

deliveries = Delivery.__table__
codes = PromoCode.__table__
# A message in these states still carries its code to the shopper, or already did.
LIVE_STATES = (DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.SENT)


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
    WELCOME = "welcome"
    ACTION_REWARD = "action_reward"
    SURVEY = "survey"
    SURVEY_REWARD = "survey_reward"
    ANNIVERSARY = "anniversary"
    BIRTHDAY = "birthday"
    # To staff chats (`chat_id`), not to customers: a shared code that looks leaked.
    LEAK_ALERT = "leak_alert"


def _check(due_at: datetime, recipients: Iterable[tuple[int | None, int | None]]) -> None:
    """Refuse a naive due time, and a message with neither a customer nor a chat
    (`recipients`: each message's customer id and chat id)."""
    if due_at.tzinfo is None:
        raise ValueError("due_at must be an aware datetime")
    if any(customer_id is None and chat_id is None for customer_id, chat_id in recipients):
        raise ValueError("a delivery needs a customer or a chat")


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
    expires_at: datetime | None,
) -> dict[str, Any]:
    _check(due_at, [(customer_id, chat_id)])
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
        "expires_at": expires_at,
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
    expires_at: datetime | None = None,
) -> Delivery | None:
    """Queue one message in the caller's transaction; None when the key is already queued.

    `chat_id` is for messages to someone who is not a customer (managers); for customers
    the sender looks up the linked Telegram account at send time, so a re-link or a block
    after queueing is respected. `promotional=False` marks a service message: it skips
    opt-out, frequency caps and quiet hours. A message still unsent at `expires_at` is
    cancelled rather than sent late (its code given back): a day's message held by the
    caps or quiet hours past its day.
    """
    values = _row(
        dedupe_key=dedupe_key, customer_id=customer_id, reason=reason, payload=payload,
        promotional=promotional, code_id=code_id, campaign_id=campaign_id, due_at=due_at,
        chat_id=chat_id, expires_at=expires_at,
    )
    statement = (
        conflict_insert(session, Delivery)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(Delivery)
    )
    result = await session.scalars(statement)
    return result.one_or_none()


async def enqueue_many(
    session: AsyncSession,
    rows: Iterable[Mapping[str, Any]],
    *,
    reason: str,
    due_at: datetime,
    promotional: bool = True,
    **same: Any,
) -> int:
    """Queue many messages in one statement (not committed); returns how many were new.

    Each row is what differs from message to message: `dedupe_key`, `customer_id`,
    `payload` and, where they differ, `code_id` or `campaign_id`; every row has the same
    keys. What all of them share is given once: `reason`, `due_at`, `promotional` and
    any column in `same`. For audiences: feed it a batch at a time while streaming
    customer ids, so memory stays flat.
    """
    rows = list(rows)
    if not rows:
        return 0
    _check(due_at, ((row.get("customer_id"), row.get("chat_id")) for row in rows))
    inserted = await insert_rows(
        session, deliveries, rows, skip_conflicts=("dedupe_key",), returning=(deliveries.c.id,),
        reason=reason, due_at=due_at, promotional=promotional,
        status=DeliveryStatus.PENDING, attempts=0, **same,
    )
    return len(inserted.all())


@dataclass(frozen=True, slots=True)
class Withdrawn:
    messages: int = 0
    codes: int = 0


async def withdraw(
    session: AsyncSession,
    *,
    customer_id: int,
    reasons: Collection[str],
    queued_before: datetime,
    why: str,
    now: datetime,
) -> Withdrawn:
    """Cancel the customer's queued messages of these reasons, queued before
    `queued_before`, and give back the codes they carry; in the caller's transaction.

    Only `pending` rows are touched, by one conditional UPDATE: a row the sender has
    claimed (`sending`) goes out as it would have. Race-free with a claim at the same
    moment: on PostgreSQL the claim locks its rows (`FOR UPDATE`), so this UPDATE waits
    and then re-checks the status the claim wrote, while a claim skips rows this UPDATE
    holds (`SKIP LOCKED`) and finds them cancelled; SQLite runs the two one after the
    other. Either way a message is withdrawn or sent, never both. Call it before the
    transaction writes the customer's row: a claim locks its rows, then their customers.
    """
    statement = (
        update(deliveries)
        .where(
            deliveries.c.customer_id == customer_id,
            deliveries.c.status == DeliveryStatus.PENDING,
            deliveries.c.reason.in_(list(reasons)),
            deliveries.c.created_at < queued_before,
        )
        .values(status=DeliveryStatus.CANCELLED, error=f"withdrawn: {why}"[:500])
        .returning(deliveries.c.code_id)
    )
    carried = (await session.execute(statement)).scalars().all()
    code_ids = sorted({code_id for code_id in carried if code_id is not None})
    given_back = await give_back(session, code_ids, customer_id=customer_id, why=why, now=now)
    return Withdrawn(len(carried), given_back)


async def give_back(
    session: AsyncSession,
    code_ids: Collection[int],
    *,
    customer_id: int,
    why: str,
    now: datetime,
) -> int:
    """Revoke the customer's own unused codes among `code_ids` whose messages will not go
    out; a code some other message still carries or delivered is kept. How many."""
    if not code_ids:
        return 0
    other = deliveries.alias("other")
    revoked = await session.execute(
        update(codes)
        .where(
            codes.c.id.in_(list(code_ids)),
            codes.c.customer_id == customer_id,
            codes.c.status == CodeStatus.ACTIVE,
            codes.c.used_count == 0,
            ~exists().where(other.c.code_id == codes.c.id, other.c.status.in_(LIVE_STATES)),
        )
        .values(status=CodeStatus.REVOKED, revoked_at=now, revoke_reason=why[:200])
    )
    return revoked.rowcount
