"""`/analyze`: the base analysis of the shop's orders (`bot.promo.shop.analysis`) as text
and a chart of the days between orders, with the settings it suggests."""

from __future__ import annotations

import asyncio

from aiogram import Router, html
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.clock import Clock
from bot.config import Settings
from bot.db import Database
from bot.promo.shop.analysis import analyze, recommend
from bot.texts.base_analysis import analysis_lines, interval_png


async def show_analysis(message: Message, db: Database, settings: Settings, clock: Clock,
                        i18n: I18n) -> None:
    locale = i18n.current_locale
    analysis = await analyze(db, clock())
    lines = analysis_lines(analysis, recommend(analysis, settings.comeback),
                           settings.shop.currency, locale)
    text = "\n".join(html.quote(line) if not line.startswith("PROMOBOT_")
                     else html.code(html.quote(line)) for line in lines)
    title = _("📊 Your customer base")
    await message.answer(f"<b>{html.quote(title)}</b>\n{text}")
    if analysis.intervals.count:
        png = await asyncio.to_thread(interval_png, analysis, locale)
        await message.answer_photo(BufferedInputFile(png, filename="analysis.png"))


def create_router() -> Router:
    router = Router(name="managers.analysis")
    router.message.register(show_analysis, Command("analyze"))
    return router
