"""Helpers for the shop API tests: a thin JSON client with the shop's key."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient

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


async def gather(*calls: Any) -> list[Any]:
    return list(await asyncio.gather(*calls))
