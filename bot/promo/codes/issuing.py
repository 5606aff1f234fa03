"""Issuing codes: one for a customer, or many for a channel, within the margin guardrail
(a personal code weighed with its customer's tier)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import String, column, delete, insert, literal, select, table, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import GuardrailSettings, LoyaltySettings, Settings
from bot.db.bulk import insert_rows
from bot.db.dialect import is_postgresql
from bot.db.models import CodeSource, CodeStatus, PromoCode
from bot.promo.codes import generator as codegen
from bot.promo.codes.guardrail import (
    REFUSED_TIER,
    GuardrailCheck,
    Share,
    Stacking,
    average_order_value,
    check_discount,
    judge,
)
from bot.promo.codes.offers import Offer
from bot.promo.customers.tiers import Tier, customer_tier
from bot.promo.errors import DomainError, ErrorCode

DEFAULT_VALID_DAYS = 30
BULK_CHUNK = 5_000

codes_table = PromoCode.__table__


async def ensure_within_guardrail(
    session: AsyncSession,
    offer: Offer,
    *,
    guardrail: GuardrailSettings,
    now: datetime,
    tier: Tier | None = None,
) -> None:
    """Refuse an offer above the margin ceiling, with the numbers for the message. A
    personal code passes its customer's `tier` (`customer_tier(...).current`): the
    stacking policy then weighs the two together (`guardrail.judge`)."""
    check = await check_discount(
        session,
        discount_type=offer.discount_type,
        value=offer.value,
        guardrail=guardrail,
        now=now,
        order_value=offer.min_order or None,
        free_shipping=offer.free_shipping,
        tier=tier,
        gift_cost=offer.gift_cost,
        categories=offer.include_categories,
    )
    if not check.allowed:
        raise refusal(check)


def refusal(check: GuardrailCheck) -> DomainError:
    """The guardrail's refusal: the English detail (the API, logs, run results) and every
    number the reader's text shows (`bot.texts.errors`)."""
    return DomainError(
        ErrorCode.GUARDRAIL,
        _detail(check),
        refusal=check.refusal,
        stacking=check.stacking,
        requested_percent=check.requested_percent,
        ceiling_percent=check.ceiling_percent,
        net_profit=check.net_profit,
        average_order_value=check.average_order_value,
        safety_share=check.safety_share,
        code_share=check.code,
        tier_share=check.tier,
    )


def _pct(value: Decimal) -> str:
    return f"{value.normalize():f}%"


def _side(share: Share) -> str:
    if share.gift:
        return f"gift {_pct(share.gift)}"
    if not share.shipping:
        return _pct(share.percent)
    return f"{_pct(share.percent)} + free shipping {_pct(share.shipping)} = {_pct(share.total)}"


def _detail(check: GuardrailCheck) -> str:
    code, tier = check.code or Share(check.requested_percent), check.tier
    if check.refusal == REFUSED_TIER and tier is not None:
        return (
            f"the customer's tier already gives {_side(tier)} >= code {_side(code)}: "
            "without stacking the order takes the larger, so the code would never apply"
        )
    ceiling = _pct(check.ceiling_percent)
    if tier is None or check.stacking != Stacking.ADDITIVE:
        return f"discount {_pct(check.requested_percent)} is above the ceiling {ceiling}"
    terms = [f"tier {_pct(tier.percent)}"] if tier.percent else []
    terms += [f"code {_pct(code.percent)}"] if code.percent else []
    if shipping := max(tier.shipping, code.shipping):
        terms.append(f"free shipping {_pct(shipping)}")
    terms += [f"gift {_pct(code.gift)}"] if code.gift else []
    return f"{' + '.join(terms)} = {_pct(check.requested_percent)} > ceiling {ceiling}"


@dataclass(slots=True)
class Headroom:
    """The guardrail over a run's customers: the average order measured once, then each
    (offer, tier) judged once and remembered, so that a customer costs a lookup, not a
    query. A customer's tier comes from the `net_spend` and `orders_count` loaded with
    their row."""

    guardrail: GuardrailSettings
    loyalty: LoyaltySettings
    average: int
    source: str
    _seen: dict[tuple[Any, ...], bool] = field(default_factory=dict)

    def check(self, offer: Offer, tier: Tier | None = None) -> GuardrailCheck:
        return judge(
            self.guardrail,
            self.average,
            self.source,
            discount_type=offer.discount_type,
            value=offer.value,
            order_value=offer.min_order or None,
            free_shipping=offer.free_shipping,
            tier=tier,
            gift_cost=offer.gift_cost,
            categories=offer.include_categories,
        )

    def allows(self, offer: Offer, customer: Any) -> bool:
        """Whether a personal code of `offer` for this customer passes the guardrail."""
        tier = customer_tier(customer, self.loyalty).current
        key = (offer.discount_type, offer.value, offer.free_shipping, offer.min_order,
               offer.gift_cost, tier, offer.include_categories)
        fits = self._seen.get(key)
        if fits is None:
            fits = self._seen[key] = self.check(offer, tier).allowed
        return fits


async def headroom(session: AsyncSession, settings: Settings, *, now: datetime) -> Headroom:
    average, source = await average_order_value(session, settings.guardrail, now=now)
    return Headroom(settings.guardrail, settings.loyalty, average, source)


def _deadline(
    offer: Offer, *, now: datetime, expires_at: datetime | None, expires_on_delivery: bool
) -> tuple[datetime | None, int | None]:
    """Every code has a deadline: a date, or a lifetime counted from delivery. Early
    access ends at the launch at the latest (after it the goods are everyone's, so the
    code is expired then, not an ordinary one), and its deadline is a date from the
    start, since the launch does not wait for delivery."""
    if offer.launch_at is not None:
        if offer.launch_at <= now:
            raise DomainError(ErrorCode.INVALID_EXPIRY, "the launch is already past")
        own = expires_at or (now + timedelta(days=offer.valid_days) if offer.valid_days else None)
        if own is not None and own <= now:
            raise DomainError(ErrorCode.INVALID_EXPIRY, "the expiry date is in the past")
        return min(own or offer.launch_at, offer.launch_at), offer.valid_days
    if expires_at is not None:
        if expires_at <= now:
            raise DomainError(ErrorCode.INVALID_EXPIRY, "the expiry date is in the past")
        return expires_at, offer.valid_days
    days = offer.valid_days or DEFAULT_VALID_DAYS
    if expires_on_delivery:
        return None, days
    return now + timedelta(days=days), days


def _columns(
    offer: Offer,
    *,
    source: CodeSource | str,
    customer_id: int | None,
    channel: str,
    campaign_id: int | None,
    variant_id: int | None,
    usage_limit: int | None,
    per_customer_limit: int | None,
    starts_at: datetime | None,
    expires_at: datetime | None,
    expires_on_delivery: bool,
    earned_by_order_id: int | None,
    issued_by: int | None,
    now: datetime,
) -> dict[str, Any]:
    if usage_limit is not None and usage_limit < 1:
        raise DomainError(ErrorCode.INVALID_LIMIT, "a usage limit is at least 1")
    if per_customer_limit is not None and per_customer_limit < 1:
        raise DomainError(ErrorCode.INVALID_LIMIT, "a per-customer limit is at least 1")
    deadline, valid_days = _deadline(
        offer, now=now, expires_at=expires_at, expires_on_delivery=expires_on_delivery
    )
    columns = offer.code_columns()
    columns.update(
        source=str(source),
        channel=channel,
        status=str(CodeStatus.ACTIVE),
        customer_id=customer_id,
        campaign_id=campaign_id,
        variant_id=variant_id,
        usage_limit=usage_limit,
        per_customer_limit=per_customer_limit,
        starts_at=starts_at,
        expires_at=deadline,
        valid_days=valid_days,
        used_count=0,
        earned_by_order_id=earned_by_order_id,
        issued_by=issued_by,
        created_at=now,
    )
    return columns


async def issue_code(
    session: AsyncSession,
    offer: Offer,
    *,
    source: CodeSource | str,
    now: datetime,
    customer_id: int | None = None,
    channel: str = "telegram",
    campaign_id: int | None = None,
    variant_id: int | None = None,
    prefix: str | None = None,
    length: int = codegen.DEFAULT_LENGTH,
    usage_limit: int | None = 1,
    per_customer_limit: int | None = 1,
    starts_at: datetime | None = None,
    expires_at: datetime | None = None,
    expires_on_delivery: bool = False,
    earned_by_order_id: int | None = None,
    issued_by: int | None = None,
    combinable: bool = False,
) -> PromoCode:
    """Create one code (not committed). A personal code is bound to `customer_id`.

    With `expires_on_delivery` the lifetime starts when the sender delivers the message.
    A `combinable` code may share an order with other combinable codes under additive
    stacking (`bot.promo.checkout.order_discount`).
    """
    columns = _columns(
        offer,
        source=source,
        customer_id=customer_id,
        channel=channel,
        campaign_id=campaign_id,
        variant_id=variant_id,
        usage_limit=usage_limit,
        per_customer_limit=per_customer_limit,
        starts_at=starts_at,
        expires_at=expires_at,
        expires_on_delivery=expires_on_delivery,
        earned_by_order_id=earned_by_order_id,
        issued_by=issued_by,
        now=now,
    )
    columns["combinable"] = combinable
    for _attempt in range(5):
        code = PromoCode(code=codegen.generate(length, prefix), **columns)
        try:
            async with session.begin_nested():
                session.add(code)
        except IntegrityError:
            continue  # a collision in a space of 10^14: draw again
        return code
    raise DomainError(ErrorCode.CODE_SPACE_EXHAUSTED, "could not draw a unique code")


async def issue_personal(
    session: AsyncSession,
    offer: Offer,
    customers: Sequence[int],
    *,
    source: CodeSource | str,
    now: datetime,
    campaign_id: int | None = None,
    variant_id: int | None = None,
    prefix: str | None = None,
    length: int = codegen.DEFAULT_LENGTH,
    expires_on_delivery: bool = False,
) -> dict[int, int]:
    """A single-use personal code of `offer` for each customer (a campaign's batch), in
    one INSERT whatever their number (not committed); the code's id by customer.

    A drawn code that exists already (odds ~ codes² / 10^14) is skipped by the insert
    and drawn again for its customer alone."""
    shared = _columns(
        offer, source=source, customer_id=None, channel="telegram", campaign_id=campaign_id,
        variant_id=variant_id, usage_limit=1, per_customer_limit=1, starts_at=None,
        expires_at=None, expires_on_delivery=expires_on_delivery, earned_by_order_id=None,
        issued_by=None, now=now,
    )
    del shared["customer_id"]
    shared["combinable"] = False
    issued: dict[int, int] = {}
    todo = list(dict.fromkeys(customers))  # one code each, however often listed
    for _attempt in range(5):
        if not todo:
            return issued
        rows = [{"code": code, "customer_id": customer}
                for code, customer in zip(codegen.generate_many(len(todo), length, prefix),
                                          todo, strict=True)]
        inserted = await insert_rows(session, codes_table, rows, skip_conflicts=("code",),
                                     returning=(codes_table.c.customer_id, codes_table.c.id),
                                     **shared)
        issued.update((customer, code_id) for customer, code_id in inserted)
        todo = [customer for customer in todo if customer not in issued]
    if todo:
        raise DomainError(ErrorCode.CODE_SPACE_EXHAUSTED, "could not draw unique codes")
    return issued


async def issue_bulk(
    session: AsyncSession,
    offer: Offer,
    count: int,
    *,
    source: CodeSource | str = CodeSource.BULK,
    now: datetime,
    channel: str = "email",
    campaign_id: int | None = None,
    prefix: str | None = None,
    length: int = codegen.DEFAULT_LENGTH,
    usage_limit: int | None = 1,
    per_customer_limit: int | None = 1,
    expires_at: datetime | None = None,
    issued_by: int | None = None,
) -> list[str]:
    """`count` unbound codes in chunked multi-row inserts (not committed); returns them."""
    columns = _columns(
        offer,
        source=source,
        customer_id=None,
        channel=channel,
        campaign_id=campaign_id,
        variant_id=None,
        usage_limit=usage_limit,
        per_customer_limit=per_customer_limit,
        starts_at=None,
        expires_at=expires_at,
        expires_on_delivery=False,
        earned_by_order_id=None,
        issued_by=issued_by,
        now=now,
    )
    try:
        drawn = codegen.generate_many(count, length, prefix)
    except codegen.CodeSpaceTooSmall as exc:
        raise DomainError(
            ErrorCode.CODE_SPACE_EXHAUSTED, str(exc), count=count, length=length
        ) from exc
    await _insert_staged(session, drawn, columns, length=length, prefix=prefix)
    return drawn


async def _stage(session: AsyncSession, staged: Any, values: list[str]) -> None:
    if is_postgresql(session):
        # COPY is PostgreSQL's bulk path, an order of magnitude above executemany.
        raw = await (await session.connection()).get_raw_connection()
        await raw.driver_connection.copy_records_to_table(
            "bulk_codes", records=[(c,) for c in values], columns=["code"]
        )
        return
    for start in range(0, len(values), BULK_CHUNK):
        await session.execute(
            insert(staged), [{"code": c} for c in values[start : start + BULK_CHUNK]]
        )


async def _insert_staged(
    session: AsyncSession,
    drawn: list[str],
    columns: dict[str, Any],
    *,
    length: int,
    prefix: str | None,
) -> None:
    """Stage the code strings in a one-column temporary table, redraw any that exist
    already, then copy them with one INSERT … SELECT whose constant columns are bound
    once. Per-row work is one string instead of twenty-odd typed and JSON parameters,
    which is what makes a million codes take seconds."""
    await session.execute(
        text("CREATE TEMPORARY TABLE IF NOT EXISTS bulk_codes (code VARCHAR(40))")
    )
    await session.execute(text("DELETE FROM bulk_codes"))
    staged = table("bulk_codes", column("code", String))
    await _stage(session, staged, drawn)
    for _attempt in range(5):
        taken = set(
            (
                await session.scalars(
                    select(staged.c.code).join(codes_table, codes_table.c.code == staged.c.code)
                )
            ).all()
        )
        if not taken:
            break
        # Odds ~ codes² / 10^14: redraw the few that exist already.
        await session.execute(delete(staged).where(staged.c.code.in_(taken)))
        fresh = codegen.generate_many(len(taken), length, prefix)
        await _stage(session, staged, fresh)
        drawn[:] = [c for c in drawn if c not in taken] + fresh
    else:
        raise DomainError(ErrorCode.CODE_SPACE_EXHAUSTED, "could not draw unique codes")
    names = [name for name in columns if name != "code"]
    constants = [literal(columns[name], codes_table.c[name].type).label(name) for name in names]
    await session.execute(
        insert(codes_table).from_select(
            ["code", *names], select(staged.c.code, *constants).order_by(staged.c.code)
        )
    )
    await session.execute(text("DELETE FROM bulk_codes"))
