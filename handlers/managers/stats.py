"""`/stats [campaign] [days]` (text and a PNG chart; one campaign's also shows what is
spent and left of its budget) and `/export` (the same as CSV)."""

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
from bot.i18n import format_day
from bot.promo.campaigns import admin as campaign_admin
from bot.promo.campaigns import analytics, budget
from bot.texts import charts
from bot.texts.campaigns import budget_lines
from handlers.managers.common import answer_usage, args_of, money

DEFAULT_DAYS = 30
MAX_DAYS = 3660


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def points(value: float) -> str:
    return f"{value * 100:+.1f}"


async def _read(
    message: Message,
    command: CommandObject,
    read_session: AsyncSession,
    settings: Settings,
    clock: Clock,
    name: str,
) -> tuple[analytics.Stats, str, Campaign | None] | None:
    """Parse `[campaign id] [days]` and compute; None after answering with the usage."""
    args = args_of(command.args)
    if len(args) > 2 or not all(a.isdigit() for a in args):
        await answer_usage(message, name)
        return None
    campaign_id = int(args[0]) if args else None
    days = int(args[1]) if len(args) == 2 else DEFAULT_DAYS
    if not 1 <= days <= MAX_DAYS:
        await answer_usage(message, name)
        return None
    title, campaign = _("All campaigns"), None
    if campaign_id is not None:
        campaign = await campaign_admin.find(read_session, campaign_id)
        if campaign is None:
            await answer_usage(message, name, _("There is no such campaign."))
            return None
        title = f"#{campaign.id} {campaign.name}"
    now = clock()
    stats = await analytics.campaign_stats(
        read_session,
        campaign_id=campaign_id,
        since=now - timedelta(days=days),
        until=now,
        guardrail=settings.guardrail,
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
    lines = [
        f"📊 <b>{html.quote(title)}</b>",
        _("{since} — {until}").format(
            since=format_day(stats.since, locale, settings.shop.zone),
            until=format_day(stats.until, locale, settings.shop.zone),
        ),
        _("Sent: {sent}, delivered: {delivered}").format(
            sent=stats.sent, delivered=stats.delivered
        ),
        _("Redeemed: {redeemed} (redemption rate {rate})").format(
            redeemed=stats.redeemed, rate=percent(stats.redemption_rate)
        ),
        _("Repeat-purchase rate: {rate}").format(rate=percent(stats.repeat_rate)),
        _("Revenue: {revenue}; discount cost: {cost}").format(
            revenue=money(stats.revenue, settings, i18n),
            cost=money(stats.discount_cost, settings, i18n),
        ),
        _("Margin after discount: {margin}").format(margin=money(stats.margin, settings, i18n)),
        "",
        _("Treatment: {buyers} of {customers} bought again ({rate})").format(
            buyers=stats.treatment.buyers,
            customers=stats.treatment.customers,
            rate=percent(stats.treatment.rate),
        ),
        _("Holdout: {buyers} of {customers} bought again ({rate})").format(
            buyers=stats.holdout.buyers,
            customers=stats.holdout.customers,
            rate=percent(stats.holdout.rate),
        ),
    ]
    lines.append(uplift_line(stats.uplift))
    if campaign is not None:
        lines += budget_part(campaign, settings, locale)
    return "\n".join(lines)


def uplift_line(lift: analytics.Uplift | None) -> str:
    if lift is None:
        return _("Uplift: not enough data (both groups need customers).")
    return _("Uplift: {uplift} percentage points, {level} interval {low} … {high}").format(
        uplift=points(lift.difference),
        level="95%",
        low=points(lift.low),
        high=points(lift.high),
    )


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
    """The numbers as text, then the chart as a photo."""
    found = await _read(message, command, read_session, settings, clock, "stats")
    if found is None:
        return
    stats, title, campaign = found
    await message.answer(stats_text(stats, title, settings, i18n, campaign))
    png = await asyncio.to_thread(charts.render_png, stats, title, i18n.current_locale)
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
        BufferedInputFile(analytics.to_csv(stats, settings.shop.currency), filename=name)
    )


def create_router() -> Router:
    router = Router(name="managers.stats")
    router.message.register(show_stats, Command("stats"))
    router.message.register(export_stats, Command("export"))
    return router
