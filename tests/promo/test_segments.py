from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.promo.customers.segments import (
    SEGMENTS,
    count,
    day_cutoff,
    get_segment,
    iter_ids,
    new_but_silent,
    regulars,
    silent_between,
)
from bot.promo.shop.orders import upsert_order
from tests.support import factories

MSK = ZoneInfo("Europe/Moscow")


def utc(*args):
    return datetime(*args, tzinfo=UTC)


async def add_customers(db, now, **last_orders):
    """name=(orders_count, last_order_at[, extra fields]) → customers; returns name → id.

    The table form of `factories.customer` these tests read best in: one line a customer."""
    ids = {}
    for name, (orders, last, *extra) in last_orders.items():
        row = await factories.customer(
            db, name, now=now, orders_count=orders, last_order_at=last, first_order_at=last,
            net_spend=100_000 * orders, **(extra[0] if extra else {}),
        )
        ids[name] = row.id
    return ids


async def pick(db, query):
    async with db.read_session() as session:
        return set((await session.scalars(query)).all())


def test_day_cutoff_is_local_midnight(clock):
    # 1 June 15:00 in Moscow: 60 days silent means the last order was on 2 April or before.
    assert day_cutoff(clock(), 60, MSK) == utc(2026, 4, 2, 21, 0)
    assert day_cutoff(clock(), 1, MSK) == utc(2026, 5, 31, 21, 0)
    assert day_cutoff(clock(), 60, UTC) == utc(2026, 4, 3, 0, 0)


async def test_comeback_steps_split_exactly_at_local_midnights(db, clock):
    ids = await add_customers(
        db, clock(),
        day60_last_second=(2, utc(2026, 4, 2, 20, 59, 59)),  # 2 April 23:59:59 MSK
        day59_first_second=(2, utc(2026, 4, 2, 21, 0)),  # 3 April 00:00 MSK
        day89=(1, utc(2026, 3, 3, 21, 0)),  # 4 March 00:00 MSK
        day90=(1, utc(2026, 3, 3, 20, 59, 59)),  # 3 March 23:59:59 MSK
        day200=(4, utc(2025, 11, 13, 12, 0)),
        recent=(5, utc(2026, 5, 30, 12, 0)),
        never=(0, None),
    )
    now = clock()
    comeback_60 = get_segment("comeback_60").select(now=now, tz=MSK)
    comeback_90 = get_segment("comeback_90").select(now=now, tz=MSK)
    almost_lost = get_segment("almost_lost").select(now=now, tz=MSK)
    assert await pick(db, comeback_60) == {ids["day60_last_second"], ids["day89"]}
    assert await pick(db, comeback_90) == {ids["day90"]}
    assert await pick(db, almost_lost) == {ids["day90"], ids["day200"]}

    # Any time on the same local day gives the same answer; the next day moves one along.
    clock.set(utc(2026, 6, 1, 20, 59, 59))
    assert await pick(db, get_segment("comeback_60").select(now=clock(), tz=MSK)) == {
        ids["day60_last_second"], ids["day89"],
    }
    clock.set(utc(2026, 6, 1, 21, 0))
    assert await pick(db, get_segment("comeback_60").select(now=clock(), tz=MSK)) == {
        ids["day60_last_second"], ids["day59_first_second"],
    }


async def test_new_but_silent_wants_exactly_one_order(db, clock):
    long_ago = clock() - timedelta(days=45)
    ids = await add_customers(
        db, clock(), one=(1, long_ago), two=(2, long_ago),
        one_recent=(1, clock() - timedelta(days=3)),
    )
    assert await pick(db, new_but_silent(30, now=clock(), tz=MSK)) == {ids["one"]}
    assert await pick(db, regulars(2)) == {ids["two"]}


async def test_filters_and_counting(db, clock):
    long_ago = clock() - timedelta(days=100)
    ids = await add_customers(
        db, clock(),
        tea_fan=(3, long_ago, {"favourite_category": "tea"}),
        coffee_fan=(3, long_ago, {"favourite_category": "coffee"}),
        tea_opted_out=(4, long_ago, {"favourite_category": "tea", "marketing_opt_in": False}),
    )
    segment = get_segment("regulars")
    tea = segment.select(now=clock(), tz=MSK, category="tea")
    assert await pick(db, tea) == {ids["tea_fan"], ids["tea_opted_out"]}
    reachable = segment.select(now=clock(), tz=MSK, category="tea", only_opted_in=True)
    assert await pick(db, reachable) == {ids["tea_fan"]}
    async with db.read_session() as session:
        assert await count(session, segment.select(now=clock(), tz=MSK)) == 3
        assert await count(session, segment.select(now=clock(), tz=MSK, min_orders=4)) == 1
    with pytest.raises(ValueError):
        segment.select(now=clock(), tz=MSK, days=3)


async def test_iter_ids_pages_by_id(db, clock):
    ids = await add_customers(db, clock(), **{f"c{i}": (3, clock()) for i in range(7)})
    async with db.read_session() as session:
        batches = [batch async for batch in iter_ids(session, regulars(), batch_size=3)]
    assert [len(b) for b in batches] == [3, 3, 1]
    assert [i for b in batches for i in b] == sorted(ids.values())


async def test_a_customer_who_ordered_in_between_drops_out(db, settings, clock):
    async def order(order_id, placed_at):
        async with db.session() as session:
            await upsert_order(
                session, order_id, customer="c-1", placed_at=placed_at, status="delivered",
                total=100_000, currency="RUB", items=[], now=clock(), shop=settings.shop,
            )
            await session.commit()

    await factories.customer(db, now=clock())
    await order("o-1", clock() - timedelta(days=70))
    step = get_segment("comeback_60")
    assert len(await pick(db, step.select(now=clock(), tz=MSK))) == 1
    await order("o-2", clock() - timedelta(days=10))
    assert await pick(db, step.select(now=clock(), tz=MSK)) == set()
    assert await pick(db, silent_between(5, None, now=clock(), tz=MSK)) != set()


def test_every_registered_segment_builds(clock):
    for name, segment in SEGMENTS.items():
        assert segment.name == name
        assert segment.description_key == f"segment.{name}"
        assert segment.summary.format(**segment.params)
        segment.select(now=clock(), tz=MSK)
    with pytest.raises(KeyError):
        get_segment("nope")
    with pytest.raises(ValueError):
        silent_between(90, 60, now=clock(), tz=MSK)
