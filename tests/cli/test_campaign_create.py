"""`promobot campaign create FILE`: the body of POST /api/v1/campaigns, from the command line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sqlalchemy import select

from bot.api.campaign_schemas import CampaignIn
from bot.commands.campaign import run as cli
from bot.db.models import Campaign, CampaignVariant
from tests.support import shop
from tests.support.categories import SUGGESTED, seed

EXAMPLE = CampaignIn.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]


async def _create(tmp_path: Path, body: object, db, settings, clock) -> tuple[int, list[str]]:
    source = tmp_path / "campaign.json"
    source.write_text(json.dumps(body), encoding="utf-8")
    lines: list[str] = []
    code = await cli(argparse.Namespace(action="create", file=str(source)), settings, db=db,
                     clock=clock, out=lines.append)
    return code, lines


async def test_the_api_example_creates_a_draft_with_its_variants(db, settings, clock,
                                                                 tmp_path) -> None:
    code, lines = await _create(tmp_path, EXAMPLE, db, settings, clock)
    assert code == 0, lines
    async with db.read_session() as session:
        campaign = await session.scalar(select(Campaign))
        variants = (await session.scalars(select(CampaignVariant.name))).all()
    assert (campaign.name, campaign.status, campaign.holdout_percent) == (
        EXAMPLE["name"], "draft", 10)
    assert sorted(variants) == ["A", "B"]
    assert json.loads("\n".join(lines[:-1]))["id"] == campaign.id
    assert lines[-1].startswith(f"created campaign #{campaign.id} as a draft")


async def test_a_bad_body_names_the_field_and_creates_nothing(db, settings, clock,
                                                              tmp_path) -> None:
    code, lines = await _create(tmp_path, {**EXAMPLE, "holdout": 2}, db, settings, clock)
    assert code == 2 and lines[0].startswith("holdout:")
    code, lines = await _create(tmp_path, {**EXAMPLE, "segment": None}, db, settings, clock)
    assert code == 2 and "segment" in lines[0]
    async with db.read_session() as session:
        assert await session.scalar(select(Campaign)) is None


async def test_a_new_category_campaign_then_its_run(db, settings, clock, tmp_path) -> None:
    """`kind: new_category` from a file, then `promobot campaign run <id>` once started."""
    await seed(db, settings, clock())
    body = {"name": "Something new", "kind": "new_category", "segment": "almost_lost",
            "variants": [{"name": "A", "discount_type": "percent", "value": 10}]}
    code, lines = await _create(tmp_path, body, db, settings, clock)
    assert code == 0, lines
    campaign_id = json.loads("\n".join(lines[:-1]))["id"]
    await shop.set_status(db, campaign_id, "active")
    ran: list[str] = []
    assert await cli(argparse.Namespace(action="run", target=str(campaign_id)), settings,
                     db=db, clock=clock, out=ran.append) == 0
    assert f"new_category #{campaign_id}" in ran[0] and "no_category 1" in ran[0], ran
    codes = await shop.codes(db, campaign_id=campaign_id)
    assert len(codes) == len(SUGGESTED)
    code, lines = await _create(tmp_path, {**body, "variants": []}, db, settings, clock)
    assert code == 2 and "variants" in lines[0], lines
