"""What managers do to codes by hand: issue one to a customer, revoke one, issue a batch.

Each operation is one transaction's worth of writes (never committed here): the checks
(margin guardrail, the manager's monthly budget), the code, its outbox row and the
audit row go in together or not at all. A personal code is queued to its customer with
reason `manual` — promotional, so it counts towards the frequency caps, but exempt from
being held back by them (`cap_exempt_reasons`). A customer the bot cannot reach (no
linked Telegram, blocked, or opted out of promotions) still gets the code; the manager
is told to hand it over another way.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from babel.numbers import get_currency_precision
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db.models import (
    Campaign,
    CampaignVariant,
    CodeSource,
    CodeStatus,
    Customer,
    Delivery,
    DeliveryStatus,
    DiscountType,
    PromoCode,
    TelegramAccount,
)
from bot.delivery.outbox import Reason, enqueue
from bot.promo.codes.generator import normalize
from bot.promo.codes.issuing import ensure_within_guardrail, issue_bulk, issue_code
from bot.promo.codes.offers import Offer
from bot.promo.customers.tiers import customer_tier
from bot.promo.errors import DomainError, ErrorCode
from bot.promo.staff import budget
from bot.promo.staff.managers import Staff, audit

REASON = str(Reason.MANUAL)
MAX_BULK = 100_000
MAX_DAYS = 366
_PERCENT = re.compile(r"^(\d{1,3})\s*%$")
_FREE_SHIPPING = frozenset(
    {"free-shipping", "freeshipping", "free_shipping", "fs", "доставка", "бесплатная-доставка"}
)


# --- parsing what a manager types (pure; ValueError = show the usage) -------------------


def parse_amount(text: str, currency: str) -> int:
    """`1500`, `1 500`, `1500.50`, `1500,50` (major units) → minor units."""
    cleaned = text.strip().replace("\xa0", "").replace(" ", "").replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"not an amount: {text!r}") from None
    minor = value.scaleb(get_currency_precision(currency))
    if not value.is_finite() or value < 0 or minor != minor.to_integral_value():
        raise ValueError(f"not an amount: {text!r}")
    return int(minor)


def parse_reward(text: str, currency: str) -> tuple[DiscountType, int]:
    """`10%` → percent 10; `500` → a fixed 500 (major units); `free-shipping`."""
    token = text.strip().lower()
    if token in _FREE_SHIPPING:
        return DiscountType.FREE_SHIPPING, 0
    percent = _PERCENT.match(token)
    if percent:
        value = int(percent.group(1))
        if not 1 <= value <= 100:
            raise ValueError("a percent is between 1 and 100")
        return DiscountType.PERCENT, value
    amount = parse_amount(token, currency)
    if amount <= 0:
        raise ValueError("a fixed discount is a positive amount")
    return DiscountType.FIXED, amount


def parse_days(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_DAYS:
        raise ValueError(f"days are 1..{MAX_DAYS}")
    return int(text)


def parse_categories(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """`shoes,bags,-sale` → (included, excluded)."""
    include, exclude = [], []
    for part in text.split(","):
        name = part.strip()
        if name.startswith("-") and name[1:].strip():
            exclude.append(name[1:].strip()[:100])
        elif name and not name.startswith("-"):
            include.append(name[:100])
        elif name:
            raise ValueError(f"bad category {part!r}")
    if not include and not exclude:
        raise ValueError("no categories")
    return tuple(include), tuple(exclude)


def build_offer(
    reward: str,
    *,
    currency: str,
    days: str | None = None,
    min_order: str | None = None,
    categories: str | None = None,
) -> Offer:
    """The offer of `/issue <customer> <reward> [days] [min order] [categories]`."""
    kind, value = parse_reward(reward, currency)
    include, exclude = parse_categories(categories) if categories else ((), ())
    return Offer(
        kind,
        value=value,
        currency=currency,
        valid_days=parse_days(days) if days else None,
        min_order=parse_amount(min_order, currency) if min_order else 0,
        include_categories=include,
        exclude_categories=exclude,
    )


def offer_in_words(text: str, *, currency: str, days: str | None = None) -> Offer:
    """The offer a dialog step reads: `<reward> [days] [min order] [categories]`, the
    days defaulting to `days`; ValueError for anything else."""
    parts = text.split()
    if not 1 <= len(parts) <= 4:
        raise ValueError("one to four words")
    return build_offer(parts[0], currency=currency,
                       days=parts[1] if len(parts) > 1 else days,
                       min_order=parts[2] if len(parts) > 2 else None,
                       categories=parts[3] if len(parts) > 3 else None)


def build_gift_offer(sku: str, cost: str, days: str, name: str, *, currency: str) -> Offer:
    """The offer of `/issue <customer> gift <SKU> <cost> <days> <name>`: the item the shop
    adds at no charge, its cost price (major units, what counts against the margin) and
    its name as the shopper reads it."""
    name = " ".join(name.split())
    if not 1 <= len(sku) <= 64 or not 1 <= len(name) <= 100:
        raise ValueError("a gift has a SKU (64 characters at most) and a name (100)")
    return Offer(DiscountType.GIFT, currency=currency, valid_days=parse_days(days),
                 gift_sku=sku, gift_name=name, gift_cost=parse_amount(cost, currency))


def parse_launch(text: str, zone: ZoneInfo) -> datetime:
    """`2027-03-01` (the start of that day) or `2027-03-01T10:00`, in the shop's zone."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"not a date: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def build_early_offer(
    categories: str, launch: str, percent: str | None, *, currency: str, zone: ZoneInfo,
) -> Offer:
    """The offer of `/issue <customer> early <categories> <launch> [percent]`: the
    categories open to the customer before the launch, with a percent off them if given."""
    include, exclude = parse_categories(categories)
    if exclude or not include:
        raise ValueError("early access names the categories it opens")
    value = 0
    if percent is not None:
        kind, value = parse_reward(percent, currency)
        if kind is not DiscountType.PERCENT:
            raise ValueError("early access takes a percent")
    return Offer(DiscountType.EARLY_ACCESS, value=value, currency=currency,
                 include_categories=include, launch_at=parse_launch(launch, zone))


# --- issuing ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Issued:
    code: PromoCode
    delivery_id: int | None
    # Why the code was not queued: "no_telegram", "blocked" or "opted_out"; None = queued.
    not_sent: str | None
    budget: budget.BudgetState
    cost: int


async def _reachability(session: AsyncSession, customer: Customer) -> str | None:
    account = await session.scalar(
        select(TelegramAccount).where(TelegramAccount.customer_id == customer.id)
    )
    if account is None:
        return "no_telegram"
    if account.is_blocked:
        return "blocked"
    if not customer.marketing_opt_in:
        return "opted_out"
    return None


async def issue_to_customer(
    session: AsyncSession,
    staff: Staff,
    customer: Customer,
    offer: Offer,
    *,
    settings: Settings,
    now: datetime,
) -> Issued:
    """Guardrail (with the customer's tier), budget, the bound code, its outbox row and the
    audit row (not committed)."""
    await ensure_within_guardrail(
        session,
        offer,
        guardrail=settings.guardrail,
        now=now,
        tier=customer_tier(customer, settings.loyalty).current,
    )
    state = await budget.ensure_within_budget(session, staff, offer, 1, settings=settings, now=now)
    code = await issue_code(
        session,
        offer,
        source=CodeSource.MANUAL,
        now=now,
        customer_id=customer.id,
        issued_by=staff.telegram_id,
    )
    not_sent = await _reachability(session, customer)
    delivery_id = None
    if not_sent is None:
        delivery = await enqueue(
            session,
            dedupe_key=f"{REASON}:{code.id}",
            customer_id=customer.id,
            reason=REASON,
            payload={"issued_by": staff.telegram_id},
            promotional=True,
            code_id=code.id,
            due_at=now,
        )
        delivery_id = delivery.id if delivery is not None else None
    cost = budget.offer_cost(offer, state.average_order_value, settings.guardrail)
    await audit(
        session,
        actor=staff.actor,
        action="code.issue",
        entity="promo_code",
        entity_id=code.code,
        now=now,
        after={
            "customer_id": customer.id,
            "customer": customer.external_id,
            "offer": offer.to_json(),
            "expires_at": code.expires_at.isoformat() if code.expires_at else None,
            "delivery_id": delivery_id,
            "not_sent": not_sent,
            "cost": cost,
        },
    )
    spent = budget.BudgetState(state.budget, state.spent + cost, state.average_order_value)
    return Issued(code, delivery_id, not_sent, spent, cost)


async def revoke(
    session: AsyncSession,
    staff: Staff,
    code_text: str,
    reason: str | None,
    *,
    now: datetime,
) -> PromoCode:
    """Revoke a code: one conditional UPDATE (active → revoked), and its queued messages
    are cancelled so the shopper is never told about a dead code."""
    code = await session.scalar(select(PromoCode).where(PromoCode.code == normalize(code_text)))
    if code is None:
        raise DomainError(ErrorCode.UNKNOWN_CODE, "no such code", promo_code=code_text)
    why = (reason or "").strip()[:200] or None
    done = await session.execute(
        update(PromoCode)
        .where(PromoCode.id == code.id, PromoCode.status == CodeStatus.ACTIVE)
        .values(
            status=CodeStatus.REVOKED,
            revoked_at=now,
            revoke_reason=why or f"revoked by {staff.actor}",
        )
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        raise DomainError(
            ErrorCode.ALREADY_REVOKED, "the code is revoked already", promo_code=code.code
        )
    cancelled = await session.execute(
        update(Delivery)
        .where(Delivery.code_id == code.id, Delivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.CANCELLED, error="code revoked")
        .execution_options(synchronize_session=False)
    )
    await audit(
        session,
        actor=staff.actor,
        action="code.revoke",
        entity="promo_code",
        entity_id=code.code,
        now=now,
        before={"status": code.status, "used_count": code.used_count},
        after={
            "status": CodeStatus.REVOKED.value,
            "reason": why,
            "cancelled_messages": cancelled.rowcount,
        },
    )
    await session.refresh(code)
    return code


# --- bulk ------------------------------------------------------------------------------


async def campaign_offer(session: AsyncSession, campaign: Campaign) -> Offer:
    """The offer bulk codes of a campaign carry: its own, else its first variant's."""
    data = dict(campaign.offer or {})
    if not data.get("discount_type"):
        variant = await session.scalar(
            select(CampaignVariant)
            .where(CampaignVariant.campaign_id == campaign.id)
            .order_by(CampaignVariant.id)
            .limit(1)
        )
        data = {**data, **(variant.offer if variant else {})}
    if not data.get("discount_type"):
        raise DomainError(ErrorCode.NO_OFFER, "the campaign has no offer", campaign_id=campaign.id)
    return Offer.from_json(data)


@dataclass(frozen=True, slots=True)
class Bulk:
    codes: list[str]
    offer: Offer
    expires_at: datetime
    campaign: Campaign


async def issue_for_campaign(
    session: AsyncSession,
    staff: Staff,
    campaign_id: int,
    count: int,
    *,
    settings: Settings,
    now: datetime,
) -> Bulk:
    """`count` unbound codes of a campaign's offer for e-mail and offline channels."""
    if not 1 <= count <= MAX_BULK:
        raise DomainError(ErrorCode.INVALID_COUNT, "count out of range", maximum=MAX_BULK)
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise DomainError(ErrorCode.UNKNOWN_CAMPAIGN, "no such campaign", campaign_id=campaign_id)
    if campaign.status == "stopped":
        raise DomainError(
            ErrorCode.CAMPAIGN_STOPPED, "the campaign is stopped", campaign_id=campaign_id
        )
    offer = await campaign_offer(session, campaign)
    await ensure_within_guardrail(session, offer, guardrail=settings.guardrail, now=now)
    await budget.ensure_within_budget(session, staff, offer, count, settings=settings, now=now)
    expires_at = now + timedelta(days=offer.valid_days or 30)
    codes = await issue_bulk(
        session,
        offer,
        count,
        now=now,
        campaign_id=campaign.id,
        prefix=campaign.code_prefix,
        issued_by=staff.telegram_id,
        expires_at=expires_at,
    )
    await audit(
        session,
        actor=staff.actor,
        action="code.bulk",
        entity="campaign",
        entity_id=campaign.id,
        now=now,
        after={
            "count": len(codes),
            "offer": offer.to_json(),
            "expires_at": expires_at.isoformat(),
            "first": codes[0],
            "last": codes[-1],
        },
    )
    return Bulk(codes, offer, expires_at, campaign)


def bulk_csv(codes: Sequence[str], lines: Sequence[str], expires_at: datetime) -> bytes:
    """The CSV document: one code a row with its terms (as worded for the shopper) and
    deadline; UTF-8 with a BOM so that spreadsheet programs read Cyrillic right."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["code", "terms", "expires_at"])
    terms = "; ".join(lines)
    stamp = expires_at.isoformat()
    writer.writerows([code, terms, stamp] for code in codes)
    return ("\ufeff" + out.getvalue()).encode("utf-8")
