"""`PUT /customers/{customer_id}`: the shop's profile of a customer."""

from __future__ import annotations

from aiohttp import web

from bot.api.body import parse, path_id, reply
from bot.api.context import CLOCK, DATABASE
from bot.api.schemas import CustomerIn, CustomerOut
from bot.promo.customers.profiles import upsert_customer


async def put_customer(request: web.Request) -> web.Response:
    external_id = path_id(request, "customer_id")
    body = await parse(request, CustomerIn)
    async with request.app[DATABASE].session() as session:
        customer, created = await upsert_customer(
            session, external_id, **body.model_dump(), now=request.app[CLOCK]()
        )
        await session.commit()
    out = CustomerOut(
        customer_id=customer.external_id, created=created, name=customer.name,
        phone=customer.phone, email=customer.email, locale=customer.locale,
        timezone=customer.timezone, marketing_opt_in=customer.marketing_opt_in,
        birthday=customer.birthday,
    )
    return reply(out, 201 if created else 200)
