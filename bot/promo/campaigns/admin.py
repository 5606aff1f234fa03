"""Campaigns as managers handle them: the list with counts, one campaign's card, state
changes (start, pause, resume, stop), creation from the guided dialog, and the preview.

Runs themselves (audience, assignment, codes, messages) belong to `bot.promo.campaigns.running`;
a run re-reads the status on every batch, so a pause takes effect at the next batch.
Messages already queued follow the campaign too: pausing holds its pending outbox rows
(their due time moves to `HELD_UNTIL`), resuming releases them (due now; the sender
re-checks quiet hours and caps at claim), stopping cancels them and gives their unsent
personal codes back. Every change is audited in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import GuardrailSettings, Settings
from bot.db.models import (
    Campaign,
    CampaignAssignment,
    CampaignKind,
    CampaignStatus,
    CampaignVariant,
    CodeStatus,
    Customer,
    Delivery,
    DeliveryStatus,
    PromoCode,
    Redemption,
    Survey,
    TelegramAccount,
)
from bot.promo.campaigns import comeback, new_category, optimiser
from bot.promo.campaigns.comeback import Step
from bot.promo.campaigns.global_holdout import without_members
from bot.promo.campaigns.new_category import CategoryPreview
from bot.promo.codes.guardrail import GuardrailCheck, average_order_value, check_discount
from bot.promo.codes.issuing import ensure_within_guardrail, headroom
from bot.promo.codes.offers import Offer
from bot.promo.customers.segments import get_segment
from bot.promo.errors import DomainError, ErrorCode
from bot.promo.staff import budget
from bot.promo.staff.managers import Staff, audit

# Pending messages of a paused campaign wait "for ever"; resuming makes them due now.
HELD_UNTIL = datetime(2999, 1, 1, tzinfo=UTC)

ACTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    # action: (from states, to state)
    "start": ((CampaignStatus.DRAFT,), CampaignStatus.ACTIVE),
    "pause": ((CampaignStatus.ACTIVE,), CampaignStatus.PAUSED),
    "resume": ((CampaignStatus.PAUSED,), CampaignStatus.ACTIVE),
    "stop": ((CampaignStatus.DRAFT, CampaignStatus.ACTIVE, CampaignStatus.PAUSED),
             CampaignStatus.STOPPED),
}


# After these the campaign runs at once (in the background: `launcher.Launcher`).
RUN_ACTIONS = frozenset({"start", "resume"})


@dataclass(frozen=True, slots=True)
class Counts:
    assigned: int = 0
    holdout: int = 0
    queued: int = 0
    sent: int = 0
    redeemed: int = 0


async def counts(session: AsyncSession, ids: Sequence[int]) -> dict[int, Counts]:
    """Assignments, messages and redemptions per campaign: three grouped queries."""
    if not ids:
        return {}
    a = CampaignAssignment
    assigned = {cid: (n, h or 0) for cid, n, h in (await session.execute(
        select(a.campaign_id, func.count(), func.sum(case((a.is_holdout, 1), else_=0)))
        .where(a.campaign_id.in_(ids)).group_by(a.campaign_id)
    )).all()}
    d = Delivery
    sent = {cid: (n, s or 0) for cid, n, s in (await session.execute(
        select(d.campaign_id, func.count(),
               func.sum(case((d.status == DeliveryStatus.SENT, 1), else_=0)))
        .where(d.campaign_id.in_(ids)).group_by(d.campaign_id)
    )).all()}
    redeemed = dict((await session.execute(
        select(PromoCode.campaign_id, func.count(Redemption.id))
        .join(Redemption, Redemption.code_id == PromoCode.id)
        .where(PromoCode.campaign_id.in_(ids), Redemption.released_at.is_(None))
        .group_by(PromoCode.campaign_id)
    )).all())
    return {cid: Counts(assigned.get(cid, (0, 0))[0], assigned.get(cid, (0, 0))[1],
                        sent.get(cid, (0, 0))[0], sent.get(cid, (0, 0))[1],
                        redeemed.get(cid, 0))
            for cid in ids}


async def list_campaigns(
    session: AsyncSession, limit: int = 30
) -> list[tuple[Campaign, Counts]]:
    """The latest campaigns, newest first, with their counts."""
    rows = list(await session.scalars(select(Campaign).order_by(Campaign.id.desc())
                                      .limit(limit)))
    found = await counts(session, [c.id for c in rows])
    return [(c, found[c.id]) for c in rows]


async def find(session: AsyncSession, campaign_id: int) -> Campaign | None:
    """The campaign, or None where a missing one is an answer rather than an error."""
    return await session.get(Campaign, campaign_id)


async def load(
    session: AsyncSession, campaign_id: int
) -> tuple[Campaign, list[CampaignVariant]]:
    campaign = await session.get(Campaign, campaign_id, populate_existing=True)
    if campaign is None:
        raise DomainError(ErrorCode.UNKNOWN_CAMPAIGN, "no such campaign", campaign_id=campaign_id)
    variants = list(await session.scalars(
        select(CampaignVariant).where(CampaignVariant.campaign_id == campaign_id)
        .order_by(CampaignVariant.id)))
    return campaign, variants


async def give_back(session: AsyncSession, code_ids: Sequence[int], now: datetime) -> None:
    """Revoke the unused personal codes of cancelled messages, unless another message
    still carries or delivered them (as the sender does for messages that never went)."""
    if not code_ids:
        return
    other = Delivery.__table__.alias("other")
    await session.execute(
        update(PromoCode)
        .where(PromoCode.id.in_(code_ids), PromoCode.customer_id.is_not(None),
               PromoCode.status == CodeStatus.ACTIVE, PromoCode.used_count == 0,
               ~exists().where(other.c.code_id == PromoCode.id, other.c.status.in_(
                   [DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.SENT])))
        .values(status=CodeStatus.REVOKED, revoked_at=now, revoke_reason="campaign stopped")
        .execution_options(synchronize_session=False)
    )


async def change_status(
    session: AsyncSession, staff: Staff | None, campaign_id: int, action: str, *,
    now: datetime, actor: str | None = None,
) -> Campaign:
    """One conditional UPDATE from an allowed state; queued messages follow; audited
    (without `staff`, the shop API acts and `actor` names its key). Starting or resuming
    only changes the state and asks for a run: the caller runs the campaign
    (`launcher.Launcher`)."""
    sources, target = ACTIONS[action]
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise DomainError(ErrorCode.UNKNOWN_CAMPAIGN, "no such campaign", campaign_id=campaign_id)
    before = campaign.status
    values: dict[str, Any] = {"status": target.value, "updated_at": now}
    if action == "start":
        values["started_at"] = now
    if action in RUN_ACTIONS:
        values["run_requested_at"] = now
    done = await session.execute(
        update(Campaign).where(Campaign.id == campaign_id,
                               Campaign.status.in_([s.value for s in sources]))
        .values(**values).execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        raise DomainError(
            ErrorCode.BAD_TRANSITION,
            f"the campaign is {before}: {action!r} applies to a campaign that is "
            f"{' or '.join(sources)}", status=before, action=action)
    pending = (Delivery.campaign_id == campaign_id) & (Delivery.status ==
                                                       DeliveryStatus.PENDING)
    touched = 0
    if action == "pause":
        touched = (await session.execute(
            update(Delivery).where(pending).values(due_at=HELD_UNTIL)
            .execution_options(synchronize_session=False))).rowcount
    elif action == "resume":
        touched = (await session.execute(
            update(Delivery).where(pending, Delivery.due_at >= HELD_UNTIL).values(due_at=now)
            .execution_options(synchronize_session=False))).rowcount
    elif action == "stop":
        rows = (await session.execute(
            update(Delivery).where(pending)
            .values(status=DeliveryStatus.CANCELLED, error="campaign stopped")
            .returning(Delivery.id, Delivery.code_id, Delivery.customer_id)
            .execution_options(synchronize_session=False))).all()
        touched = len(rows)
        await give_back(session, [c for _d, c, u in rows if c is not None and u is not None],
                        now)
    await audit(session, actor=staff.actor if staff else str(actor),
                action=f"campaign.{action}", entity="campaign",
                entity_id=campaign_id, before={"status": before},
                after={"status": target.value, "messages": touched}, now=now)
    await session.refresh(campaign)
    return campaign


# --- creation --------------------------------------------------------------------------

# Kinds that go to a segment once, and need one (the others wait for events or silence).
SEGMENT_KINDS = (CampaignKind.BROADCAST, CampaignKind.NEW_CATEGORY)

@dataclass
class Draft:
    """What the guided dialog collects; JSON-friendly so it can live in FSM storage."""

    kind: str = CampaignKind.BROADCAST.value
    name: str = ""
    segment: str | None = None
    # Only those who chose this option of a survey: [survey id, option index].
    survey_answer: list[int] | None = None
    offer: dict[str, Any] = field(default_factory=dict)
    # [{"name": "A", "weight": 1, "offer": {...}}]; empty = the campaign's own offer.
    variants: list[dict[str, Any]] = field(default_factory=list)
    holdout_percent: int = 0
    # New recipients move towards the most profitable variant (`optimiser`).
    optimise: bool = False
    schedule: str | None = None
    message_ru: str | None = None
    message_en: str | None = None
    start: bool = False
    # What the kind needs beyond the rest (an action campaign: {"action": name}).
    params: dict[str, Any] = field(default_factory=dict)

    def offers(self) -> list[Offer]:
        """Every offer the campaign can hand out (validated by `Offer`)."""
        found = [Offer.from_json({**self.offer, **v.get("offer", {})}) for v in self.variants
                 if {**self.offer, **v.get("offer", {})}.get("discount_type")]
        if not self.variants and self.offer.get("discount_type"):
            found.append(Offer.from_json(self.offer))
        return found


async def check_answer(session: AsyncSession, answer: list[int]) -> None:
    """Refuse a survey answer filter that names no survey, or an option it does not have."""
    survey_id, option = answer
    survey = await session.get(Survey, survey_id)
    if survey is None or not 0 <= option < len(survey.options):
        raise DomainError(ErrorCode.UNKNOWN_SURVEY, f"survey {survey_id} has no option {option}")


async def create(
    session: AsyncSession, staff: Staff | None, draft: Draft, *,
    guardrail: GuardrailSettings, now: datetime, actor: str | None = None,
) -> Campaign:
    """Insert the campaign and its variants (draft, or active when `draft.start`), after
    checking every offer against the margin guardrail; audited. Without `staff` the shop
    API creates it, and `actor` names its key (`api:<name>`)."""
    if draft.kind not in {k.value for k in CampaignKind}:
        raise DomainError(ErrorCode.INVALID_KIND, "unknown kind", kind=draft.kind)
    if draft.segment is not None:
        get_segment(draft.segment)
    if draft.survey_answer is not None:
        await check_answer(session, draft.survey_answer)
    if not 0 <= draft.holdout_percent < 100:
        raise DomainError(ErrorCode.INVALID_HOLDOUT, "holdout is 0..99 %")
    if draft.optimise and len(draft.variants) < 2:
        raise DomainError(ErrorCode.INVALID_OPTIMISE, "optimising needs two variants or more")
    for offer in draft.offers():
        # Each customer's tier is weighed when the run issues their code.
        await ensure_within_guardrail(session, offer, guardrail=guardrail, now=now)
    status = CampaignStatus.ACTIVE if draft.start else CampaignStatus.DRAFT
    campaign = Campaign(
        name=(draft.name or f"{draft.kind} {now:%Y-%m-%d}")[:200], kind=draft.kind,
        status=status.value, segment=draft.segment, offer=dict(draft.offer),
        params={**draft.params, **({"survey_answer": list(draft.survey_answer)}
                                   if draft.survey_answer else {})},
        holdout_percent=draft.holdout_percent, optimise=draft.optimise, schedule=draft.schedule,
        message_ru=draft.message_ru, message_en=draft.message_en,
        created_by=staff.telegram_id if staff else None,
        started_at=now if draft.start else None,
        created_at=now, updated_at=now,
    )
    session.add(campaign)
    await session.flush()
    for variant in draft.variants:
        session.add(CampaignVariant(campaign_id=campaign.id, name=str(variant["name"])[:64],
                                    weight=int(variant.get("weight", 1)),
                                    offer=dict(variant.get("offer", {}))))
    await audit(session, actor=staff.actor if staff else str(actor), action="campaign.create",
                entity="campaign",
                entity_id=campaign.id, before=None,
                after={"name": campaign.name, "kind": draft.kind, "status": status.value,
                       "segment": draft.segment, "offer": draft.offer,
                       "variants": draft.variants, "holdout_percent": draft.holdout_percent,
                       "optimise": draft.optimise, "schedule": draft.schedule,
                       "params": draft.params}, now=now)
    return campaign


# --- preview ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ArmPreview:
    name: str  # variant name, "" for the campaign's own offer, "holdout"
    customers: int
    offer: Offer | None
    cost: int  # expected discount if every code is used once, minor units
    guardrail: GuardrailCheck | None


@dataclass(frozen=True, slots=True)
class StepPreview:
    """One rung of a comeback ladder: who has been silent long enough for it now."""

    days: int
    offer: Offer
    customers: int
    reachable: int
    only_new: bool


@dataclass(frozen=True, slots=True)
class Preview:
    campaign: Campaign
    segment: str | None
    segment_size: int  # everyone in the segment
    reachable: int  # opted in, linked to Telegram, not blocked
    arms: list[ArmPreview]
    send_time: timedelta  # at the current sending rate
    steps: list[StepPreview] = field(default_factory=list)
    # A "new category" campaign: which categories the reachable customers would get.
    categories: CategoryPreview | None = None

    @property
    def cost(self) -> int:
        return sum(arm.cost for arm in self.arms)


async def preview(
    session: AsyncSession, campaign_id: int, *, settings: Settings, now: datetime
) -> Preview:
    """Who the campaign would reach now (the global holdout left out, as the run leaves
    it), split by variant as the run would split them (the expected shares of
    `experiments.design`, or the optimiser's now), what it may cost against the margin
    guardrail, and how long sending takes at the configured rate."""
    campaign, variants = await load(session, campaign_id)
    size = reachable = 0
    steps: list[tuple[Step, int, int]] = []
    query: Any = None
    if campaign.kind == CampaignKind.COMEBACK and not campaign.segment:
        params = campaign.params or {}
        ladder_steps = comeback.ladder(settings, params)
        max_days = int(params.get("max_silent_days", settings.comeback.max_silent_days))
        for step in ladder_steps:
            query = without_members(
                comeback.entry_query(campaign.id, ladder_steps, step.index, now=now,
                                     tz=settings.shop.zone, max_days=max_days),
                settings.policy.global_holdout)
            counts = await audience_counts(session, query)
            steps.append((step, *counts))
        size, reachable = sum(s[1] for s in steps), sum(s[2] for s in steps)
    elif campaign.segment:
        query = without_members(
            get_segment(campaign.segment).of_campaign(campaign.params or {}, now=now,
                                                      tz=settings.shop.zone),
            settings.policy.global_holdout)
        size, reachable = await audience_counts(session, query)
    split = await optimiser.split_now(session, campaign, variants,
                                      guardrail=settings.guardrail, now=now)
    aov, _source = await average_order_value(session, settings.guardrail, now=now)
    names = {v.id: v.name for v in variants}
    arms = [ArmPreview("holdout", round(reachable * split.holdout_share), None, 0, None)]
    treated = reachable - arms[0].customers
    lower = 0.0
    for arm, bound in zip(split.arms, split.bounds, strict=True):
        share = bound - lower
        lower = bound
        customers = round(treated * share)
        if steps:
            # Each rung gives its own offer; the guardrail is checked on the richest one.
            offers = [(comeback.arm_offer(step, arm), reached) for step, _n, reached in steps]
            offer = max((o for o, _r in offers), key=lambda o: (o.value, o.free_shipping))
            cost = sum(budget.offer_cost(o, aov, settings.guardrail)
                       * round(r * share * (1 - split.holdout_share))
                       for o, r in offers)
        else:
            data = {**(campaign.offer or {}), **arm.offer}
            offer = Offer.from_json(data) if data.get("discount_type") else None
            cost = (budget.offer_cost(offer, aov, settings.guardrail) * customers
                    if offer is not None else 0)
        check = None
        if offer is not None:
            check = await check_discount(session, discount_type=str(offer.discount_type),
                                         value=offer.value, guardrail=settings.guardrail,
                                         now=now, order_value=offer.min_order or None,
                                         free_shipping=offer.free_shipping,
                                         categories=offer.include_categories)
        arms.append(ArmPreview(names.get(arm.variant_id, "") if arm.variant_id else "",
                               customers, offer, cost, check))
    categories = None
    if campaign.kind == CampaignKind.NEW_CATEGORY and query is not None:
        categories = await new_category.preview_categories(
            session, _reachable(query), [arm.offer for arm in arms],
            await headroom(session, settings, now=now))
    rate = max(settings.send.delivery_rate, 0.001)
    return Preview(
        campaign, campaign.segment, size, reachable, arms, timedelta(seconds=reachable / rate),
        [StepPreview(step.days, step.offer, n, reached, step.only_new)
         for step, n, reached in steps], categories,
    )


def _reachable(query: Any) -> Any:
    """The ids of the query a message can reach (opted in, linked to Telegram, not
    blocked)."""
    ids = query.subquery()
    return (select(ids.c.id).join(Customer, Customer.id == ids.c.id)
            .join(TelegramAccount, TelegramAccount.customer_id == Customer.id)
            .where(Customer.marketing_opt_in.is_(True), TelegramAccount.is_blocked.is_(False)))


async def audience_counts(session: AsyncSession, query: Any) -> tuple[int, int]:
    """Everyone the query selects, and those a message can reach."""
    size = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    reachable = await session.scalar(
        select(func.count()).select_from(_reachable(query).subquery())) or 0
    return size, reachable

