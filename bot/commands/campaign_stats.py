"""`promobot campaign stats <id> [--json]`: a campaign's results since it was created, per
variant and for the holdout — the text managers read in `/stats` (in English), or with
`--json` the answer of `GET /api/v1/campaigns/{id}/stats`."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

from bot.promo.campaigns import admin, analytics, budget
from bot.promo.campaigns.context import Context
from bot.texts.results import stats_lines


def arguments(actions: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    stats = actions.add_parser(
        "stats", help="results per variant and for the holdout, and which offer pays"
    )
    stats.add_argument("id", type=int, help="campaign id")
    stats.add_argument("--json", action="store_true", help="as the API answers it")


async def show_stats(ctx: Context, campaign_id: int, as_json: bool,
                     out: Callable[[str], None]) -> int:
    from bot.api.campaigns import stats_out

    async with ctx.db.read_session() as session:
        campaign = await admin.find(session, campaign_id)
        if campaign is None:
            out("no such campaign")
            return 1
        stats = await analytics.for_campaign(session, campaign, now=ctx.now,
                                             guardrail=ctx.settings.guardrail)
    if as_json:
        body = stats_out(stats, budget.state_of(campaign), campaign_id)
        out(json.dumps(body.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return 0
    shop = ctx.settings.shop
    for line in stats_lines(stats, f"#{campaign.id} {campaign.name}", "en", shop.currency,
                            shop.zone):
        out(line)
    return 0
