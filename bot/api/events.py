"""Events the shop reports: reviews and abandoned carts (rewarded later by jobs)."""

from __future__ import annotations

from aiohttp import web

from bot.api.body import parse, reply
from bot.api.context import CLOCK, DATABASE
from bot.api.lookups import customer_or_404
from bot.api.orders import items_of
from bot.api.schemas import CartIn, CartOut, ReviewIn, ReviewOut
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
