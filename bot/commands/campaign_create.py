"""`promobot campaign create FILE|-`: a campaign from the JSON body the shop API takes
(`POST /api/v1/campaigns`), validated by the same model and created by the same code, so
a campaign written for the API can be tried from the command line first. A refusal by
a rule (the guardrail) is worded by the CLI as every command's is."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from bot.api.campaign_schemas import CampaignIn
from bot.api.campaigns import campaign_out, create_campaign
from bot.api.errors import ApiError
from bot.promo.campaigns.context import Context

ACTOR = "cli"


def arguments(actions: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    create = actions.add_parser(
        "create", help="a draft campaign from a JSON file ('-' for stdin) with the fields of "
        "POST /api/v1/campaigns; prints it as the API answers")
    create.add_argument("file", metavar="FILE|-")


def _read(source: str) -> str:
    return sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")


async def create(ctx: Context, source: str, out: Callable[[str], None]) -> int:
    try:
        body = CampaignIn.model_validate_json(_read(source))
    except OSError as error:
        out(f"cannot read {source}: {error.strerror}")
        return 2
    except ValidationError as error:
        for problem in error.errors():
            where = ".".join(str(part) for part in problem["loc"]) or "body"
            out(f"{where}: {problem['msg']}")
        return 2
    try:
        campaign = await create_campaign(ctx.db, body, ctx.settings, now=ctx.now, actor=ACTOR)
    except ApiError as error:  # the body's rules beyond its schema (e.g. a segment)
        out(error.message)
        return 2
    out(campaign_out(campaign).model_dump_json(indent=2))
    out(f"created campaign #{campaign.id} as a draft: start it with /campaign {campaign.id} "
        f"in Telegram, or PATCH /api/v1/campaigns/{campaign.id} {{\"action\": \"start\"}}")
    return 0
