"""`GET /api/v1/campaigns/{id}/stats` per variant and for the holdout, and `promobot
campaign stats <id> [--json]` giving the same numbers (the seeded campaign of
`tests.support.results`; the figures are worked out in tests/handlers/test_manager_stats.py)."""

from __future__ import annotations

import argparse
import json

import tests.support.factories as factories
from bot.api.campaign_schemas import CampaignStatsOut
from bot.api.openapi import build_document
from bot.commands.campaign import run as cli
from tests.support.api import Api
from tests.support.results import seed


async def test_stats_per_variant_and_holdout(api: Api, db, clock) -> None:
    seeded = await seed(db, clock())
    status, body, _ = await api.get(f"/campaigns/{seeded.campaign_id}/stats")
    assert status == 200, body
    a, b = body["variants"]
    assert (a["name"], a["variant_id"], a["offer_percent"]) == ("A", seeded.a_id, 5.0)
    assert {k: a[k] for k in ("audience", "delivered", "redeemed", "uses", "buyers",
                              "revenue", "discount_cost", "margin")} == {
        "audience": 10, "delivered": 10, "redeemed": 6, "uses": 6, "buyers": 7,
        "revenue": 3_500_000, "discount_cost": 150_000, "margin": 900_000}
    assert (a["redemption_rate"], a["repeat_purchase_rate"]) == (60.0, 70.0)
    # Ten customers a group: the always-valid interval does not call A a winner yet.
    assert a["uplift"]["difference"] == 50.0 and not a["pays"]
    assert a["incremental_margin"]["amount"] == 630_000
    assert a["incremental_margin"]["low"] < 0 < a["incremental_margin"]["high"]
    # Revenue per customer 35 000 ₽ vs 9 000 ₽ in the holdout, times 10 customers.
    assert a["incremental_revenue"]["amount"] == 2_600_000
    assert (b["name"], b["delivered"], b["redeemed"], b["redemption_rate"]) == ("B", 9, 6, 66.67)
    assert b["discount_cost"] == 330_000 and b["margin"] == 570_000 and not b["pays"]
    holdout = body["holdout"]
    assert (holdout["audience"], holdout["buyers"], holdout["repeat_purchase_rate"],
            holdout["revenue"], holdout["margin"], holdout["redemption_rate"]) == (
        10, 2, 20.0, 900_000, 270_000, None)
    assert body["smallest_paying_variant"] is None
    # 10 of 30 in the holdout where the split promised 9: nothing off.
    ratio = body["sample_ratio"]
    assert (ratio["off"], ratio["observed"], ratio["expected"]) == (False, [10, 20], [9.0, 21.0])
    # The first version's fields are still there, now over the campaign's own customers.
    assert (body["redeemed"], body["treatment"]["customers"], body["sent"]) == (12, 20, 18)
    assert body["redemption_rate"] == 63.16  # 12 of the 19 reached
    rates = [g[k] for g in (*body["variants"], holdout, body["treatment"])
             for k in ("redemption_rate", "repeat_purchase_rate") if g[k] is not None]
    assert rates and max(rates) <= 100
    assert {(c["channel"], c["variant"], c["codes"]) for c in body["channels"]} == {
        ("telegram", "A", 10), ("telegram", "B", 9), ("email", "B", 1)}


async def test_cli_json_is_the_api_answer(api: Api, db, clock, settings) -> None:
    seeded = await seed(db, clock())
    _, body, _ = await api.get(f"/campaigns/{seeded.campaign_id}/stats")
    lines: list[str] = []
    code = await cli(argparse.Namespace(action="stats", id=seeded.campaign_id, json=True),
                     settings, db=db, clock=clock, out=lines.append)
    assert code == 0 and json.loads("\n".join(lines)) == body


async def test_cli_text_per_variant(db, clock, settings) -> None:
    seeded = await seed(db, clock())
    lines: list[str] = []
    code = await cli(argparse.Namespace(action="stats", id=seeded.campaign_id, json=False),
                     settings, db=db, clock=clock, out=lines.append)
    text = "\n".join(lines)
    assert code == 0 and "▫️ A (5%)" in text and "▫️ Control group (no offer)" in text
    assert "audience 10, reached 9, redeemed 6 (redemption rate 66.7%)" in text
    assert "⏳ No variant has proved yet that it pays" in text
    missing: list[str] = []
    assert await cli(argparse.Namespace(action="stats", id=999, json=False), settings, db=db,
                     clock=clock, out=missing.append) == 1
    assert missing == ["no such campaign"]


def test_the_stats_example_is_valid_and_documented() -> None:
    schema = build_document()["components"]["schemas"]["CampaignStatsOut"]
    assert {"variants", "holdout", "smallest_paying_variant", "channels"} <= set(
        schema["properties"])
    for example in schema["examples"]:
        CampaignStatsOut.model_validate(example)


async def test_codes_issued_through_the_api_count_in_their_campaign_by_channel(
    api: Api, db, clock
) -> None:
    campaign = await factories.campaign(db, now=clock())
    await factories.customer(db, "c1", now=clock())
    issue = {"customer_id": "c1", "channel": "email", "discount_type": "percent", "value": 5,
             "campaign_id": campaign.id}
    status, code, _ = await api.post("/codes", issue)
    assert status == 201, code
    status, body, _ = await api.post("/codes/redeem", {
        "code": code["code"], "customer_id": "c1", "order_id": "o1", "order": {"total": 500_000}})
    assert status == 200, body
    _, stats, _ = await api.get(f"/campaigns/{campaign.id}/stats")
    [email] = [c for c in stats["channels"] if c["channel"] == "email"]
    assert (email["codes"], email["redeemed"]) == (1, 1)
    status, body, _ = await api.post("/codes", {**issue, "campaign_id": 999_999})
    assert status == 422 and body["error"]["code"] == "unknown_campaign"
