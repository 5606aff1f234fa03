"""`POST /api/v1/events/action` (issue 17): an action the shop reports is paid at once
with its offer, once per (customer, action, ref) however often it is reported or retried,
at most the monthly cap; the code goes out through the outbox; bad input is refused with
nothing written."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

import tests.support.factories as factories
from bot.db import Database
from bot.db.models import ActionReward, Delivery, PromoCode
from tests.support.api import Api

INSTALL = {"customer_id": "c-1", "action": "app_install", "ref": "device-1"}


async def count(db: Database, model: Any) -> int:
    async with db.read_session() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def test_an_app_install_is_paid_once(api: Api, db, clock) -> None:
    customer = await factories.customer(db, "c-1", now=clock(), marketing_opt_in=False)
    status, body, _ = await api.post("/events/action", INSTALL)
    assert status == 201, body
    # The default offer: 5 %, 30 days from the message's delivery; earned, so it reaches
    # a customer who declined promotions too.
    assert (body["outcome"], body["discount_type"], body["value"], body["valid_days"]) == (
        "rewarded", "percent", 5, 30)
    async with db.read_session() as session:
        (code,) = (await session.scalars(select(PromoCode))).all()
        (delivery,) = (await session.scalars(select(Delivery))).all()
    assert (code.code, code.customer_id, code.source) == (body["code"], customer.id, "action")
    assert (delivery.reason, delivery.code_id, delivery.promotional) == (
        "action_reward", code.id, False)
    # Reported again, or retried at once from two places: the same code, nothing more.
    again = await asyncio.gather(*(api.post("/events/action", INSTALL) for _ in range(3)))
    assert {(s, b["outcome"], b["code"]) for s, b, _ in again} == {(200, "already", code.code)}
    assert await count(db, PromoCode) == 1 and await count(db, Delivery) == 1


async def test_the_monthly_cap_and_a_new_month(api: Api, db, clock, make_api) -> None:
    await factories.customer(db, "c-1", now=clock())
    async with make_api(action_reward_monthly_cap=2) as capped:
        answers = [await capped.post("/events/action", {**INSTALL, "ref": f"d{i}"})
                   for i in range(3)]
        assert [b["outcome"] for _s, b, _h in answers] == ["rewarded", "rewarded", "capped"]
        assert answers[2][1]["code"] is None and await count(db, ActionReward) == 2
        clock.advance(days=31)
        status, body, _ = await capped.post("/events/action", {**INSTALL, "ref": "d2"})
    assert (status, body["outcome"]) == (201, "rewarded")


async def test_shop_defined_actions_and_their_offers(api: Api, db, clock, make_api) -> None:
    await factories.customer(db, "c-1", now=clock())
    async with make_api(action_rewards="app_install:5,newsletter:3+fs") as shop:
        status, body, _ = await shop.post("/events/action", {"customer_id": "c-1",
                                                             "action": "newsletter"})
    assert status == 201 and (body["value"], body["free_shipping"]) == (3, True)


@pytest.mark.parametrize(("payload", "status", "error"), [
    ({**INSTALL, "action": "newsletter"}, 422, "unknown_action"),
    ({**INSTALL, "customer_id": "nobody"}, 404, "unknown_customer"),
    ({**INSTALL, "action": "App Install"}, 422, None),
    ({**INSTALL, "ref": "x" * 200}, 422, None),
    ({"customer_id": "c-1"}, 422, None),
])
async def test_bad_reports_are_refused_with_nothing_written(api: Api, db, clock, payload,
                                                            status, error) -> None:
    await factories.customer(db, "c-1", now=clock())
    got, body, _ = await api.post("/events/action", payload)
    assert got == status, body
    if error is not None:
        assert body["error"]["code"] == error
    assert await count(db, PromoCode) == 0 and await count(db, ActionReward) == 0


async def test_no_room_under_the_guardrail_pays_nothing(api: Api, db, clock, make_api) -> None:
    await factories.customer(db, "c-1", now=clock())
    async with make_api(action_rewards="app_install:40") as greedy:
        status, body, _ = await greedy.post("/events/action", INSTALL)
    assert (status, body["outcome"], body["code"]) == (200, "no_room", None)
    assert await count(db, PromoCode) == 0
