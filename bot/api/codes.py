"""Checkout's calls: validate, redeem and release a code; issue a code for any channel."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.api.body import parse, reply
from bot.api.context import CLOCK, DATABASE, SETTINGS, SHOP_TERMS
from bot.api.errors import ApiError
from bot.api.lookups import customer_or_404, locale_for, unknown_customer, zone_for
from bot.api.orders import items_of
from bot.api.ratelimit import note_failure
from bot.api.schemas import (
    BasketIn,
    CodeOut,
    EarlyAccessOut,
    GiftOut,
    IssueIn,
    LineOut,
    RedeemIn,
    RedeemOut,
    ReleaseIn,
    ReleaseOut,
    ValidateIn,
    ValidateOut,
)
from bot.db.models import CodeSource, DiscountType, PromoCode
from bot.promo.campaigns import budget
from bot.promo.checkout.lookup import Shopper, validate_for
from bot.promo.checkout.redemption import redeem
from bot.promo.checkout.release import release_code
from bot.promo.checkout.validation import Reason, Verdict
from bot.promo.codes.issuing import ensure_within_guardrail, issue_code
from bot.promo.codes.offers import Basket, Offer, covers
from bot.promo.customers.tiers import customer_tier
from bot.texts.wording import describe, verdict_message


def basket_of(order: BasketIn) -> Basket:
    return Basket(total=order.total, items=tuple(items_of(order.items)))


def _message(request: web.Request, shopper: Shopper, verdict: Verdict) -> str:
    return verdict_message(
        verdict, locale_for(request, shopper), zone_for(request, shopper),
        request.app[SETTINGS].shop.currency,
    )


def _order_discount(basket: Basket, verdict: Verdict) -> dict[str, Any]:
    """The order's figures every checkout answer carries; free shipping is the order's,
    whichever of the tier and the code gives it. Gift items follow the lines sent, as
    lines of their own at price 0; lines that early access opens say so."""
    order = verdict.order
    opened = order.opened if order else ()
    lines = [LineOut(sku=item.sku, discount=share,
                     early_access=True if any(covers(o, item) for o in opened) else None)
             for item, share in zip(basket.items, verdict.lines, strict=True)]
    lines += [LineOut(sku=gift.gift_sku, discount=0, gift=True, name=gift.gift_name, price=0,
                      quantity=1) for gift in (order.gifts if order else ())]
    early = None
    if opened and (launch := opened[-1].launch_at) is not None:
        early = EarlyAccessOut(until=launch, categories=list(opened[-1].include_categories),
                               skus=list(opened[-1].include_skus))
    return {
        "discount": verdict.discount,
        "free_shipping": order.free_shipping if order else verdict.free_shipping,
        "tier_discount": verdict.tier_discount, "total_discount": verdict.total_discount,
        "lines": lines, "early_access": early,
    }


async def post_validate(request: web.Request) -> web.Response:
    body = await parse(request, ValidateIn)
    basket = basket_of(body.order)
    shopper, verdict = await request.app[DATABASE].hot.read(
        validate_for, body.customer_id, body.code, basket, request.app[SHOP_TERMS],
        request.app[CLOCK](), body.order_id,
    )
    if shopper is None or verdict is None:
        # No code was looked at: nothing was guessed (`bot.api.ratelimit`).
        raise unknown_customer(body.customer_id)
    if not verdict.valid:
        note_failure(request, verdict.reason)
    return reply(ValidateOut(valid=verdict.valid, reason=str(verdict.reason),
                             message=_message(request, shopper, verdict),
                             **_order_discount(basket, verdict)))


async def post_redeem(request: web.Request) -> web.Response:
    body = await parse(request, RedeemIn)
    db, shop = request.app[DATABASE], request.app[SHOP_TERMS]
    basket, now = basket_of(body.order), request.app[CLOCK]()
    terms = await shop.current(db.hot, now)
    redeemed = await redeem(
        db.hot, body.code, external_id=body.customer_id, order_external_id=body.order_id,
        basket=basket, now=now, terms=terms, shop=shop,
    )
    if redeemed is None:
        raise unknown_customer(body.customer_id)
    shopper, outcome = redeemed
    message = _message(request, shopper, outcome.verdict)
    if not outcome.ok:
        reason = outcome.verdict.reason
        note_failure(request, reason)
        raise ApiError(404 if reason is Reason.UNKNOWN else 409, str(reason), message)
    assert outcome.redemption_id is not None
    return reply(RedeemOut(redemption_id=outcome.redemption_id, message=message,
                           replayed=outcome.replayed, **_order_discount(basket, outcome.verdict)))


async def post_release(request: web.Request) -> web.Response:
    body = await parse(request, ReleaseIn)
    released = await request.app[DATABASE].hot.write(
        release_code, body.code, body.order_id, request.app[CLOCK]())
    if released is None:
        raise ApiError(404, "unknown", f"no code {body.code!r}")
    return reply(ReleaseOut(released=released))


def code_out(code: PromoCode, customer_id: str | None, locale: str, tz: ZoneInfo) -> CodeOut:
    uses_left = None if code.usage_limit is None else max(code.usage_limit - code.used_count, 0)
    return CodeOut(
        code=code.code, customer_id=customer_id, channel=code.channel,
        discount_type=code.discount_type, value=code.discount_value,
        free_shipping=code.free_shipping, combinable=code.combinable, min_order=code.min_order,
        expires_at=code.expires_at,
        valid_days=code.valid_days, usage_limit=code.usage_limit, uses_left=uses_left,
        gift=GiftOut(sku=code.gift_sku, name=code.gift_name or "", cost=code.gift_cost)
        if code.gift_sku else None,
        launch_at=code.launch_at, description=describe(code, locale, tz),
    )


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(422, "invalid_offer", f"{field}: {message}", fields=[field])


def _check_reward(body: IssueIn, now: datetime) -> None:
    """What a gift or early access needs, named by field (the offer's own check below
    names none)."""
    if (body.discount_type == DiscountType.GIFT) != (body.gift is not None):
        raise _invalid("gift", "a gift code needs `gift` {sku, name, cost}, and only it has one")
    early = body.discount_type == DiscountType.EARLY_ACCESS
    if early != (body.launch_at is not None):
        raise _invalid("launch_at", "an early_access code needs `launch_at`, and only it has one")
    if early:
        assert body.launch_at is not None
        if body.launch_at <= now:
            raise _invalid("launch_at", "the launch is already past: the goods are open to all")
        if not (body.include_categories or body.include_skus):
            raise _invalid("include_categories",
                           "early access opens goods: name include_categories or include_skus")


def offer_of(body: IssueIn, currency: str, now: datetime) -> Offer:
    _check_reward(body, now)
    gift = body.gift
    try:
        return Offer(
            discount_type=body.discount_type, value=body.value, free_shipping=body.free_shipping,
            min_order=body.min_order, max_discount=body.max_discount,
            include_categories=tuple(body.include_categories),
            exclude_categories=tuple(body.exclude_categories),
            include_skus=tuple(body.include_skus), exclude_skus=tuple(body.exclude_skus),
            valid_days=body.valid_days, currency=currency,
            gift_sku=gift.sku if gift else None, gift_name=gift.name if gift else None,
            gift_cost=gift.cost if gift else 0,
            launch_at=body.launch_at.astimezone(UTC) if body.launch_at else None,
        )
    except ValueError as error:
        raise ApiError(422, "invalid_offer", f"value: {error}", fields=["value"]) from None


async def post_code(request: web.Request) -> web.Response:
    body = await parse(request, IssueIn)
    settings, now = request.app[SETTINGS], request.app[CLOCK]()
    offer = offer_of(body, settings.shop.currency, now)
    async with request.app[DATABASE].session() as session:
        customer = tier = None
        if body.customer_id is not None:
            customer = await customer_or_404(session, body.customer_id)
            # A personal code adds to (or competes with) the customer's tier.
            tier = customer_tier(customer, settings.loyalty).current
        await ensure_within_guardrail(
            session, offer, guardrail=settings.guardrail, now=now, tier=tier
        )
        if body.campaign_id is not None:
            await budget.read(session, body.campaign_id)  # an unknown one is refused
        code = await issue_code(
            session, offer, source=CodeSource.API, now=now,
            customer_id=customer.id if customer else None, channel=body.channel,
            prefix=body.prefix, length=settings.shop.code_length, usage_limit=body.usage_limit,
            per_customer_limit=body.per_customer_limit, expires_at=body.expires_at,
            combinable=body.combinable, campaign_id=body.campaign_id,
        )
        # issue_code's ORM insert turns an explicit None ("unlimited") into the column
        # default 1; set the limits again so that the commit writes what was asked.
        code.usage_limit, code.per_customer_limit = body.usage_limit, body.per_customer_limit
        await session.commit()
    out = code_out(code, body.customer_id, locale_for(request, customer),
                   zone_for(request, customer))
    return reply(out, 201)
