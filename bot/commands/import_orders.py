"""`promobot import-orders FILE.csv`: the import with a progress bar and a readable report."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from bot.config import Settings
from bot.promo.shop.importing import ImportFileError, ImportSummary, import_orders, read_file

SHOWN_ERRORS = 20


class ProgressBar:
    """A one-line bar on a terminal, redrawn at most 10 times a second; silent otherwise."""

    def __init__(self, label: str, stream: TextIO | None = None, width: int = 30) -> None:
        self.label, self.width = label, width
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self._drawn = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.enabled or (done < total and now - self._drawn < 0.1):
            return
        self._drawn = now
        share = done / total if total else 1.0
        filled = round(share * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r{self.label} [{bar}] {done}/{total} {share:4.0%}")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


def report(summary: ImportSummary, *, shown: int = SHOWN_ERRORS) -> str:
    lines = [
        f"{summary.rows} rows, {summary.orders_in_file} orders in the file",
        f"customers: {summary.customers_created} created, {summary.customers_updated} updated, "
        f"{summary.customers_unchanged} unchanged",
        f"orders: {summary.orders_created} created, {summary.orders_updated} updated, "
        f"{summary.orders_unchanged} unchanged, {summary.orders_skipped} skipped",
    ]
    if summary.local_times:
        lines.append(
            f"{summary.local_times} row(s) gave times without a UTC offset: read as the "
            f"shop's local time, {summary.zone} (PROMOBOT_TIMEZONE)"
        )
    if summary.errors:
        lines.append(f"{len(summary.errors)} error(s); orders with an error were not imported:")
        lines.extend(f"  {error}" for error in summary.errors[:shown])
        if len(summary.errors) > shown:
            lines.append(f"  ... and {len(summary.errors) - shown} more")
    return "\n".join(lines)


async def run(path: str, settings: Settings) -> int:
    """0 when the file was imported (line errors included), 1 when it could not be read."""
    from bot.commands import open_database

    try:
        parsed = read_file(path, settings.shop.zone)
    except ImportFileError as error:
        print(f"promobot: {path}: {error}", file=sys.stderr)
        return 1
    db = await open_database(settings)
    if db is None:
        return 1
    try:
        summary = await import_orders(
            db, parsed, shop=settings.shop, progress=ProgressBar("importing")
        )
    finally:
        await db.dispose()
    print(report(summary))
    return 0
