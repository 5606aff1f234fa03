"""Property-based fuzzing over the OpenAPI document: no input gives a 5xx.

schemathesis generates requests (valid and invalid) from `/api/v1/openapi.json`'s
document and sends them to the real app, served in this process on a thread of its
own (schemathesis' client is synchronous). Bounded: 15 examples per operation.
The server is shared by the examples of one operation, so state builds up across them.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from bot.api.app import create_app
from bot.api.openapi import build_document
from bot.clock import utcnow
from bot.config import Settings
from bot.db import Base, Database, create_database
from bot.promo.customers.profiles import upsert_customer

SCHEMA = schemathesis.openapi.from_dict(build_document())
SCHEMA.config.generation.update(
    modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
)


async def _start(app_settings: Settings) -> tuple[web.AppRunner, int, Database]:
    db = create_database(app_settings.db.url)
    if db.is_sqlite:
        async with db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
    async with db.session() as session:
        await upsert_customer(session, "c1", now=utcnow())
        await session.commit()
    runner = web.AppRunner(create_app(app_settings, db))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, runner.addresses[0][1], db


@pytest.fixture
def base_url(settings: Settings) -> Iterator[str]:
    """The app on a thread of its own, on the test database (one server per operation)."""
    app_settings = settings.replace(api_failed_validations_per_minute=1_000_000)
    loop = asyncio.new_event_loop()
    runner, port, db = loop.run_until_complete(_start(app_settings))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    asyncio.run_coroutine_threadsafe(db.dispose(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


@SCHEMA.parametrize()
@hypothesis_settings(max_examples=15, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_5xx(case: schemathesis.Case, base_url: str) -> None:
    response = case.call(base_url=base_url, headers={"Authorization": "Bearer test-key"},
                         timeout=10)
    assert response.status_code < 500, (case.method, case.path, case.body, response.text)
    body = response.json()
    if response.status_code >= 400:
        assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])
