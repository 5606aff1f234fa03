"""What every scheduled run shares: its report, its audience in batches, suppression,
claiming customers for a campaign, and the built-in campaigns behind automatic jobs.

A run streams customer ids by keyset in batches; each batch is one transaction that
claims, issues codes and queues their messages, so memory stays flat for a million
customers and a crash loses at most the batch in flight (which then simply never
happened). Two runs at once cannot both claim a customer: a claim is an
`INSERT … ON CONFLICT DO NOTHING` or a conditional UPDATE checked by its row count, and
the outbox's unique dedupe key is the second lock on the door.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Row,
    Select,
    String,
    and_,
    bindparam,
    cast,
    func,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db import Database
from bot.db.models import (
    Campaign,
    CampaignAssignment,
    CampaignStatus,
    CampaignVariant,
    CodeSource,
    Customer,
    TelegramAccount,
)
from bot.delivery.outbox import enqueue_many
from bot.promo.campaigns.experiments import HOLDOUT, Arm, Design
from bot.promo.campaigns.experiments import design as split_of
from bot.promo.codes.issuing import ensure_within_guardrail, issue_code
from bot.promo.codes.offers import Offer
from bot.promo.customers.profiles import insert_ignoring_conflict
from bot.promo.errors import DomainError

assignments = CampaignAssignment.__table__


@dataclass
class RunResult:
    """What a run did, for logs, the CLI and managers; counts add up across batches."""

    kind: str
    campaign_id: int | None = None
    # done | inactive (paused, stopped or draft: nothing was done) | refused (guardrail)
    status: str = "done"
    message: str = ""
    audience: int = 0
    assigned: int = 0
    holdout: int = 0
    issued: int = 0
    queued: int = 0
    escalated: int = 0
    # Suppressed: asked for no promotions, never linked Telegram, or blocked the bot.
    opted_out: int = 0
    no_telegram: int = 0
    blocked: int = 0
    # Someone else (a concurrent run) claimed them first.
    taken: int = 0
    # Held back by a rule (monthly cap, order returned, ...).
    held: int = 0

    def merge(self, other: RunResult) -> None:
        for name, value in other.as_dict().items():
            if isinstance(value, int) and name != "campaign_id":
                setattr(self, name, getattr(self, name) + value)
        if other.status != "done" and self.status == "done":
            self.status, self.message = other.status, other.message

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        head = f"{self.kind}" + (f" #{self.campaign_id}" if self.campaign_id else "")
        if self.status != "done":
            return f"{head}: {self.status} {self.message}".rstrip()
        counts = ", ".join(
            f"{name} {value}" for name, value in self.as_dict().items()
            if isinstance(value, int) and value and name != "campaign_id"
        )
        return f"{head}: {counts or 'nothing to do'}"


@dataclass(frozen=True, slots=True)
class Context:
    """Where and when a run happens; `now` is fixed for the whole run."""

    db: Database
    settings: Settings
    now: datetime
    batch_size: int = 500


def _linked(column: Any) -> Any:
    return (select(column).where(TelegramAccount.customer_id == Customer.id)
            .correlate(Customer).scalar_subquery())


def audience(query: Select[Any], *extra: Any, key: Any = None) -> Select[Any]:
    """A Select of customer ids turned into the rows a run needs: consent, Telegram link,
    what the message mentions, plus `extra` columns of the query's own joins. `key` is
    the column batches page by (the customer id unless rows are orders, reviews, ...).

    The Telegram link is a correlated lookup per row, not an outer join: with a LIMIT,
    PostgreSQL merge-joins and re-reads the accounts from the start on every batch."""
    return query.with_only_columns(
        (Customer.id if key is None else key).label("batch_key"),
        Customer.id,
        Customer.marketing_opt_in,
        Customer.last_order_at,
        Customer.favourite_category,
        Customer.orders_count,
        _linked(TelegramAccount.id).label("telegram_id"),
        _linked(TelegramAccount.is_blocked).label("is_blocked"),
        *extra,
        maintain_column_froms=True,
    )


async def batches(
    ctx: Context, query: Select[Any], key: Any = None
) -> AsyncIterator[tuple[AsyncSession, Sequence[Row[Any]]]]:
    """The `audience` rows by keyset on `key` (as given to `audience`), one write
    transaction per batch.

    The consumer writes in the session it is given; the batch commits when the consumer
    asks for the next one. Breaking out of the loop rolls the current batch back.
    """
    column = Customer.id if key is None else key
    last: Any = 0
    while True:
        async with ctx.db.session() as session:
            rows = (await session.execute(
                query.where(column > last).order_by(column).limit(ctx.batch_size)
            )).all()
            if not rows:
                return
            last = rows[-1].batch_key
            yield session, rows
            await session.commit()


def admit(row: Row[Any], result: RunResult, *, promotional: bool = True) -> bool:
    """Whether a message may go to this row's customer; if not, counted by why."""
    if promotional and not row.marketing_opt_in:
        result.opted_out += 1
    elif row.telegram_id is None:
        result.no_telegram += 1
    elif row.is_blocked:
        result.blocked += 1
    else:
        return True
    return False


def reachable(rows: Sequence[Row[Any]], result: RunResult, *, promotional: bool = True
              ) -> list[Row[Any]]:
    """The rows a message may go to; the others are counted by why they were skipped."""
    result.audience += len(rows)
    return [row for row in rows if admit(row, result, promotional=promotional)]


async def campaign_status(session: AsyncSession, campaign_id: int) -> str | None:
    """Re-read on every batch: a campaign paused mid-run stops at the next batch."""
    return await session.scalar(select(Campaign.status).where(Campaign.id == campaign_id))


async def load_campaign(
    session: AsyncSession, campaign_id: int
) -> tuple[Campaign, list[CampaignVariant]] | None:
    campaign = await session.get(Campaign, campaign_id, populate_existing=True)
    if campaign is None:
        return None
    variants = list(await session.scalars(
        select(CampaignVariant).where(CampaignVariant.campaign_id == campaign_id)
        .order_by(CampaignVariant.id)
    ))
    return campaign, variants


async def open_campaign(
    ctx: Context, campaign_id: int, result: RunResult
) -> tuple[Campaign, Design] | None:
    """The campaign and its split if it is active; else None, the result says why.
    Marks the campaign started (its reference point) on its first run."""
    async with ctx.db.session() as session:
        loaded = await load_campaign(session, campaign_id)
        if loaded is None:
            result.status, result.message = "inactive", "no such campaign"
            return None
        campaign, variants = loaded
        if campaign.status != CampaignStatus.ACTIVE:
            result.status, result.message = "inactive", f"campaign is {campaign.status}"
            return None
        if campaign.started_at is None:
            await mark_started(session, campaign_id, ctx.now)
            await session.commit()
            campaign.started_at = ctx.now
        return campaign, split_of(campaign, variants)


def builtin_name(kind: str) -> str:
    return f"auto:{kind}"


async def builtin_campaign(db: Database, kind: str, now: datetime) -> int:
    """The campaign row behind an automatic job (`auto:review`, ...), created active on
    first use; a manager pauses the job by pausing it. Never re-created once it exists."""
    name = builtin_name(kind)
    async with db.session() as session:
        if session.get_bind().dialect.name == "postgresql":
            # Two instances creating it at once would make two; SQLite's write lock
            # already serialises this transaction.
            key = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=7).digest(), "big")
            await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        found = await session.scalar(
            select(func.min(Campaign.id)).where(Campaign.name == name, Campaign.kind == kind)
        )
        if found is None:
            campaign = Campaign(
                name=name, kind=kind, status=CampaignStatus.ACTIVE, params={"builtin": True},
                offer={}, started_at=now, created_at=now, updated_at=now,
            )
            session.add(campaign)
            await session.flush()
            found = campaign.id
        await session.commit()
        return found


async def mark_started(session: AsyncSession, campaign_id: int, now: datetime) -> None:
    await session.execute(
        update(Campaign).where(Campaign.id == campaign_id, Campaign.started_at.is_(None))
        .values(started_at=now).execution_options(synchronize_session=False)
    )


def recorded_arm(design: Design, variant_id: int | None, is_holdout: bool,
                 campaign_id: int, customer_id: int) -> Arm:
    """The arm an existing assignment recorded; a variant since deleted is chosen again."""
    if is_holdout:
        return HOLDOUT
    for arm in design.arms:
        if arm.variant_id == variant_id:
            return arm
    arm = design.choose(campaign_id, customer_id)
    return arm if not arm.is_holdout else design.arms[0]


@dataclass
class Claim:
    row: Row[Any]
    arm: Arm


async def claim_new(
    session: AsyncSession,
    campaign_id: int,
    design: Design,
    rows: Sequence[Row[Any]],
    *,
    step: int,
    now: datetime,
    reference: dict[int, datetime | None] | None = None,
    result: RunResult,
) -> list[Claim]:
    """Assign these customers to the campaign; returns the ones this run won.

    A customer without an assignment gets one (sticky arm from the hash). With
    `reference` (comeback cycles), an assignment left from an older cycle is reused
    (same arm) and moved to the new cycle by a conditional UPDATE; without it an
    existing assignment means "already done".
    """
    if not rows:
        return []
    ids = [row.id for row in rows]
    existing = {
        r.customer_id: r for r in (await session.execute(
            select(assignments.c.customer_id, assignments.c.id, assignments.c.variant_id,
                   assignments.c.is_holdout, assignments.c.reference_at)
            .where(assignments.c.campaign_id == campaign_id, assignments.c.customer_id.in_(ids))
        )).all()
    }
    refs = reference or {}
    fresh = [row for row in rows if row.id not in existing]
    arms = {row.id: design.choose(campaign_id, row.id) for row in fresh}
    won: set[int] = set()
    if fresh:
        values = [
            {"campaign_id": campaign_id, "customer_id": row.id,
             "variant_id": arms[row.id].variant_id, "is_holdout": arms[row.id].is_holdout,
             "step": step, "assigned_at": now, "reference_at": refs.get(row.id),
             "escalated": False}
            for row in fresh
        ]
        inserted = await session.execute(
            insert_ignoring_conflict(session, assignments).returning(assignments.c.customer_id),
            values,
        )
        won.update(inserted.scalars())
    if reference is not None:
        for row in rows:
            old = existing.get(row.id)
            ref = refs.get(row.id)
            if old is None or ref is None:
                continue
            moved = await session.execute(
                update(assignments)
                .where(assignments.c.id == old.id,
                       or_(assignments.c.reference_at.is_(None),
                           assignments.c.reference_at < ref))
                .values(step=step, reference_at=ref, escalated=False, code_id=None,
                        assigned_at=now)
            )
            if moved.rowcount == 1:
                won.add(row.id)
                arms[row.id] = recorded_arm(design, old.variant_id, old.is_holdout,
                                            campaign_id, row.id)
    claims = [Claim(row, arms[row.id]) for row in rows if row.id in won]
    result.taken += len(rows) - len(claims)
    result.assigned += len(claims)
    result.holdout += sum(1 for claim in claims if claim.arm.is_holdout)
    return claims


async def record_codes(
    session: AsyncSession, campaign_id: int, codes: dict[int, int]
) -> None:
    """Remember on each assignment the code it now holds (escalation looks at it)."""
    if not codes:
        return
    await session.execute(
        update(assignments)
        .where(and_(assignments.c.campaign_id == campaign_id,
                    assignments.c.customer_id == bindparam("b_customer")))
        .values(code_id=bindparam("b_code")),
        [{"b_customer": customer, "b_code": code} for customer, code in codes.items()],
    )


async def queue(session: AsyncSession, rows: list[dict[str, Any]], result: RunResult) -> None:
    """Queue the batch's messages; every row must be new, else the batch is undone."""
    queued = await enqueue_many(session, rows)
    if queued != len(rows):
        # A claim was won but the message exists: a bug, not a race. Roll the batch
        # back rather than leave codes nobody is told about.
        raise RuntimeError(f"{len(rows) - queued} of {len(rows)} messages were queued before")
    result.queued += queued


async def offers_by_arm(
    ctx: Context, split: Design, make: Callable[[Arm], Offer | None], result: RunResult,
) -> dict[int | None, Offer | None] | None:
    """Each treated arm's offer, checked against the margin guardrail before anything is
    issued; None (and the result marked refused, with the numbers) if one is above it."""
    offers = {arm.variant_id: make(arm) for arm in split.arms}
    ok = await guardrail_ok(ctx, [o for o in offers.values() if o is not None], result)
    return offers if ok else None


async def issue_and_queue(
    session: AsyncSession,
    ctx: Context,
    campaign: Campaign,
    claims: Sequence[Claim],
    *,
    offers: Mapping[int | None, Offer | None],
    source: CodeSource,
    reason: str,
    dedupe: Callable[[Row[Any]], str],
    payload: Callable[[Row[Any]], dict[str, Any]],
    result: RunResult,
) -> None:
    """For each treated claim: its arm's code (validity from delivery) and its message,
    in the batch's transaction. The holdout gets nothing; an arm without an offer gets
    the message alone."""
    codes: dict[int, int] = {}
    rows: list[dict[str, Any]] = []
    for claim in claims:
        if claim.arm.is_holdout:
            continue
        offer = offers.get(claim.arm.variant_id)
        code_id = None
        if offer is not None:
            code = await issue_code(
                session, offer, source=source, now=ctx.now, customer_id=claim.row.id,
                campaign_id=campaign.id, variant_id=claim.arm.variant_id,
                prefix=campaign.code_prefix, length=ctx.settings.code_length,
                expires_on_delivery=True,
            )
            codes[claim.row.id] = code_id = code.id
            result.issued += 1
        rows.append({
            "dedupe_key": dedupe(claim.row), "customer_id": claim.row.id, "reason": reason,
            "payload": payload(claim.row), "promotional": True, "code_id": code_id,
            "campaign_id": campaign.id, "due_at": ctx.now,
        })
    await record_codes(session, campaign.id, codes)
    await queue(session, rows, result)


async def active_builtin(ctx: Context, kind: str, result: RunResult) -> int | None:
    """The built-in campaign of an automatic job, or None (the result says why) when a
    manager has paused it."""
    campaign_id = await builtin_campaign(ctx.db, kind, ctx.now)
    result.campaign_id = campaign_id
    async with ctx.db.read_session() as session:
        status = await campaign_status(session, campaign_id)
    if status != CampaignStatus.ACTIVE:
        result.status, result.message = "inactive", f"campaign auto:{kind} is {status}"
        return None
    return campaign_id


async def guardrail_ok(ctx: Context, offers: Sequence[Offer], result: RunResult) -> bool:
    """All offers within the margin ceiling; else the result is refused, with the numbers."""
    async with ctx.db.read_session() as session:
        for offer in offers:
            try:
                await ensure_within_guardrail(session, offer, settings=ctx.settings, now=ctx.now)
            except DomainError as refusal:
                result.status, result.message = "refused", refusal.message
                return False
    return True


def queued_key(prefix: str, *columns: Any) -> Any:
    """`'<prefix>' || a || ':' || b` in SQL: the dedupe key of a message, to skip it."""
    key: Any = literal(prefix, String)
    for index, column in enumerate(columns):
        if index:
            key = key + literal(":", String)
        key = key + cast(column, String)
    return key
