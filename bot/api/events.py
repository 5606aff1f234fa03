"""Events the shop reports: reviews and abandoned carts (rewarded later by jobs), and
actions (rewarded at once)."""

from __future__ import annotations

from aiohttp import web

from bot.api.body import parse, reply
from bot.api.context import CLOCK, DATABASE, SETTINGS
from bot.api.lookups import customer_or_404
from bot.api.orders import items_of
from bot.api.schemas import ActionIn, ActionOut, CartIn, CartOut, ReviewIn, ReviewOut
from bot.promo.campaigns.actions import ActionOutcome, reward_action
from bot.promo.shop.carts import record_abandoned_cart
from bot.promo.shop.reviews import record_review


async def post_review(request: web.Request) -> web.Response:
    body = await parse(request, ReviewIn)
    async with request.app[DATABASE].session() as session:
        customer = await customer_or_404(session, body.customer_id)
        review, created = await record_review(
            session, customer, body.order_id, rating=body.rating, has_photo=body.has_photo,
            now=request.app[CLOCK](),
        )
        await session.commit()
    out = ReviewOut(review_id=review.id, created=created, rating=review.rating,
                    has_photo=review.has_photo)
    return reply(out, 201 if created else 200)


async def post_cart_abandoned(request: web.Request) -> web.Response:
    body = await parse(request, CartIn)
    async with request.app[DATABASE].session() as session:
        customer = await customer_or_404(session, body.customer_id)
        cart, created = await record_abandoned_cart(
            session, customer, body.cart_id, items_of(body.items), now=request.app[CLOCK](),
        )
        await session.commit()
    return reply(CartOut(cart_id=cart.cart_id, created=created, total=cart.total),
                 201 if created else 200)


async def post_action(request: web.Request) -> web.Response:
    body = await parse(request, ActionIn)
    async with request.app[DATABASE].session() as session:
        customer = await customer_or_404(session, body.customer_id)
        result = await reward_action(session, customer, body.action, body.ref,
                                     settings=request.app[SETTINGS], now=request.app[CLOCK]())
        await session.commit()
    code = result.code
    out = ActionOut(outcome=result.outcome.value) if code is None else ActionOut(
        outcome=result.outcome.value, code=code.code, discount_type=code.discount_type,
        value=code.discount_value, free_shipping=code.free_shipping, valid_days=code.valid_days)
    return reply(out, 201 if result.outcome is ActionOutcome.REWARDED else 200)
