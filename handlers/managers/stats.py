"""`/stats [campaign] [days]` (text and a PNG chart, per variant and for the holdout; one
campaign's also shows what is spent and left of its budget), `/stats survey <id>` (a
survey's answers: `handlers.managers.surveys`) and `/export` (the same as CSV, with the
codes by channel)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from aiogram import Router, html
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.db.models import Campaign
from bot.promo.campaigns import admin as campaign_admin
from bot.promo.campaigns import analytics, budget
from bot.texts import charts, results
from bot.texts.campaigns import budget_lines
from handlers.managers import surveys
from handlers.managers.common import answer_usage, args_of, number_of

DEFAULT_DAYS = 30
MAX_DAYS = 3660


async def _read(
    message: Message,
    command: CommandObject,
    read_session: AsyncSession,
    settings: Settings,
    clock: Clock,
    name: str,
) -> tuple[analytics.Stats, str, Campaign | None] | None:
    """Parse `[campaign id] [days]` and compute; None after answering with the usage.

    A campaign is read over its own window (since it was created; the last `days` when
    given), the shop over the last `days` (30 by default)."""
    numbers = [number_of(arg) for arg in args_of(command.args)]
    if len(numbers) > 2 or None in numbers:
        await answer_usage(message, name)
        return None
    campaign_id = numbers[0] if numbers else None
    days = numbers[1] if len(numbers) == 2 else None
    if days is not None and not 1 <= days <= MAX_DAYS:
        await answer_usage(message, name)
        return None
    now = clock()
    since = now - timedelta(days=days or DEFAULT_DAYS)
    title, campaign = _("All campaigns"), None
    if campaign_id is not None:
        campaign = await campaign_admin.find(read_session, campaign_id)
        if campaign is None:
            await answer_usage(message, name, _("There is no such campaign."))
            return None
        title = f"#{campaign.id} {campaign.name}"
        window = min(campaign.created_at, now)
        since = max(since, window) if days is not None else window
    stats = await analytics.campaign_stats(
        read_session, campaign_id=campaign_id, since=since, until=now,
        guardrail=settings.guardrail, global_holdout=settings.policy.global_holdout,
    )
    return stats, title, campaign


def stats_text(
    stats: analytics.Stats,
    title: str,
    settings: Settings,
    i18n: I18n,
    campaign: Campaign | None = None,
) -> str:
    locale = i18n.current_locale
    lines = [html.quote(line) for line in results.stats_lines(
        stats, title, locale, settings.shop.currency, settings.shop.zone)]
    lines[0] = f"<b>{lines[0]}</b>"
    if campaign is not None:
        lines += budget_part(campaign, settings, locale)
    return "\n".join(lines)


def budget_part(campaign: Campaign, settings: Settings, locale: str) -> list[str]:
    """What is spent and left of the campaign's budget, after a blank line; nothing
    without a budget."""
    state = budget.state_of(campaign)
    if not state.limited:
        return []
    return ["", *(html.quote(line) for line in budget_lines(state, locale, settings.shop.currency))]


async def show_stats(
    message: Message,
    command: CommandObject,
    read_session: AsyncSession,
    settings: Settings,
    clock: Clock,
    i18n: I18n,
) -> None:
    """The numbers as text, then the chart as a photo; `/stats survey <id>`: a survey's."""
    args = args_of(command.args)
    if args and args[0].lower() == "survey":
        survey_id = number_of(args[1]) if len(args) == 2 else None
        if survey_id is None:
            await answer_usage(message, "survey")
            return
        await surveys.show_results(message, read_session, survey_id, settings=settings,
                                   clock=clock, i18n=i18n)
        return
    found = await _read(message, command, read_session, settings, clock, "stats")
    if found is None:
        return
    stats, title, campaign = found
    await message.answer(stats_text(stats, title, settings, i18n, campaign))
    png = await asyncio.to_thread(charts.render_png, stats, title, i18n.current_locale,
                                  settings.shop.currency)
    await message.answer_photo(BufferedInputFile(png, filename="stats.png"))


async def export_stats(
    message: Message,
    command: CommandObject,
    read_session: AsyncSession,
    settings: Settings,
    clock: Clock,
) -> None:
    """The same numbers as a CSV document."""
    found = await _read(message, command, read_session, settings, clock, "export")
    if found is None:
        return
    stats, _title, _campaign = found
    name = f"stats-{stats.campaign_id or 'all'}-{stats.until:%Y%m%d}.csv"
    await message.answer_document(
        BufferedInputFile(results.to_csv(stats, settings.shop.currency), filename=name)
    )


def create_router() -> Router:
    router = Router(name="managers.stats")
    router.message.register(show_stats, Command("stats"))
    router.message.register(export_stats, Command("export"))
    return router
