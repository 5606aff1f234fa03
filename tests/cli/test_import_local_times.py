"""`promobot import-orders` on an export that writes local times without an offset (as
most shop exports do): read in the shop's zone, and the report says so."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from bot.cli import run_cli
from bot.db import create_database
from bot.db.models import Customer, Order

EXPORT = (
    "order_id,customer_id,placed_at,status,total,delivered_at,marketing_opt_in\n"
    "L-1,c1,2025-03-01 14:05:00,delivered,100000,2025-03-04T10:00:00,yes\n"
    "L-2,c2,2025-03-02T09:00:00+00:00,paid,50000,,\n"
    "L-3,c3,2025-07-01T12:00:00,paid,50000,,no\n"
)


async def _stored(url: str) -> tuple[dict[str, tuple[datetime, datetime | None]], dict]:
    db = create_database(url)
    try:
        async with db.read_session() as session:
            orders = {row.external_id: (row.placed_at, row.delivered_at)
                      for row in await session.scalars(select(Order))}
            consent = dict((await session.execute(
                select(Customer.external_id, Customer.marketing_opt_in))).all())
    finally:
        await db.dispose()
    return orders, consent


def test_times_without_offset_are_the_shops_local_time(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    url = f"sqlite+aiosqlite:///{tmp_path / 'shop.sqlite3'}"
    monkeypatch.setenv("PROMOBOT_DATABASE_URL", url)
    monkeypatch.setenv("PROMOBOT_TIMEZONE", "Asia/Yekaterinburg")
    path = tmp_path / "export.csv"
    path.write_text(EXPORT, encoding="utf-8")

    assert run_cli(["import-orders", str(path)]) == 0
    out = capsys.readouterr().out
    assert "orders: 3 created" in out and "error" not in out
    assert ("2 row(s) gave times without a UTC offset: read as the shop's local time, "
            "Asia/Yekaterinburg (PROMOBOT_TIMEZONE)") in out

    orders, consent = asyncio.run(_stored(url))
    # Yekaterinburg is UTC+5 all year.
    assert orders["L-1"] == (datetime(2025, 3, 1, 9, 5, tzinfo=UTC),
                             datetime(2025, 3, 4, 5, 0, tzinfo=UTC))
    assert orders["L-2"][0] == datetime(2025, 3, 2, 9, 0, tzinfo=UTC)
    assert orders["L-3"][0] == datetime(2025, 7, 1, 7, 0, tzinfo=UTC)
    # Consent comes from the file; a customer it says nothing about has not agreed.
    assert consent == {"c1": True, "c2": False, "c3": False}

    assert run_cli(["import-orders", str(path)]) == 0
    assert "orders: 0 created, 0 updated, 3 unchanged" in capsys.readouterr().out
