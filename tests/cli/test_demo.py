"""`promobot demo`: a demo shop with every segment, whose aggregates are what the
order upserts would have produced."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.cli import run_cli
from bot.commands.demo import PREFIX, plan, seed_shop
from bot.db.models import CodeCustomerUsage, Customer, Order, OrderItem, PromoCode, Redemption
from bot.promo.codes.offers import Item
from bot.promo.customers import segments
from bot.promo.customers.profiles import upsert_customer
from bot.promo.shop.orders import upsert_order

AGGREGATES = ("orders_count", "gross_spend", "net_spend", "first_order_at", "last_order_at",
              "favourite_category")


async def test_demo_has_every_segment(db, settings, clock):
    summary = await seed_shop(db, settings, customers=150, seed=3, clock=clock)
    kinds = plan(150, seed=3, now=clock(), zone=settings.shop.timezone).kinds
    assert summary.customers == 150 and summary.orders > 300 and summary.redemptions > 0
    assert set(summary.statuses) == {"paid", "delivered", "cancelled", "returned",
                                     "partially_returned"}

    tz, now = ZoneInfo(settings.shop.timezone), clock()
    async with db.read_session() as session:
        async def ids(query) -> set[str]:
            rows = await session.scalars(
                select(Customer.external_id).where(Customer.id.in_(query))
            )
            return set(rows)

        silent = await ids(segments.new_but_silent(now=now, tz=tz))
        lost = await ids(segments.almost_lost(now=now, tz=tz))
        lapsed_60 = await ids(segments.silent_between(60, 90, now=now, tz=tz))
        regulars = await ids(segments.regulars())
        categories = set(await session.scalars(select(Customer.favourite_category).distinct()))
    of_kind = {kind: {c for c, k in kinds.items() if k == kind} for kind in set(kinds.values())}
    assert of_kind["one_silent"] and of_kind["one_silent"] <= silent
    assert of_kind["lapsed_90"] and of_kind["lapsed_90"] <= lost
    assert of_kind["lapsed_60"] and of_kind["lapsed_60"] <= lapsed_60
    assert of_kind["regular"] and of_kind["regular"] <= regulars
    assert {"Обувь", "Одежда", "Аксессуары", "Сумки", "Распродажа"} <= categories


async def test_demo_aggregates_equal_a_replay_through_upsert_order(db, settings, clock):
    await seed_shop(db, settings, customers=40, seed=11, clock=clock)
    async with db.session() as session:
        orders = (await session.scalars(select(Order).order_by(Order.id))).all()
        lines: dict[int, list[Item]] = {}
        for item in (await session.scalars(select(OrderItem).order_by(OrderItem.id))).all():
            lines.setdefault(item.order_id, []).append(
                Item(sku=item.sku, price=item.price, quantity=item.quantity, category=item.category)
            )
        seeded = {c.id: c for c in (await session.scalars(select(Customer))).all()}
        twins: dict[int, int] = {}
        for customer_id, customer in seeded.items():
            twin, _ = await upsert_customer(session, "replay-" + customer.external_id, now=clock())
            twins[customer_id] = twin.id
        for order in orders:
            await upsert_order(
                session, "replay-" + order.external_id, customer=twins[order.customer_id],
                placed_at=order.placed_at, status=order.status, total=order.total,
                currency=order.currency, items=lines.get(order.id, []),
                discount=order.discount, returned_amount=order.returned_amount,
                now=clock(), shop=settings.shop,
            )
        await session.commit()
        replayed = {
            c.external_id: c for c in (await session.scalars(
                select(Customer).where(Customer.external_id.like("replay-%"))
            )).all()
        }
    assert len(replayed) == 40
    for customer in seeded.values():
        twin = replayed["replay-" + customer.external_id]
        assert [getattr(customer, a) for a in AGGREGATES] == [getattr(twin, a) for a in AGGREGATES]


async def test_demo_code_counters_match_redemptions(db, settings, clock):
    await seed_shop(db, settings, customers=300, seed=5, clock=clock)
    async with db.read_session() as session:
        live = Redemption.released_at.is_(None)
        by_code = dict((await session.execute(
            select(Redemption.code_id, func.count()).where(live).group_by(Redemption.code_id)
        )).all())
        used = dict((await session.execute(select(PromoCode.id, PromoCode.used_count))).all())
        usage = (await session.execute(
            select(CodeCustomerUsage.code_id, func.sum(CodeCustomerUsage.used_count))
            .group_by(CodeCustomerUsage.code_id)
        )).all()
        released = await session.scalar(
            select(func.count()).select_from(Redemption).where(Redemption.released_at.is_not(None))
        )
        unused_personal = await session.scalar(
            select(func.count()).select_from(PromoCode)
            .where(PromoCode.customer_id.is_not(None), PromoCode.used_count == 0,
                   PromoCode.expires_at > clock())
        )
    assert by_code and all(used[code_id] == count for code_id, count in by_code.items())
    assert all(used[code_id] == 0 for code_id in used.keys() - by_code.keys())
    assert all(int(total) == by_code.get(code_id, 0) for code_id, total in usage)
    assert {code_id for code_id, _total in usage} >= by_code.keys()
    assert released and unused_personal


def test_demo_cli_seeds_once_and_spares_real_shops(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROMOBOT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'demo.sqlite3'}")
    assert run_cli(["demo", "--customers", "50", "--seed", "1"]) == 0
    assert "seeded 50 customers" in capsys.readouterr().out
    assert run_cli(["demo", "--customers", "50"]) == 0
    assert "already seeded (50 demo customers)" in capsys.readouterr().out

    monkeypatch.setenv("PROMOBOT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'real.sqlite3'}")
    orders = tmp_path / "orders.csv"
    orders.write_text("order_id,customer_id,placed_at,status,total\n"
                      "1,shopper,2025-01-01T10:00:00+03:00,paid,1000\n", encoding="utf-8")
    assert run_cli(["import-orders", str(orders)]) == 0
    capsys.readouterr()
    assert run_cli(["demo", "--customers", "20"]) == 1
    assert "already has 1 real customers" in capsys.readouterr().err
    assert run_cli(["demo", "--customers", "20", "--force"]) == 0
    assert "seeded 20 customers" in capsys.readouterr().out


def test_plan_is_fixed_by_the_seed(clock):
    first, second = plan(30, seed=9, now=clock()), plan(30, seed=9, now=clock())
    assert first.customers == second.customers and first.orders == second.orders
    assert all(c["external_id"].startswith(PREFIX) for c in first.customers)
