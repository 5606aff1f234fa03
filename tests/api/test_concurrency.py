"""Idempotency and concurrent redemption, through HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from sqlalchemy import func, select

import tests.support.factories as factories
from bot.db import Database
from bot.db.models import IdempotencyRecord, PromoCode, Redemption
from tests.support.api import Api, gather

NO_LIMIT = {"api_failed_validations_per_minute": 100_000}


def redeem_body(code: str, order: str, customer: str = "c1") -> dict[str, Any]:
    return {"code": code, "customer_id": customer, "order_id": order, "order": {"total": 10_000}}


async def redemptions(db: Database) -> int:
    async with db.session() as session:
        return await session.scalar(
            select(func.count()).select_from(Redemption).where(Redemption.released_at.is_(None))
        ) or 0


async def used_count(db: Database, code_id: int) -> int:
    async with db.session() as session:
        return (await session.get(PromoCode, code_id)).used_count


async def until_replayed(api: Api, path: str, body: Any, key: str) -> tuple[int, Any, bool]:
    """The documented client behaviour: on 409 `idempotency_in_progress`, wait and retry."""
    for _attempt in range(200):
        status, answer, headers = await api.post(path, body, headers={"Idempotency-Key": key})
        if status == 409 and answer["error"]["code"] == "idempotency_in_progress":
            assert headers["Retry-After"] == "1"
            await asyncio.sleep(0.02)
            continue
        return status, answer, headers.get("Idempotent-Replayed") == "true"
    raise AssertionError("never replayed")


async def test_idempotency_key_replays_and_refuses_another_body(
    api: Api, db: Database, clock: Any
) -> None:
    await factories.customer(db, "c1", now=clock())
    code = await factories.code(db, now=clock(), usage_limit=None, per_customer_limit=None)
    body = redeem_body(code.code, "o1")
    key = {"Idempotency-Key": "k-1"}
    first = await api.post("/codes/redeem", body, headers=key)
    second = await api.post("/codes/redeem", body, headers=key)
    assert first[0] == second[0] == 200 and first[1] == second[1]
    assert second[2]["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first[2]
    status, answer, _ = await api.post("/codes/redeem", redeem_body(code.code, "o2"), headers=key)
    assert (status, answer["error"]["code"]) == (422, "idempotency_key_reused")
    # Another API key has its own key space.
    status, _, headers = await api.post("/codes/redeem", redeem_body(code.code, "o2"),
                                        headers=key, key="other-key")
    assert status == 200 and "Idempotent-Replayed" not in headers, _
    # An error is a final answer too, and is replayed as such.
    bad = {**body, "customer_id": "ghost"}
    assert (await api.post("/codes/redeem", bad, headers={"Idempotency-Key": "k-2"}))[0] == 404
    status, _, headers = await api.post("/codes/redeem", bad, headers={"Idempotency-Key": "k-2"})
    assert status == 404 and headers["Idempotent-Replayed"] == "true"
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 3


async def test_same_key_twenty_times_at_once_redeems_once(
    make_api: Any, db: Database, clock: Any
) -> None:
    await factories.customer(db, "c1", now=clock())
    code = await factories.code(db, now=clock(), usage_limit=None, per_customer_limit=None)
    body = redeem_body(code.code, "o-same")
    async with make_api(**NO_LIMIT) as api:
        answers = await gather(*(until_replayed(api, "/codes/redeem", body, "same-key")
                                 for _ in range(20)))
    assert {(status, str(answer)) for status, answer, _ in answers} == {(200, str(answers[0][1]))}
    assert sum(not replayed for _, _, replayed in answers) == 1
    assert await redemptions(db) == 1 and await used_count(db, code.id) == 1


async def test_single_use_code_200_concurrent_orders_one_wins(
    make_api: Any, db: Database, clock: Any
) -> None:
    await factories.customer(db, "c1", now=clock())
    code = await factories.code(db, now=clock(), usage_limit=1, per_customer_limit=None)
    async with make_api(**NO_LIMIT) as api:
        answers = await gather(*(api.post("/codes/redeem", redeem_body(code.code, f"o{i}"))
                                 for i in range(200)))
    statuses = Counter(status for status, _, _ in answers)
    assert statuses == {200: 1, 409: 199}
    assert {a["error"]["code"] for s, a, _ in answers if s == 409} == {"used_up"}
    assert await redemptions(db) == 1 and await used_count(db, code.id) == 1


async def test_limit_five_under_100_concurrent(make_api: Any, db: Database, clock: Any) -> None:
    for i in range(10):
        await factories.customer(db, f"c{i}", now=clock())
    code = await factories.code(db, now=clock(), usage_limit=5, per_customer_limit=None)
    async with make_api(**NO_LIMIT) as api:
        answers = await gather(*(
            api.post("/codes/redeem", redeem_body(code.code, f"o{i}", f"c{i % 10}"))
            for i in range(100)
        ))
    assert Counter(status for status, _, _ in answers) == {200: 5, 409: 95}
    assert await redemptions(db) == 5 and await used_count(db, code.id) == 5


async def test_cancel_pushed_five_times_releases_once(
    api: Api, db: Database, clock: Any
) -> None:
    await factories.customer(db, "c1", now=clock())
    code = await factories.code(db, now=clock())
    order = {"customer_id": "c1", "placed_at": "2026-06-01T10:00:00+03:00", "status": "paid",
             "total": 10_000, "currency": "RUB", "promo_code": code.code, "discount": 1_000}
    assert (await api.post("/codes/redeem", redeem_body(code.code, "o1")))[0] == 200
    assert (await api.put("/orders/o1", order))[0] == 201
    assert await used_count(db, code.id) == 1
    answers = await gather(*(api.put("/orders/o1", {**order, "status": "cancelled"})
                             for _ in range(5)))
    assert [status for status, _, _ in answers] == [200] * 5
    assert sum(answer["released_uses"] for _, answer, _ in answers) == 1
    assert await redemptions(db) == 0 and await used_count(db, code.id) == 0


async def test_release_pushed_five_times_releases_once(
    api: Api, db: Database, clock: Any
) -> None:
    await factories.customer(db, "c1", now=clock())
    code = await factories.code(db, now=clock())
    assert (await api.post("/codes/redeem", redeem_body(code.code, "o1")))[0] == 200
    answers = await gather(*(api.post("/codes/release", {"code": code.code, "order_id": "o1"})
                             for _ in range(5)))
    assert sorted(answer["released"] for _, answer, _ in answers) == [0, 0, 0, 0, 1]
    assert await used_count(db, code.id) == 0
