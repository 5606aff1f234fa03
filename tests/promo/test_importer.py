"""`promobot import-orders`: a shop export becomes customers and orders, idempotently."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cli import run_cli
from bot.db.models import Customer, Order, OrderItem
from bot.promo.shop.importing import ImportFileError, import_file, read_file

HEADER = (
    "order_id,customer_id,placed_at,status,total,currency,sku,category,price,quantity,"
    "name,phone,email"
)
GOOD = [
    HEADER,
    "A-1,c1,2025-01-10T12:00:00+03:00,delivered,500000,RUB,SHOE-1,Обувь,400000,1,"
    "Анна,8 (916) 123-45-67,anna@example.com",
    "A-1,c1,2025-01-10T12:00:00+03:00,delivered,500000,RUB,CAP-1,Аксессуары,50000,2,,,",
    "A-2,c1,2025-03-05T09:30:00Z,returned,200000,RUB,BAG-1,Сумки,200000,1,,,",
    "A-3,c1,2025-04-01T10:00:00+03:00,cancelled,300000,RUB,CAP-2,Аксессуары,300000,1,,,",
    "B-1,c2,2025-02-01T08:00:00+00:00,paid,150000,RUB,TEE-1,Одежда,75000,2,Иван,,",
    '"B-2",c2,2025-02-20T08:00:00+00:00,partially_returned,100000,,"TEE-2",Одежда,100000,1,,,',
]


def write(tmp_path: Path, lines: list[str], name: str = "orders.csv", *, encoding: str = "utf-8",
          sep: str = ",") -> Path:
    path = tmp_path / name
    text = "\n".join(line.replace(",", sep) if sep != "," else line for line in lines) + "\n"
    path.write_text(text, encoding=encoding)
    return path


async def snapshot(db) -> tuple:
    """Every row the import may write, with its update times: a re-import must keep them."""
    async with db.read_session() as session:
        customers = (await session.execute(select(Customer.__table__).order_by(Customer.id))).all()
        orders = (await session.execute(select(Order.__table__).order_by(Order.id))).all()
        items = (await session.execute(select(OrderItem.__table__).order_by(OrderItem.id))).all()
    return customers, orders, items


async def test_import_creates_customers_orders_and_aggregates(db, settings, clock, tmp_path):
    path = write(tmp_path, GOOD)
    summary = await import_file(db, path, shop=settings.shop, clock=clock)

    assert summary.errors == []
    assert (summary.rows, summary.orders_in_file) == (6, 5)
    assert (summary.customers_created, summary.orders_created) == (2, 5)
    async with db.read_session() as session:
        anna = await session.scalar(select(Customer).where(Customer.external_id == "c1"))
        ivan = await session.scalar(select(Customer).where(Customer.external_id == "c2"))
        a1 = await session.scalar(select(Order).where(Order.external_id == "A-1"))
        lines = (await session.scalars(
            select(OrderItem).where(OrderItem.order_id == a1.id).order_by(OrderItem.id)
        )).all()
    assert (anna.name, anna.phone, anna.email) == ("Анна", "+79161234567", "anna@example.com")
    # The cancelled order does not count; the returned one counts but adds no net spend.
    assert (anna.orders_count, anna.gross_spend, anna.net_spend) == (2, 700_000, 500_000)
    assert anna.first_order_at == datetime(2025, 1, 10, 9, 0, tzinfo=UTC)
    assert anna.last_order_at == datetime(2025, 3, 5, 9, 30, tzinfo=UTC)
    assert anna.favourite_category == "Обувь"
    assert [(i.sku, i.category, i.price, i.quantity) for i in lines] == [
        ("SHOE-1", "Обувь", 400_000, 1), ("CAP-1", "Аксессуары", 50_000, 2)
    ]
    # History: a delivered order's return window counts from the order, not the import.
    assert a1.delivered_at == datetime(2025, 1, 10, 9, 0, tzinfo=UTC)
    assert (ivan.orders_count, ivan.net_spend, ivan.favourite_category) == (2, 250_000, "Одежда")


async def test_reimport_changes_nothing(db, settings, clock, tmp_path):
    path = write(tmp_path, GOOD)
    await import_file(db, path, shop=settings.shop, clock=clock)
    before = await snapshot(db)

    clock.advance(days=1)
    again = await import_file(db, path, shop=settings.shop, clock=clock)

    assert not again.changed and again.errors == []
    assert (again.customers_unchanged, again.orders_unchanged) == (2, 5)
    assert await snapshot(db) == before


async def test_reimport_applies_a_status_change_once(db, settings, clock, tmp_path):
    await import_file(db, write(tmp_path, GOOD), shop=settings.shop, clock=clock)
    changed = [line.replace("B-1,c2,2025-02-01T08:00:00+00:00,paid",
                            "B-1,c2,2025-02-01T08:00:00+00:00,returned") for line in GOOD]
    path = write(tmp_path, changed, "changed.csv")
    for _ in range(2):
        summary = await import_file(db, path, shop=settings.shop, clock=clock)
    assert (summary.orders_updated, summary.orders_unchanged) == (0, 5)
    async with db.read_session() as session:
        ivan = await session.scalar(select(Customer).where(Customer.external_id == "c2"))
    assert (ivan.orders_count, ivan.net_spend) == (2, 100_000)


async def test_broken_lines_are_reported_and_good_ones_import(db, settings, clock, tmp_path):
    lines = [
        HEADER,
        "G-1,c1,2025-01-10T12:00:00+03:00,delivered,100000,RUB,S-1,Обувь,100000,1,Анна,,",  # 2
        "X-1,c9,10.01.2025,delivered,100000,RUB,S-1,Обувь,100000,1,,,",  # 3 bad date
        "X-2,c9,2025-01-10T12:00:00+03:00,delivered,-5,RUB,S-1,Обувь,100000,1,,,",  # 4
        "X-3,c9,2025-01-10T12:00:00+03:00,lost,100000,RUB,S-1,Обувь,100000,1,,,",  # 5
        "N-4,c9,2025-01-10T12:00:00,paid,100000,RUB,S-1,Обувь,100000,1,,,",  # 6 local time
        "X-5,c9,2025-01-10T12:00:00+03:00,paid,1000.50,RUB,S-1,Обувь,100000,1,,,",  # 7
        "X-6,c9,2025-01-10T12:00:00+03:00,paid,100000,USD,S-1,Обувь,100000,1,,,",  # 8
        "X-7,c9,2025-01-10T12:00:00+03:00,paid,100000,RUB,S-1,Обувь,100000,0,,,",  # 9
        "X-8,c8,2025-01-10T12:00:00+03:00,paid,100000,RUB,S-1,Обувь,100000,1,,not a phone,",
        "G-2,c1,2025-02-10T12:00:00+03:00,paid,70000,RUB,S-2,Сумки,70000,1,,,",  # 11
        "X-9,c1,2025-02-11T12:00:00+03:00,paid,70000,RUB,S-2,Сумки,70000,1,,,",  # 12
        "X-9,c1,2025-02-11T12:00:00+03:00,paid,99999,RUB,S-3,Сумки,29999,1,,,",  # 13 differs
        "",
        "X-10,c1,2025-02-11T12:00:00+03:00,paid,70000,RUB,S-2,Сумки,70000,1,,,,extra",  # 15
    ]
    # Excel's habits: a BOM and semicolons.
    path = write(tmp_path, lines, encoding="utf-8-sig", sep=";")
    summary = await import_file(db, path, shop=settings.shop, clock=clock)

    reasons = {error.line: error.reason for error in summary.errors}
    assert sorted(reasons) == [3, 4, 5, 7, 8, 9, 10, 13, 15]
    assert "not an ISO 8601" in reasons[3]
    assert "negative" in reasons[4]
    assert "unknown status 'lost'" in reasons[5]
    assert "minor units" in reasons[7]
    assert "currency" in reasons[8]
    assert "quantity" in reasons[9]
    assert "phone" in reasons[10]
    assert "total" in reasons[13] and "line 12" in reasons[13]
    assert "more fields" in reasons[15]
    assert {e.order_id for e in summary.errors} >= {"X-1", "X-9", "X-10"}
    assert (summary.orders_created, summary.orders_skipped) == (3, 9)
    async with db.read_session() as session:
        imported = set(await session.scalars(select(Order.external_id)))
        anna = await session.scalar(select(Customer).where(Customer.external_id == "c1"))
    assert imported == {"G-1", "G-2", "N-4"}
    assert (anna.orders_count, anna.net_spend) == (2, 170_000)


def test_unreadable_files(tmp_path):
    with pytest.raises(ImportFileError, match="cannot read"):
        read_file(tmp_path / "missing.csv")
    (tmp_path / "cp1251.csv").write_bytes(HEADER.encode() + "\nA,b,Анна".encode("cp1251"))
    with pytest.raises(ImportFileError, match="not UTF-8"):
        read_file(tmp_path / "cp1251.csv")
    (tmp_path / "header.csv").write_text("id,customer,date\n1,2,3\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match="missing column"):
        read_file(tmp_path / "header.csv")


def test_cli_imports_reports_and_exit_codes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("PROMOBOT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}")
    path = write(tmp_path, [*GOOD, "Z-1,c3,yesterday,paid,1,RUB,,,,,,,"])

    assert run_cli(["import-orders", str(path)]) == 0
    out = capsys.readouterr().out
    assert "customers: 2 created" in out and "orders: 5 created" in out
    assert "1 error(s)" in out and "line 8 (order Z-1): placed_at 'yesterday'" in out

    assert run_cli(["import-orders", str(path)]) == 0
    assert "orders: 0 created, 0 updated, 5 unchanged" in capsys.readouterr().out

    assert run_cli(["import-orders", str(tmp_path / "nope.csv")]) == 1
    assert "cannot read" in capsys.readouterr().err
