"""A "try a new category" campaign made over the shop API: refused without a segment or
an offer (422), documented in the OpenAPI kinds, started by `PATCH`; its code then works
at the checkout on the suggested category's goods only, refused on others with the usual
reason."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram import Bot

from bot.api.context import LAUNCHER
from bot.api.openapi import build_document
from bot.config import Settings
from bot.db import Database
from tests.support import shop
from tests.support.api import Api
from tests.support.campaign_runs import deliver
from tests.support.categories import seed
from tests.support.fake_bot_api import FakeBotAPI

NEW = {"name": "Something new", "kind": "new_category", "segment": "almost_lost",
       "variants": [{"name": "A", "discount_type": "percent", "value": 15, "valid_days": 14}]}


@pytest.mark.parametrize("body, field", [
    ({**NEW, "segment": None}, "segment"),
    ({**NEW, "variants": []}, "variants"),
    ({**NEW, "variants": [{"name": "A", "weight": 1}]}, "variants"),
])
async def test_without_a_segment_or_an_offer_it_is_422(api: Api, body: Any, field: str
                                                       ) -> None:
    status, answer, _ = await api.post("/campaigns", body)
    assert status == 422 and answer["error"]["fields"] == [field], answer


def test_the_kind_is_documented() -> None:
    kind = build_document()["components"]["schemas"]["CampaignIn"]["properties"]["kind"]
    assert "new_category" in kind["enum"] and "category" in kind["description"]


async def test_its_code_applies_to_the_suggested_category_only(
    api: Api, db: Database, settings: Settings, clock, bot: Bot, telegram: FakeBotAPI,
) -> None:
    seeded = await seed(db, settings, clock())
    status, created, _ = await api.post("/campaigns", NEW)
    assert status == 201 and created["kind"] == "new_category", created
    status, started, _ = await api.call("PATCH", f"/campaigns/{created['id']}",
                                        {"action": "start"})
    assert status == 200, started
    await api.client.server.app[LAUNCHER].join()
    await deliver(db, bot, settings, clock)  # a code works once its message is delivered
    (message,) = telegram.sent(seeded.chats["anna"])
    assert "Try <b>coffee</b>" in message.text
    (code,) = await shop.codes(db, customer_id=seeded.ids["anna"], campaign_id=created["id"])
    customer = (await shop.customer_row(db, seeded.ids["anna"])).external_id

    async def validate(*items: tuple[str, str, int]) -> Any:
        lines = [{"sku": sku, "category": category, "price": price, "quantity": 1}
                 for sku, category, price in items]
        status, body, _ = await api.post("/codes/validate", {
            "code": code.code, "customer_id": customer,
            "order": {"total": sum(price for *_x, price in items), "items": lines}})
        assert status == 200, body
        return body

    refused = await validate(("tea-2", "tea", 400_000))
    assert (refused["valid"], refused["reason"], refused["discount"]) == (
        False, "items_excluded", 0), refused
    assert "coffee" in refused["message"], refused
    mixed = await validate(("tea-2", "tea", 400_000), ("coffee-2", "coffee", 200_000))
    assert (mixed["valid"], mixed["discount"]) == (True, 30_000), mixed
    assert [line["discount"] for line in mixed["lines"]] == [0, 30_000]
