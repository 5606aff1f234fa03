"""`PUT /orders/{order_id}`: idempotent by order id; status changes apply once."""

from __future__ import annotations

from aiohttp import web

from bot.api.body import parse, path_id, reply
from bot.api.context import CLOCK, DATABASE, SETTINGS
from bot.api.schemas import ItemIn, OrderIn, OrderOut
from bot.promo.codes.offers import Item
from bot.promo.shop.orders import upsert_order


def items_of(items: list[ItemIn]) -> list[Item]:
    return [Item(sku=i.sku, price=i.price, quantity=i.quantity, category=i.category)
            for i in items]


async def put_order(request: web.Request) -> web.Response:
    order_id = path_id(request, "order_id")
    body = await parse(request, OrderIn)
    shop = request.app[SETTINGS].shop
    async with request.app[DATABASE].session() as session:
        result = await upsert_order(
            session, order_id, customer=body.customer_id, placed_at=body.placed_at,
            status=body.status, total=body.total, currency=body.currency or shop.currency,
            items=None if body.items is None else items_of(body.items),
            promo_code=body.promo_code, discount=body.discount,
            returned_amount=body.returned_amount, delivered_at=body.delivered_at,
            now=request.app[CLOCK](), shop=shop,
        )
        await session.commit()
    out = OrderOut(
        order_id=result.external_id, customer_id=body.customer_id, status=result.status,
        previous_status=result.previous_status, created=result.created, changed=result.changed,
        released_uses=result.released_uses, revoked_codes=result.revoked_codes,
        orders_count=result.orders_count, net_spend=result.net_spend,
    )
    return reply(out, 201 if result.created else 200)
