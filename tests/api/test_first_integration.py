"""A shop's first integration, written from the OpenAPI document alone: the document
shows an example of every request and answer, and the defaults it states hold (the
order's currency is the shop's, a new customer has not agreed to promotions)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import select

from bot.api import campaign_schemas, schemas
from bot.api.openapi import build_document
from bot.db import Database
from bot.db.models import Order
from tests.support.api import Api

DOCUMENT = build_document()
OPERATIONS = [
    (f"{method.upper()} {path}", operation)
    for path, methods in DOCUMENT["paths"].items() for method, operation in methods.items()
]


def _model(ref: str) -> type[BaseModel]:
    name = ref.rsplit("/", 1)[-1]
    return getattr(schemas, name, None) or getattr(campaign_schemas, name)


def _examples(content: dict[str, Any]) -> list[Any]:
    """The examples a reader of the document sees for a body: the media type's own, or
    those of the schema it refers to."""
    media = content["application/json"]
    if "example" in media:
        return [media["example"]]
    ref = media["schema"].get("$ref")
    if ref is None:
        return media["schema"].get("examples", [])
    return DOCUMENT["components"]["schemas"][ref.rsplit("/", 1)[-1]].get("examples", [])


@pytest.mark.parametrize(("name", "operation"), OPERATIONS, ids=[n for n, _ in OPERATIONS])
def test_every_operation_shows_a_request_and_an_answer(name: str, operation: dict) -> None:
    """Each operation's request (body, path parameters) and each answer it documents has
    an example, and every example is one the server accepts or could send."""
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            assert parameter.get("example"), f"{name}: no example of {parameter['name']}"
    if "requestBody" in operation:
        content = operation["requestBody"]["content"]
        bodies = _examples(content)
        assert bodies, f"{name}: no request example"
        model = _model(content["application/json"]["schema"]["$ref"])
        for body in bodies:  # as JSON on the wire: strict, dates as text
            model.model_validate_json(json.dumps(body))
    for status, response in operation["responses"].items():
        answers = _examples(response["content"])
        assert answers, f"{name}: no example of its {status} answer"
        ref = response["content"]["application/json"]["schema"].get("$ref")
        for answer in answers if ref else ():
            _model(ref).model_validate(answer)


async def test_an_order_without_currency_is_in_the_shops(make_api, db: Database) -> None:
    async with make_api(currency="EUR", tiers="50:3,200:5") as api:
        await api.put("/customers/c1", {})
        status, body, _ = await api.put("/orders/o1", {
            "customer_id": "c1", "placed_at": "2026-05-30T10:00:00+02:00", "status": "paid",
            "total": 12_000,
        })
        assert (status, body["net_spend"]) == (201, 12_000)
        status, body, _ = await api.put("/orders/o2", {
            "customer_id": "c1", "placed_at": "2026-05-30T10:00:00+02:00", "status": "paid",
            "total": 12_000, "currency": "USD",
        })
        assert (status, body["error"]["code"]) == (422, "unsupported_currency")
    async with db.read_session() as session:
        assert await session.scalar(select(Order.currency).where(Order.external_id == "o1")) \
            == "EUR"
    field = DOCUMENT["components"]["schemas"]["OrderIn"]["properties"]["currency"]
    assert "shop" in field["description"]


async def test_a_new_customer_has_not_agreed_unless_the_shop_says_so(api: Api) -> None:
    status, body, _ = await api.put("/customers/quiet", {"name": "Анна"})
    assert (status, body["marketing_opt_in"]) == (201, False)
    status, body, _ = await api.put("/customers/agreed", {"marketing_opt_in": True})
    assert (status, body["marketing_opt_in"]) == (201, True)
    # An existing customer keeps what they had when the shop does not say.
    status, body, _ = await api.put("/customers/agreed", {"email": "a@example.com"})
    assert (status, body["marketing_opt_in"]) == (200, True)
    status, body, _ = await api.put("/customers/agreed", {"marketing_opt_in": False})
    assert body["marketing_opt_in"] is False
