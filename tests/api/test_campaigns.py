"""Campaigns over the shop API: create with a budget, set and clear it, read what is spent
and left (in the campaign and in its stats), and refuse bad input with 4xx, never 5xx."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

import tests.support.factories as factories
from bot.api.campaign_schemas import CampaignIn, CampaignOut, CampaignPatchIn
from bot.api.openapi import build_document
from bot.db import Database
from bot.db.models import Campaign, Survey
from tests.support.api import Api
from tests.support.managers import audit_rows

NEW = {
    "name": "Spring, regulars",
    "kind": "broadcast",
    "segment": "regulars",
    "holdout": 0.1,
    "variants": [
        {"name": "A", "discount_type": "percent", "value": 5, "valid_days": 14},
        {"name": "B", "weight": 2, "discount_type": "percent", "value": 10},
    ],
    "texts": {"ru": "Весна пришла!"},
}


async def patch(api: Api, campaign_id: object, body: Any) -> tuple[int, Any]:
    status, answer, _ = await api.call("PATCH", f"/campaigns/{campaign_id}", body)
    return status, answer


async def spend(db: Database, campaign_id: int, amount: int, uses: int) -> None:
    """What the checkout's redemptions would have taken (its own tests are elsewhere)."""
    async with db.session() as session:
        await session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id)
            .values(spent_amount=amount, spent_uses=uses)
        )
        await session.commit()


async def test_create_with_a_budget_then_read_it(api: Api, db: Database) -> None:
    status, body, _ = await api.post(
        "/campaigns", {**NEW, "budget": {"amount": 5_000_000, "uses": 200}}
    )
    assert status == 201, body
    assert body["status"] == "draft" and body["holdout"] == 0.1
    assert body["budget"] == {
        "amount": 5_000_000,
        "uses": 200,
        "spent_amount": 0,
        "spent_uses": 0,
        "amount_left": 5_000_000,
        "uses_left": 200,
        "exhausted": False,
    }
    status, same, _ = await api.get(f"/campaigns/{body['id']}")
    assert status == 200 and same == body
    status, listing, _ = await api.get("/campaigns")
    assert status == 200 and [c["id"] for c in listing["campaigns"]] == [body["id"]]
    async with db.read_session() as session:
        campaign = await session.get(Campaign, body["id"])
    assert campaign is not None and campaign.message_ru == "Весна пришла!"
    assert [r.actor for r in await audit_rows(db)] == ["api:shop", "api:shop"]


async def test_create_without_a_budget(api: Api) -> None:
    status, body, _ = await api.post("/campaigns", NEW)
    assert status == 201, body
    assert body["budget"]["amount"] is None and body["budget"]["amount_left"] is None
    assert body["budget"]["exhausted"] is False


async def test_patch_sets_keeps_and_clears_each_budget(api: Api, db: Database, clock) -> None:
    campaign = await factories.campaign(db, now=clock())
    status, body = await patch(api, campaign.id, {"budget": {"amount": 1_000_000}})
    assert status == 200, body
    assert (body["budget"]["amount"], body["budget"]["uses"]) == (1_000_000, None)
    await spend(db, campaign.id, 150_000, 3)
    status, body = await patch(api, campaign.id, {"budget": {"uses": 10}})
    assert (body["budget"]["amount"], body["budget"]["uses"]) == (1_000_000, 10)
    assert body["budget"]["amount_left"] == 850_000 and body["budget"]["uses_left"] == 7
    # Changing a budget leaves the checkout's counters alone.
    assert (body["budget"]["spent_amount"], body["budget"]["spent_uses"]) == (150_000, 3)
    status, body = await patch(api, campaign.id, {})
    assert status == 200 and (body["budget"]["amount"], body["budget"]["uses"]) == (1_000_000, 10)
    status, body = await patch(api, campaign.id, {"budget": {"amount": None}})
    assert (body["budget"]["amount"], body["budget"]["uses"]) == (None, 10)
    rows = await audit_rows(db, "campaign.budget")
    assert len(rows) == 3 and rows[-1].before == {"budget_amount": 1_000_000, "budget_uses": 10}
    assert rows[-1].after == {"budget_amount": None, "budget_uses": 10}


async def test_campaign_and_stats_show_spent_and_left(api: Api, db: Database, clock) -> None:
    campaign = await factories.campaign(db, now=clock(), budget_amount=1_000_000, budget_uses=50)
    await spend(db, campaign.id, 1_000_000, 12)
    _, body, _ = await api.get(f"/campaigns/{campaign.id}")
    assert body["budget"] == {
        "amount": 1_000_000,
        "uses": 50,
        "spent_amount": 1_000_000,
        "spent_uses": 12,
        "amount_left": 0,
        "uses_left": 38,
        "exhausted": True,
    }
    status, stats, _ = await api.get(f"/campaigns/{campaign.id}/stats")
    assert status == 200, stats
    assert stats["campaign_id"] == campaign.id and stats["budget"] == body["budget"]
    assert stats["sent"] == 0 and stats["redemption_rate"] is None
    # A budget lowered below what is spent leaves nothing, rather than a negative amount.
    _, body = await patch(api, campaign.id, {"budget": {"uses": 5}})
    assert body["budget"]["uses_left"] == 0 and body["budget"]["exhausted"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"budget": {"amount": -1}}, "budget.amount"),
        ({"budget": {"amount": 0}}, "budget.amount"),
        ({"budget": {"amount": "5000"}}, "budget.amount"),
        ({"budget": {"amount": 1.5}}, "budget.amount"),
        ({"budget": {"amount": 10**16}}, "budget.amount"),
        ({"budget": {"amount": 10**40}}, "budget.amount"),
        ({"budget": {"uses": -3}}, "budget.uses"),
        ({"budget": {"uses": 10**10}}, "budget.uses"),
        ({"budget": {"uses": True}}, "budget.uses"),
        ({"budget": 100}, "budget"),
        ({"budget_amount": 5_000}, "budget_amount"),  # the first version's flat field
    ],
)
async def test_bad_budget_is_422_and_changes_nothing(
    api: Api, db: Database, clock, body: dict[str, Any], field: str
) -> None:
    campaign = await factories.campaign(db, now=clock(), budget_amount=500_000)
    status, answer = await patch(api, campaign.id, body)
    assert status == 422, answer
    assert answer["error"]["code"] == "invalid_body" and answer["error"]["fields"] == [field]
    status, answer, _ = await api.post("/campaigns", {**NEW, **body})
    assert status == 422 and answer["error"]["fields"] == [field]
    _, stored, _ = await api.get(f"/campaigns/{campaign.id}")
    assert stored["budget"]["amount"] == 500_000 and stored["budget"]["uses"] is None


@pytest.mark.parametrize("campaign_id", ["999", "abc", "0", "9" * 30, "-1", "1.5"])
async def test_unknown_campaign_is_404(api: Api, campaign_id: str) -> None:
    for status, answer in [
        await patch(api, campaign_id, {"budget": {"uses": 5}}),
        (await api.get(f"/campaigns/{campaign_id}"))[:2],
        (await api.get(f"/campaigns/{campaign_id}/stats"))[:2],
    ]:
        assert status == 404 and answer["error"]["code"] == "unknown_campaign", answer


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**NEW, "segment": None}, "segment"),
        ({**NEW, "segment": "everyone"}, "segment"),
        ({**NEW, "holdout": 0.9}, "holdout"),
        (
            {**NEW, "variants": [{"name": "A", "discount_type": "percent", "value": 150}]},
            "variants[0].value",
        ),
        ({**NEW, "variants": [{"name": "A"}, {"name": "A"}]}, "variants"),
        ({**NEW, "schedule": "every monday"}, "schedule"),
    ],
)
async def test_bad_campaign_is_422(api: Api, body: dict[str, Any], field: str) -> None:
    status, answer, _ = await api.post("/campaigns", body)
    assert status == 422, answer
    assert answer["error"]["fields"] == [field]
    _, listing, _ = await api.get("/campaigns")
    assert listing["campaigns"] == []


async def test_offer_above_the_guardrail_is_refused_with_the_numbers(api: Api) -> None:
    status, answer, _ = await api.post(
        "/campaigns", {**NEW, "variants": [{"name": "A", "discount_type": "percent", "value": 40}]}
    )
    assert status in (409, 422) and answer["error"]["code"] == "guardrail"


def test_the_document_has_the_budget_fields_and_valid_examples() -> None:
    document = build_document()
    paths = document["paths"]
    assert {"post", "get"} <= set(paths["/api/v1/campaigns"])
    assert {"get", "patch"} <= set(paths["/api/v1/campaigns/{campaign_id}"])
    assert "get" in paths["/api/v1/campaigns/{campaign_id}/stats"]
    schemas = document["components"]["schemas"]
    for name in ("CampaignIn", "CampaignPatchIn", "CampaignOut"):
        assert "budget" in schemas[name]["properties"]
    assert set(schemas["CampaignBudgetIn"]["properties"]) == {"amount", "uses"}
    assert "budget" in schemas["CampaignStatsOut"]["properties"]
    for model in (CampaignIn, CampaignPatchIn, CampaignOut):
        examples = schemas[model.__name__]["examples"]
        assert examples
        for example in examples:
            model.model_validate(example, strict=False)


async def test_a_campaign_narrowed_to_a_survey_answer(api: Api, db: Database, clock) -> None:
    async with db.session() as session:
        session.add(Survey(question="Tea or coffee?", options=["Tea", "Coffee"],
                           created_at=clock(), closes_at=clock()))
        await session.commit()
    body = {**NEW, "segment": "all", "survey_answer": {"survey_id": 1, "option": 1}}
    status, answer, _ = await api.post("/campaigns", body)
    assert status == 201, answer
    async with db.read_session() as session:
        campaign = await session.get(Campaign, answer["id"])
    assert campaign is not None and campaign.params == {"survey_answer": [1, 1]}
    for wrong in ({"survey_id": 2, "option": 0}, {"survey_id": 1, "option": 2}):
        status, answer, _ = await api.post("/campaigns", {**body, "survey_answer": wrong})
        assert (status, answer["error"]["code"]) == (404, "unknown_survey")
    status, answer, _ = await api.post("/campaigns", {**body, "survey_answer": {"option": 0}})
    assert status == 422
