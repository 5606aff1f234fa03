"""`promobot analyze [--locale ru|en] [--chart FILE.png]`: the base analysis of the shop's
orders (`bot.promo.shop.analysis`) with the settings it recommends, printed; the chart of
the intervals between orders saved when asked."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from bot.clock import Clock, utcnow
from bot.config import Settings
from bot.db import Database
from bot.i18n import LOCALES
from bot.promo.shop.analysis import analyze, recommend
from bot.texts.base_analysis import analysis_lines, interval_png


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--locale", choices=LOCALES, default=None,
                        help="language of the report (default: PROMOBOT_DEFAULT_LOCALE)")
    parser.add_argument("--chart", type=Path, metavar="FILE.png",
                        help="save the chart of the days between orders there")


async def run(args: argparse.Namespace, settings: Settings, *, db: Database | None = None,
              clock: Clock = utcnow, out: Callable[[str], None] = print) -> int:
    from bot.commands import open_database

    database = db or await open_database(settings)
    if database is None:
        return 2
    try:
        analysis = await analyze(database, clock())
    finally:
        if db is None:
            await database.dispose()
    locale = args.locale or settings.shop.default_locale
    for line in analysis_lines(analysis, recommend(analysis, settings.comeback),
                               settings.shop.currency, locale):
        out(line)
    if args.chart is not None:
        args.chart.write_bytes(interval_png(analysis, locale))
        out(f"chart: {args.chart}")
    return 0
