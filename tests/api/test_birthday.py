"""`birthday` in `PUT /api/v1/customers/{id}` (issue 17, moments): stored, answered, in the
OpenAPI document; a bad one refused with nothing written; the day it names brings the
birthday code through the moments job."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

import tests.support.factories as factories
import tests.support.shop as shop
from bot.api.openapi import build_document
from bot.db import Database
from bot.db.models import Customer
from bot.promo.campaigns.running import run_kind
from tests.support.api import Api


async def birthday_of(db: Database, external_id: str) -> date | None:
    async with db.read_session() as session:
        return await session.scalar(
            select(Customer.birthday).where(Customer.external_id == external_id))


async def test_the_shop_sends_a_birthday(api: Api, db) -> None:
    status, body, _ = await api.put("/customers/c1", {"name": "Анна", "birthday": "1990-03-12"})
    assert (status, body["birthday"]) == (201, "1990-03-12")
    # Another field later: the birthday stays.
    status, body, _ = await api.put("/customers/c1", {"email": "anna@example.com"})
    assert (status, body["birthday"]) == (200, "1990-03-12")
    assert await birthday_of(db, "c1") == date(1990, 3, 12)
    schema = build_document()["components"]["schemas"]
    assert schema["CustomerIn"]["properties"]["birthday"]["anyOf"][0] == {
        "type": "string", "format": "date"}


@pytest.mark.parametrize(("birthday", "error"), [
    ("12.03.1990", "invalid_body"),
    (19900312, "invalid_body"),
    ("1990-02-30", "invalid_body"),
    ("2090-03-12", "invalid_birthday"),  # not born yet: a typo
    ("1812-03-12", "invalid_birthday"),
])
async def test_a_bad_birthday_is_refused_with_nothing_written(api: Api, db, birthday,
                                                              error) -> None:
    status, body, _ = await api.put("/customers/c1", {"name": "Анна", "birthday": birthday})
    assert (status, body["error"]["code"]) == (422, error), body
    assert "birthday" in body["error"]["message"]
    assert await birthday_of(db, "c1") is None


async def test_the_day_it_names_brings_the_birthday_code(api: Api, db, settings, clock) -> None:
    await factories.linked_customer(db, "c1", now=clock())
    today = clock().date()
    status, _, _ = await api.put("/customers/c1", {"birthday": f"1990-{today:%m-%d}"})
    assert status == 200
    result = await run_kind(shop.context(db, settings, clock()), "moments")
    assert (result.issued, result.queued) == (1, 1)
    (message,) = await shop.deliveries(db, reason="birthday")
    (code,) = await shop.codes(db, source="birthday")
    # 7 %, the default birthday offer, valid 14 days from the message's delivery.
    assert (code.discount_value, code.valid_days, message.code_id) == (7, 14, code.id)
