"""`promobot campaign list | create FILE | run <id or kind> | status [id] | stats <id> [--json]`.

`run` does now what the schedule would do (select, assign, issue, queue); the running
sender delivers. `status` prints what managers see in the live progress message, and
what is spent and left of the campaign's budget.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from bot.clock import Clock, utcnow
from bot.commands import campaign_create, campaign_stats
from bot.config import Settings
from bot.db import Database
from bot.i18n import format_span
from bot.promo.campaigns import budget
from bot.promo.campaigns import running as campaigns
from bot.promo.campaigns.context import Context
from bot.texts.campaigns import budget_lines

KINDS = (*campaigns.OWN_RUNS, *campaigns.JOB_KINDS)


def arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="every campaign with its kind, status and schedule")
    run = actions.add_parser("run", help="run a campaign (by id) or a kind now")
    run.add_argument(
        "target", metavar="ID|KIND", help=f"a campaign id, or one of: {', '.join(KINDS)}"
    )
    status = actions.add_parser("status", help="delivery progress (active campaigns, or one)")
    status.add_argument("id", nargs="?", type=int, help="campaign id")
    campaign_stats.arguments(actions)
    campaign_create.arguments(actions)


async def list_campaigns(ctx: Context, out: Callable[[str], None]) -> int:
    rows = await campaigns.overview(ctx)
    if not rows:
        out("no campaigns yet (the automatic ones appear after their first run)")
        return 0
    out(
        f"{'id':>4}  {'kind':<10} {'status':<8} {'segment':<14} {'holdout':>7}  "
        f"{'schedule':<14} name"
    )
    for c in rows:
        out(
            f"{c.id:>4}  {c.kind:<10} {c.status:<8} {c.segment or '-':<14} "
            f"{c.holdout_percent:>6}%  {c.schedule or '-':<14} {c.name}"
        )
    return 0


async def run_target(ctx: Context, target: str, out: Callable[[str], None]) -> int:
    if not target.isdigit() and target not in KINDS:
        out(f"unknown campaign or kind {target!r}; kinds: {', '.join(KINDS)}")
        return 2
    result = await campaigns.run_target(ctx, target)
    out(result.summary())
    return 0 if result.status == "done" else 1


async def show_status(ctx: Context, campaign_id: int | None, out: Callable[[str], None]) -> int:
    rows = await campaigns.progress(ctx, campaign_id)
    if not rows:
        out("no such campaign" if campaign_id is not None else "no active campaigns")
        return 1 if campaign_id is not None else 0
    for row in rows:
        c, d = row.campaign, row.delivery
        share = f"{d.sent / d.total:.0%}" if d.total else "-"
        eta = format_span(d.eta, "en") if d.eta is not None else "-"
        out(
            f"#{c.id} {c.name} ({c.kind}, {c.status}): sent {d.sent}/{d.total} ({share}), "
            f"waiting {d.pending}, failed {d.failed}, skipped {d.skipped}; "
            f"assigned {row.assigned} (holdout {row.holdout}); ETA {eta}"
        )
        for line in budget_lines(budget.state_of(c), "en", ctx.settings.shop.currency):
            out(f"  {line}")
    return 0


async def run(
    args: argparse.Namespace,
    settings: Settings,
    *,
    db: Database | None = None,
    clock: Clock = utcnow,
    out: Callable[[str], None] = print,
) -> int:
    from bot.commands import open_database

    own = db is None
    database = db or await open_database(settings)
    if database is None:
        return 2
    ctx = Context(database, settings, clock(), batch_size=settings.jobs.campaign_batch_size)
    try:
        if args.action == "list":
            return await list_campaigns(ctx, out)
        if args.action == "run":
            return await run_target(ctx, args.target, out)
        if args.action == "create":
            return await campaign_create.create(ctx, args.file, out)
        if args.action == "stats":
            return await campaign_stats.show_stats(ctx, args.id, args.json, out)
        return await show_status(ctx, args.id, out)
    finally:
        if own:
            await database.dispose()
