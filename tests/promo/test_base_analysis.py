"""The base analysis (`promobot analyze`, `/analyze`): figures a test recomputes on its
own from the orders it placed, the recommendations they lead to, and the warning when
too few come back."""

from __future__ import annotations

import itertools
import random
import statistics
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from bot.commands.demo import seed_shop
from bot.config import ComebackSettings
from bot.db.models import Order, OrderItem
from bot.promo.shop.analysis import analyze, quantile, recommend
from bot.texts.base_analysis import analysis_lines
from tests.support import factories
from tests.support.shop import order


async def _shop(db, settings, clock, rng: random.Random) -> list[dict]:
    """Customers with 1–5 orders at random intervals; some cancelled (they do not count),
    some returned, some with a discount. What was placed is returned to recompute from."""
    placed = []
    start = clock() - timedelta(days=400)
    for n in range(40):
        customer = (await factories.customer(db, f"c{n}", now=clock())).id
        moment = start + timedelta(days=rng.randint(0, 30))
        for k in range(rng.choice((1, 1, 2, 3, 5))):
            status = rng.choice(("delivered",) * 6 + ("cancelled", "returned"))
            total = rng.randrange(100_000, 900_000, 100)
            category = rng.choice(("tea", "cups", "sweets"))
            await order(db, settings, f"o{n}-{k}", customer, placed_at=moment, now=clock(),
                        status=status, total=total, category=category)
            placed.append({"customer": customer, "at": moment, "status": status,
                           "total": total, "category": category})
            moment += timedelta(days=rng.randint(3, 90), hours=rng.randint(0, 23))
    return placed


async def test_the_figures_are_the_orders_own(db, settings, clock) -> None:
    placed = await _shop(db, settings, clock, random.Random(7))
    analysis = await analyze(db, clock())
    counted = [o for o in placed if o["status"] != "cancelled"]
    by_customer: dict[int, list] = {}
    for o in sorted(counted, key=lambda o: o["at"]):
        by_customer.setdefault(o["customer"], []).append(o)
    assert analysis.customers == len(by_customer)
    assert analysis.repeat_customers == sum(len(v) >= 2 for v in by_customer.values())
    assert analysis.orders == len(counted)
    assert analysis.returned_orders == sum(o["status"] == "returned" for o in counted)
    assert analysis.revenue == sum(o["total"] for o in counted)
    gaps = sorted(int((b["at"] - a["at"]).total_seconds() // 86_400)
                  for orders in by_customer.values() for a, b in itertools.pairwise(orders))
    assert analysis.intervals.count == len(gaps)
    # Nearest rank, as a reader would count along the sorted gaps.
    assert analysis.intervals.median == gaps[(len(gaps) + 1) // 2 - 1]
    assert analysis.intervals.p90 == gaps[-(-9 * len(gaps) // 10) - 1]
    recent = [o["total"] for o in counted if o["at"] >= clock() - timedelta(days=180)]
    assert analysis.average_order == round(statistics.mean(recent))
    bought: dict[str, dict[int, int]] = {}
    for o in counted:
        bought.setdefault(o["category"], {}).setdefault(o["customer"], 0)
        bought[o["category"]][o["customer"]] += 1
    assert {(c.name, c.buyers, c.again) for c in analysis.categories} == {
        (name, len(buyers), sum(n >= 2 for n in buyers.values()))
        for name, buyers in bought.items()}


async def test_the_ladder_and_the_average_it_suggests(db, settings, clock) -> None:
    await _shop(db, settings, clock, random.Random(11))
    analysis = await analyze(db, clock())
    suggested = recommend(analysis, settings.comeback).variables
    ladder = suggested["PROMOBOT_COMEBACK_LADDER"]
    first, second = (int(step.split(":")[0]) for step in ladder.split(","))
    assert first == max(5 * round(analysis.intervals.p75 / 5), 35)
    assert second >= first + 5 and ladder.endswith(":12+fs")  # the rungs' offers kept
    # The suggestion is a valid setting.
    ComebackSettings(comeback_ladder=ladder)
    assert suggested["PROMOBOT_GUARDRAIL_AVERAGE_ORDER_VALUE"] == str(analysis.average_order)
    lines = analysis_lines(analysis, recommend(analysis, settings.comeback), "RUB", "en")
    assert f"PROMOBOT_COMEBACK_LADDER={ladder}" in lines
    assert not any("the problem is not discounts" in line for line in lines)


async def test_when_few_come_back_it_says_discounts_are_not_the_answer(db, settings,
                                                                    clock) -> None:
    for n in range(10):
        customer = (await factories.customer(db, f"c{n}", now=clock())).id
        await order(db, settings, f"o{n}", customer, placed_at=clock() - timedelta(days=50),
                    now=clock())
    customer = (await factories.customer(db, "loyal", now=clock())).id
    for k in range(2):
        await order(db, settings, f"l{k}", customer, now=clock(),
                    placed_at=clock() - timedelta(days=40 - 20 * k))
    analysis = await analyze(db, clock())
    assert analysis.repeat_share == Decimal(1) / 11 and analysis.few_come_back
    lines = analysis_lines(analysis, recommend(analysis, settings.comeback), "RUB", "ru")
    assert "Вернулись за вторым заказом: 1 (9,1\u00a0%)" in lines
    assert lines[-4].startswith("⚠️ Возвращается меньше 15\u00a0% покупателей")


async def test_an_empty_shop_has_nothing_to_suggest(db, settings, clock) -> None:
    analysis = await analyze(db, clock())
    assert (analysis.customers, analysis.intervals.median, analysis.average_order) == (
        0, None, None)
    assert recommend(analysis, settings.comeback).variables == {}
    assert analysis_lines(analysis, recommend(analysis, settings.comeback), "RUB", "en")[:2] == [
        "Customers with orders: 0", "Came back for a second order: 0 (0%)"]


def test_quantiles_of_a_histogram() -> None:
    histogram = [(1, 2), (5, 1), (9, 1)]  # 1, 1, 5, 9
    assert [quantile(histogram, q) for q in (0.25, 0.5, 0.75, 0.9)] == [1, 1, 5, 9]
    assert quantile([], 0.5) is None


async def test_the_demo_shop_read_back_row_by_row(db, settings, clock) -> None:
    """`/analyze` on the demo shop: each figure recomputed here from every order row."""
    await seed_shop(db, settings, customers=150, seed=3, clock=clock)
    analysis = await analyze(db, clock())
    async with db.read_session() as session:
        orders = (await session.execute(
            select(Order.customer_id, Order.placed_at, Order.status, Order.total,
                   Order.discount, Order.returned_amount, Order.id))).all()
        lines = (await session.execute(
            select(Order.customer_id, Order.id, Order.status, OrderItem.category)
            .join(OrderItem, OrderItem.order_id == Order.id))).all()
    counted = [o for o in orders if o.status != "cancelled"]
    by_customer: dict[int, list] = {}
    for o in sorted(counted, key=lambda o: (o.placed_at, o.id)):
        by_customer.setdefault(o.customer_id, []).append(o.placed_at)
    assert (analysis.customers, analysis.repeat_customers) == (
        len(by_customer), sum(len(times) >= 2 for times in by_customer.values()))
    assert analysis.orders == len(counted) > 100
    assert analysis.returned_orders == sum(
        o.status in ("returned", "partially_returned") for o in counted)
    assert (analysis.revenue, analysis.discounts, analysis.returned_amount) == (
        sum(o.total for o in counted), sum(o.discount for o in counted),
        sum(o.returned_amount for o in counted))
    gaps = sorted(int((b - a).total_seconds() // 86_400)
                  for times in by_customer.values() for a, b in itertools.pairwise(times))
    assert analysis.intervals.count == len(gaps)
    assert analysis.intervals.p25 == gaps[-(-len(gaps) // 4) - 1]
    assert analysis.intervals.median == gaps[-(-len(gaps) // 2) - 1]
    orders_of: dict[str, dict[int, set[int]]] = {}
    for line in lines:
        if line.status != "cancelled" and line.category is not None:
            orders_of.setdefault(line.category, {}).setdefault(line.customer_id, set()).add(
                line.id)
    expected = sorted(((name, len(buyers), sum(len(ids) >= 2 for ids in buyers.values()))
                       for name, buyers in orders_of.items()), key=lambda c: (-c[1], c[0]))
    assert [(c.name, c.buyers, c.again) for c in analysis.categories] == expected[:8]
