"""The till in the cabinet: managers check and redeem a shopper's code for the amount they
type; a redeem there is the checkout's own single redemption; nobody else gets in."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import delete, func, select

from bot.api.app import create_app
from bot.db.models import AuditLog, DiscountType, Redemption
from bot.promo.codes.offers import Offer
from tests.support import factories
from tests.support.api import Api
from tests.support.factories import TELEGRAM_BASE
from tests.support.managers import ANALYST, MANAGER, OWNER, add_staff, audit_rows


async def _call(cabinet: Any, init_data: str, path: str, body: Any) -> tuple[int, Any]:
    async with cabinet.post(f"/webapp/api/till/{path}", json=body,
                            headers={"Authorization": f"tma {init_data}"}) as response:
        return response.status, await response.json()


async def _redemptions(db: Any) -> int:
    async with db.read_session() as session:
        return await session.scalar(select(func.count()).select_from(Redemption))


@pytest.fixture
async def shopper_code(db, clock) -> tuple[Any, Any]:
    customer = await factories.linked_customer(db, now=clock())
    code = await factories.code(db, Offer(DiscountType.PERCENT, 10, min_order=200_000),
                                now=clock(), customer_id=customer.id)
    return customer, code


async def test_a_manager_checks_and_redeems_once_however_often_tapped(
    cabinet, signed, db, clock, shopper_code
) -> None:
    customer, code = shopper_code
    await add_staff(db, MANAGER, "manager")
    staff = signed(MANAGER, language="en")
    order = {"code": code.code.lower(), "total": 300_000, "order_id": "till-1"}
    status, check = await _call(cabinet, staff, "check", order)
    assert status == 200 and check["valid"] and check["customer"] == customer.external_id
    assert (check["discount"], check["to_pay"]) == (30_000, 270_000)
    assert check["message"] == "Code applied: ₽300 off your order."
    status, under = await _call(cabinet, staff, "check", {**order, "total": 100_000})
    assert status == 200 and not under["valid"] and under["reason"] == "min_order"
    first = await _call(cabinet, staff, "redeem", order)
    again = await _call(cabinet, staff, "redeem", order)
    assert first[0] == again[0] == 200 and not first[1]["replayed"] and again[1]["replayed"]
    assert first[1]["redemption_id"] == again[1]["redemption_id"]
    assert await _redemptions(db) == 1
    [row] = await audit_rows(db, "till.redeem")
    assert row.actor == f"tg:{MANAGER}" and row.after["order_id"] == "till-1"
    # The first answer's audit row lost (say, the database failed just then): the retried
    # tap writes it.
    async with db.session() as session:
        await session.execute(delete(AuditLog))
        await session.commit()
    assert (await _call(cabinet, staff, "redeem", order))[1]["replayed"]
    assert len(await audit_rows(db, "till.redeem")) == 1
    # Used up: another order is refused, in the staff member's language.
    status, refused = await _call(cabinet, staff, "redeem", {**order, "order_id": "till-2"})
    assert status == 409 and refused["error"]["code"] == "used_up"
    assert await _redemptions(db) == 1


async def test_the_till_makes_the_apis_own_redemption(cabinet, signed, db, clock, settings,
                                                     shopper_code) -> None:
    customer, code = shopper_code
    order = {"code": code.code, "total": 300_000, "order_id": "o-77"}
    status, till = await _call(cabinet, signed(OWNER), "redeem", order)
    assert status == 200
    async with TestClient(TestServer(create_app(settings, db, clock=clock))) as client:
        status, api, _ = await Api(client).post("/codes/redeem", {
            "code": code.code, "customer_id": customer.external_id, "order_id": "o-77",
            "order": {"total": 300_000, "items": []}})
    assert status == 200 and api["replayed"]
    assert api["redemption_id"] == till["redemption_id"]
    assert api["total_discount"] == till["total_discount"] == 30_000
    assert await _redemptions(db) == 1


@pytest.mark.parametrize("who", ["shopper", "analyst", "stranger"])
async def test_only_managers_use_the_till(cabinet, signed, db, clock, shopper_code,
                                         who: str) -> None:
    customer, code = shopper_code
    await add_staff(db, ANALYST, "analyst")
    user = {"shopper": TELEGRAM_BASE + customer.id, "analyst": ANALYST, "stranger": 4242}[who]
    order = {"code": code.code, "total": 300_000, "order_id": "till-1"}
    for path in ("check", "redeem"):
        status, body = await _call(cabinet, signed(user), path, order)
        assert status == 403 and body["error"]["code"] == "forbidden", (path, body)
    assert body["error"]["message"] == (
        "Касса доступна менеджерам магазина: попросите доступ у владельца.")
    assert await _redemptions(db) == 0


async def test_what_the_till_cannot_take(cabinet, signed, db, clock) -> None:
    await factories.code(db, now=clock(), usage_limit=100)  # a code for anyone
    anyone = (await factories.code(db, now=clock(), usage_limit=100)).code
    owner = signed(OWNER, language="en")
    status, body = await _call(cabinet, owner, "check",
                               {"code": "NO-SUCH-CODE", "total": 1000, "order_id": "t"})
    assert status == 404
    assert body["error"]["message"] == "There is no such code. Check it for typos."
    status, body = await _call(cabinet, owner, "redeem",
                               {"code": anyone, "total": 1000, "order_id": "t"})
    assert status == 409 and body["error"]["code"] == "not_personal"
    for bad in ({"code": anyone, "total": 0, "order_id": "t"},
                {"code": anyone, "total": "100", "order_id": "t"},
                {"code": anyone, "total": 100}):
        status, body = await _call(cabinet, owner, "check", bad)
        assert status == 422 and body["error"]["code"] == "invalid_body", bad
    async with cabinet.post("/webapp/api/till/check", data="{broken",
                            headers={"Authorization": f"tma {owner}"}) as response:
        assert response.status == 400
    assert await _redemptions(db) == 0
