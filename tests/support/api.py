"""Helpers for the shop API tests: a thin JSON client and data set-up through the domain."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from bot.db import Database
from bot.db.models import CodeSource, PromoCode
from bot.promo.codes.issuing import issue_code
from bot.promo.codes.offers import Offer
from bot.promo.customers.profiles import upsert_customer

KEY = "test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


class Api:
    """A thin client: JSON in, (status, JSON) out, with the shop's key."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    async def call(
        self, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None,
        data: bytes | str | None = None, key: str | None = KEY,
    ) -> tuple[int, Any, dict[str, str]]:
        sent = {"Authorization": f"Bearer {key}"} if key is not None else {}
        sent.update(headers or {})
        kwargs: dict[str, Any] = {"headers": sent}
        if data is not None:
            kwargs["data"] = data
            sent.setdefault("Content-Type", "application/json")
        elif body is not None:
            kwargs["json"] = body
        async with self.client.request(method, "/api/v1" + path, **kwargs) as response:
            text = await response.text()
            payload = None
            if text:
                payload = await response.json(content_type=None)
            return response.status, payload, dict(response.headers)

    async def put(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any, dict[str, str]]:
        return await self.call("PUT", path, body, **kw)

    async def post(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any, dict[str, str]]:
        return await self.call("POST", path, body, **kw)

    async def get(self, path: str, **kw: Any) -> tuple[int, Any, dict[str, str]]:
        return await self.call("GET", path, **kw)


async def add_customer(db: Database, clock: Any, external_id: str, **fields: Any) -> int:
    async with db.session() as session:
        customer, _ = await upsert_customer(session, external_id, now=clock(), **fields)
        await session.commit()
        return customer.id


async def add_code(
    db: Database, clock: Any, *, customer_id: int | None = None, percent: int = 10,
    usage_limit: int | None = 1, per_customer_limit: int | None = 1, days: int = 30,
    **offer: Any,
) -> PromoCode:
    async with db.session() as session:
        code = await issue_code(
            session, Offer(discount_type="percent", value=percent, **offer),
            source=CodeSource.MANUAL, now=clock(), customer_id=customer_id,
            usage_limit=usage_limit, per_customer_limit=per_customer_limit,
            expires_at=clock() + timedelta(days=days),
        )
        # issue_code stores an explicit None limit as the column default 1 (reported).
        code.usage_limit, code.per_customer_limit = usage_limit, per_customer_limit
        await session.commit()
        return code


async def gather(*calls: Any) -> list[Any]:
    return list(await asyncio.gather(*calls))
