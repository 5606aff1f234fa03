"""The anti-guessing brake: failures that look like guessing, counted per customer and per
shopper client, never per API key alone; a broken body is 400 first; the counters are
shared by every instance on one PostgreSQL or one Redis."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from limits.errors import StorageError
from redis.asyncio import Redis
from sqlalchemy import update

import tests.support.factories as factories
from bot.api.app import create_app
from bot.cluster import Cluster, Store
from bot.cluster.counters import (
    SETTLE_EVERY,
    Combined,
    Counters,
    DatabaseStorage,
    MemoryCounters,
    Scope,
    Taken,
)
from bot.config import Settings
from bot.db import Database, create_database
from bot.db.models import CodeStatus, DiscountType, PromoCode
from bot.promo.codes.offers import Offer
from tests.support.api import Api
from tests.support.stores import REDIS_URL, redis_cluster


def check(code: str, customer: str = "c1", total: int = 10_000, **extra: Any) -> dict[str, Any]:
    return {"code": code, "customer_id": customer, "order": {"total": total}, **extra}


def redeem(code: str, customer: str, order_id: str, **extra: Any) -> dict[str, Any]:
    return {**check(code, customer, **extra), "order_id": order_id}


@asynccontextmanager
async def serving(settings: Settings, db: Database, clock: Any, *,
                  cluster: Cluster | None = None, **overrides: Any) -> AsyncIterator[Api]:
    """One API instance, as a process of the deployment would run it."""
    app = create_app(settings.replace(**overrides) if overrides else settings, db,
                     clock=clock, cluster=cluster)
    async with TestClient(TestServer(app)) as client:
        yield Api(client)


@pytest.fixture
async def redis_store(db: Database) -> AsyncIterator[Cluster]:
    """A Redis of this test's own (skipped when none answers)."""
    async for cluster in redis_cluster(db):
        yield cluster


async def test_guesses_hold_back_that_customer_not_the_shop(
    api: Api, db: Database, clock: Any
) -> None:
    """100 failed guesses for c1: c1 is held back; c2 (same shop, same key) validates."""
    for name in ("c1", "c2"):
        await factories.customer(db, name, now=clock())
    code = await factories.code(db, now=clock(), usage_limit=None)
    statuses = []
    for attempt in range(100):
        status, body, headers = await api.post("/codes/validate", check(f"GUESS{attempt:05}"))
        statuses.append(status)
    assert statuses == [200] * 30 + [429] * 70
    assert body["error"]["code"] == "rate_limited"
    assert 1 <= int(headers["Retry-After"]) <= 60
    status, _, _ = await api.post("/codes/validate", check(code.code, "c1"))
    assert status == 429
    status, _, _ = await api.post("/codes/redeem", redeem(code.code, "c1", "o1"))
    assert status == 429
    # The customer is held whichever key the shop calls with.
    assert (await api.post("/codes/validate", check(code.code, "c1"), key="other-key"))[0] == 429
    status, body, _ = await api.post("/codes/validate", check(code.code, "c2"))
    assert (status, body["valid"]) == (200, True)
    # Successes do not count: c2 keeps validating.
    for _ in range(40):
        assert (await api.post("/codes/validate", check(code.code, "c2")))[0] == 200
    status, body, _ = await api.post("/codes/redeem", redeem(code.code, "c2", "o2"))
    assert status == 200 and body["redemption_id"]


async def test_a_broken_body_is_400_even_when_the_limit_is_reached(
    make_api: Any, db: Database, clock: Any
) -> None:
    await factories.customer(db, "c1", now=clock())
    async with make_api(api_failed_validations_per_minute=3) as api:
        for _ in range(3):
            assert (await api.post("/codes/validate", check("WRONGCODE1")))[0] == 200
        assert (await api.post("/codes/validate", check("WRONGCODE1")))[0] == 429
        for path in ("/codes/validate", "/codes/redeem"):
            status, body, _ = await api.post(path, data='{"code": "WRONGCODE1", ')
            assert (status, body["error"]["code"]) == (400, "invalid_json")
            status, body, _ = await api.post(path, data="")
            assert (status, body["error"]["code"]) == (400, "invalid_json")
            status, body, _ = await api.post(path, {"code": "WRONGCODE1", "customer_id": "c1"})
            assert (status, body["error"]["code"]) == (422, "invalid_body")
            status, body, _ = await api.post(path, {**check("WRONGCODE1"), "shopper": "x" * 129})
            assert (status, body["error"]["code"]) == (422, "invalid_body")


async def test_failures_that_are_not_guessing_never_limit(
    api: Api, db: Database, clock: Any
) -> None:
    """A cart under the minimum, a used-up code: a shopper's real code not fitting. The
    measured case: 59 failed redeems of one used code made the next validate of anybody 429."""
    for name in ("c1", "c2"):
        await factories.customer(db, name, now=clock())
    small = await factories.code(db, Offer(DiscountType.PERCENT, 10, min_order=50_000),
                                 now=clock(), usage_limit=None, per_customer_limit=None)
    for n in range(100):
        status, body, _ = await api.post("/codes/validate", check(small.code, "c1"))
        assert (status, body["reason"]) == (200, "min_order")
        await _now_and_then_settled(n)
    once = await factories.code(db, now=clock())
    assert (await api.post("/codes/redeem", redeem(once.code, "c1", "o0")))[0] == 200
    for n in range(1, 60):
        status, body, _ = await api.post("/codes/redeem", redeem(once.code, "c2", f"o{n}"))
        assert (status, body["error"]["code"]) == (409, "used_up")
        await _now_and_then_settled(n)
    status, body, _ = await api.post("/codes/validate", check(small.code, "c1", 60_000))
    assert (status, body["valid"]) == (200, True)


async def _now_and_then_settled(checks: int) -> None:
    """A shared store's give-backs settle every `SETTLE_EVERY` (a place owed is still
    held): a test can send one customer's checks faster than any shopper, 30 within it."""
    if checks % 10 == 9:
        await asyncio.sleep(2 * SETTLE_EVERY)


async def test_unknown_revoked_and_not_yours_count(
    make_api: Any, db: Database, clock: Any
) -> None:
    owner = await factories.customer(db, "owner", now=clock())
    await factories.customer(db, "c1", now=clock())
    theirs = await factories.code(db, now=clock(), customer_id=owner.id)
    revoked = await factories.code(db, now=clock())
    async with db.session() as session:
        await session.execute(update(PromoCode).where(PromoCode.id == revoked.id)
                              .values(status=CodeStatus.REVOKED))
        await session.commit()
    async with make_api(api_failed_validations_per_minute=3) as api:
        _, body, _ = await api.post("/codes/validate", check(theirs.code))
        assert body["reason"] == "not_yours"
        _, body, _ = await api.post("/codes/validate", check(revoked.code))
        assert body["reason"] == "revoked"
        status, body, _ = await api.post("/codes/redeem", redeem("NOSUCHCODE", "c1", "o1"))
        assert (status, body["error"]["code"]) == (404, "unknown")
        status, _, _ = await api.post("/codes/validate", check(theirs.code, "owner"))
        assert status == 200
        assert (await api.post("/codes/validate", check(theirs.code)))[0] == 429


async def test_an_unknown_customer_is_not_guessing(api: Api, db: Database, clock: Any) -> None:
    """No code is looked at for a customer the shop never sent: nothing to count."""
    await factories.customer(db, "c1", now=clock())
    code = await factories.code(db, now=clock())
    for n in range(40):
        status, body, _ = await api.post("/codes/validate", check(code.code, f"nobody{n}"))
        assert (status, body["error"]["code"]) == (404, "unknown_customer")
    assert (await api.post("/codes/validate", check(code.code)))[0] == 200


async def test_a_shopper_client_is_limited_across_customers(
    make_api: Any, db: Database, clock: Any
) -> None:
    """One client guessing under many customer ids is held back by its IP or its id."""
    await factories.customers(db, 12, now=clock())
    code = await factories.code(db, now=clock(), usage_limit=None)
    async with make_api(api_failed_validations_per_minute=3) as api:
        ip = {"X-Shopper-Ip": "2001:db8:1:2::10"}
        for n in range(3):
            assert (await api.post("/codes/validate", check("WRONGCODE1", f"c{n}"),
                                   headers=ip))[0] == 200
        # Another address of the same /64 is the same host.
        status, _, headers = await api.post("/codes/validate", check(code.code, "c3"),
                                            headers={"X-Shopper-Ip": "2001:db8:1:2::99"})
        assert status == 429 and 1 <= int(headers["Retry-After"]) <= 60
        status, _, _ = await api.post("/codes/validate", check(code.code, "c3"),
                                      headers={"X-Shopper-Ip": "2001:db8:1:3::10"})
        assert status == 200
        assert (await api.post("/codes/validate", check(code.code, "c3")))[0] == 200

        for n in range(4, 7):
            assert (await api.post("/codes/validate",
                                   check("WRONGCODE1", f"c{n}", shopper="sess-a")))[0] == 200
        assert (await api.post("/codes/redeem",
                               redeem(code.code, "c7", "o1", shopper="sess-a")))[0] == 429
        status, body, _ = await api.post("/codes/redeem",
                                         redeem(code.code, "c7", "o1", shopper="sess-b"))
        assert status == 200 and body["redemption_id"]

        status, body, _ = await api.post("/codes/validate", check(code.code, "c8"),
                                         headers={"X-Shopper-Ip": "not-an-address"})
        assert (status, body["error"]["code"]) == (400, "invalid_header")


async def test_the_key_ceiling_is_a_last_resort(make_api: Any, db: Database, clock: Any) -> None:
    await factories.customers(db, 6, now=clock())
    code = await factories.code(db, now=clock(), usage_limit=None)
    async with make_api(api_failed_validations_per_key_per_minute=5) as api:
        for n in range(5):
            assert (await api.post("/codes/validate", check("WRONGCODE1", f"c{n}")))[0] == 200
        status, _, headers = await api.post("/codes/validate", check(code.code, "c5"))
        assert status == 429 and 1 <= int(headers["Retry-After"]) <= 60
        # Another key of the shop is another ceiling.
        status, body, _ = await api.post("/codes/validate", check(code.code, "c5"),
                                         key="other-key")
        assert (status, body["valid"]) == (200, True)


async def test_each_worker_holds_its_share_of_the_limit_in_memory(
    settings: Settings, db: Database, clock: Any
) -> None:
    """Counted in memory, 3 workers count apart: a guesser spread over them gets 6 in all."""
    await factories.customer(db, "c1", now=clock())
    async with serving(settings, db, clock, cluster=Cluster(Store.MEMORY, db),
                       api_failed_validations_per_minute=6, api_workers=3) as api:
        for _ in range(2):
            assert (await api.post("/codes/validate", check("WRONGCODE1")))[0] == 200
        assert (await api.post("/codes/validate", check("WRONGCODE1")))[0] == 429


async def test_a_window_ends() -> None:
    counters = Counters(MemoryCounters(), window=1)
    scope = Scope("customer", "a", 2)
    for _ in range(2):
        taken = await counters.take([scope])
        assert taken == Taken((scope,))
    refused = await counters.take([scope, Scope("customer", "b", 2)])
    assert (refused.held, refused.retry_after) == ((), 1)
    # "b" had its place given back when "a" refused the request.
    assert await counters.storage.get(counters._key(Scope("customer", "b", 2))) == 0
    await asyncio.sleep(1.1)
    assert (await counters.take([scope])).retry_after is None
    # A place given back is free again within the window.
    assert (await counters.take([scope])).retry_after is None
    await counters.give_back([scope])
    assert (await counters.take([scope])).retry_after is None
    assert (await counters.take([scope])).retry_after == 1


async def _limited_across(settings: Settings, db: Database, clock: Any,
                          *instances: tuple[Database, Cluster | None]) -> None:
    """Two instances (each its database handle and shared store): 4 failures for c1, 2 on
    each; then both hold c1 back, and c2 goes on."""
    for name in ("c1", "c2"):
        await factories.customer(db, name, now=clock())
    code = await factories.code(db, now=clock(), usage_limit=None)
    (first_db, first_store), (second_db, second_store) = instances
    async with (serving(settings, first_db, clock, cluster=first_store,
                        api_failed_validations_per_minute=4) as first,
                serving(settings, second_db, clock, cluster=second_store,
                        api_failed_validations_per_minute=4) as second):
        for api in (first, second, first, second):
            assert (await api.post("/codes/validate", check("WRONGCODE1")))[0] == 200
        for api in (first, second):
            status, _, headers = await api.post("/codes/validate", check(code.code))
            assert status == 429 and 1 <= int(headers["Retry-After"]) <= 60
            status, body, _ = await api.post("/codes/validate", check(code.code, "c2"))
            assert (status, body["valid"]) == (200, True)


async def test_instances_on_one_postgresql_share_the_counts(
    settings: Settings, db: Database, clock: Any
) -> None:
    if db.is_sqlite:
        pytest.skip("several processes share counters on PostgreSQL or Redis only")
    other_db = create_database(settings.db.url)  # a second process has engines of its own
    try:
        await _limited_across(settings, db, clock, (db, None), (other_db, None))
    finally:
        await other_db.dispose()


async def test_instances_on_one_redis_share_the_counts(
    settings: Settings, db: Database, clock: Any, redis_store: Cluster
) -> None:
    # The second process has a connection of its own to the same Redis and prefix.
    second_store = Cluster(Store.REDIS, db, Redis.from_url(REDIS_URL), redis_store.prefix)
    try:
        await _limited_across(settings, db, clock, (db, redis_store), (db, second_store))
    finally:
        await second_store.close()


async def test_the_app_opens_its_counters_in_redis_when_configured(
    settings: Settings, db: Database, clock: Any, redis_store: Cluster
) -> None:
    """With `PROMOBOT_REDIS_URL` and no cluster given, the app opens (and closes) its own."""
    await factories.customer(db, "c1", now=clock())
    bot_id = random.randint(10**9, 10**10)  # the keys' prefix: this test's own
    redis_settings = settings.replace(redis_url=REDIS_URL, bot_token=f"{bot_id}:TEST-token")
    async with serving(redis_settings, db, clock, api_failed_validations_per_minute=2) as api:
        for _ in range(2):
            assert (await api.post("/codes/validate", check("WRONGCODE1")))[0] == 200
        assert (await api.post("/codes/validate", check("WRONGCODE1")))[0] == 429
    assert redis_store.redis is not None
    keys = [key async for key in redis_store.redis.scan_iter(f"promobot:{bot_id}:*")]
    assert keys
    await redis_store.redis.delete(*keys)


async def test_unreachable_counters_let_checkout_through(
    settings: Settings, db: Database, clock: Any
) -> None:
    """A Redis that is down must not stop every shopper's checkout (it is logged)."""
    await factories.customer(db, "c1", now=clock())
    code = await factories.code(db, now=clock())
    down = Cluster(Store.REDIS, db, Redis.from_url("redis://127.0.0.1:1/0"), "promobot-test")
    try:
        async with serving(settings, db, clock, cluster=down,
                           api_failed_validations_per_minute=1) as api:
            for _ in range(3):
                assert (await api.post("/codes/validate", check("WRONGCODE1")))[0] == 200
            status, body, _ = await api.post("/codes/validate", check(code.code))
            assert (status, body["valid"]) == (200, True)
    finally:
        await down.close()


async def test_database_counter_is_one_atomic_upsert(db: Database) -> None:
    if db.is_sqlite:
        pytest.skip("the database storage is PostgreSQL's")
    storage = DatabaseStorage(db, prefix="test")
    counts = await asyncio.gather(*(storage.incr("k", 1) for _ in range(40)))
    assert sorted(counts) == list(range(1, 41))
    assert await storage.get("k") == 40
    await asyncio.sleep(1.1)
    assert await storage.get("k") == 0
    assert await storage.incr("k", 60, amount=2) == 2  # a new window
    assert await storage.check()
    await storage.clear("k")
    assert await storage.get("k") == 0


async def _guesses_at_once(api: Api, db: Database, clock: Any, at_once: int, limit: int,
                           ceiling: int) -> None:
    """`at_once` failed guesses for c1 sent together: the checkout judges at most `limit`;
    the key's `ceiling` holds the same way for guesses spread over customers."""
    await factories.customers(db, at_once, now=clock())  # c0, c1, …
    statuses = [status for status, _, _ in await asyncio.gather(
        *(api.post("/codes/validate", check(f"GUESS{n:05}", "c1")) for n in range(at_once)))]
    assert 0 < statuses.count(200) <= limit
    assert statuses.count(200) + statuses.count(429) == at_once
    statuses = [status for status, _, _ in await asyncio.gather(
        *(api.post("/codes/redeem", redeem("GUESS00000", f"c{n}", f"o{n}"), key="other-key")
          for n in range(at_once)))]
    assert 0 < statuses.count(404) <= ceiling
    assert statuses.count(404) + statuses.count(429) == at_once


async def test_guesses_sent_at_once_cannot_pass_the_limits(
    make_api: Any, db: Database, clock: Any
) -> None:
    """In memory on SQLite, in `rate_counters` on PostgreSQL."""
    async with make_api(api_failed_validations_per_key_per_minute=40) as api:
        await _guesses_at_once(api, db, clock, 60, 30, 40)


async def test_guesses_sent_at_once_cannot_pass_the_limits_in_redis(
    settings: Settings, db: Database, clock: Any, redis_store: Cluster
) -> None:
    """120 hits at once: more than the Redis pool's 100 connections, which must queue
    rather than read as an unreachable store (and let every guess through)."""
    async with serving(settings, db, clock, cluster=redis_store,
                       api_failed_validations_per_key_per_minute=40) as api:
        await _guesses_at_once(api, db, clock, 60, 30, 40)


async def test_checks_that_are_not_guessing_give_their_places_back(
    make_api: Any, db: Database, clock: Any
) -> None:
    """Checks of a real code under its minimum, sent at once and one after another, leave
    nothing counted once their places are given back; nor does a check that ends in an
    error."""
    await factories.customer(db, "c1", now=clock())
    small = await factories.code(db, Offer(DiscountType.PERCENT, 10, min_order=50_000),
                                 now=clock(), usage_limit=None, per_customer_limit=None)
    async with make_api(api_failed_validations_per_minute=5) as api:
        for _ in range(3):
            results = await asyncio.gather(
                *(api.post("/codes/validate", check(small.code)) for _ in range(5)))
            assert [(status, body["reason"]) for status, body, _ in results] == \
                [(200, "min_order")] * 5
            await asyncio.sleep(2 * SETTLE_EVERY)  # a shared store's give-backs settle
        for n in range(10):
            status, body, _ = await api.post("/codes/validate", check(small.code, f"nobody{n}"),
                                             headers={"X-Shopper-Ip": "192.0.2.1"})
            assert (status, body["error"]["code"]) == (404, "unknown_customer")
            await asyncio.sleep(2 * SETTLE_EVERY)
        for _ in range(5):
            assert (await api.post("/codes/validate", check("WRONGCODE1"),
                                   headers={"X-Shopper-Ip": "192.0.2.1"}))[0] == 200
        status, _, headers = await api.post("/codes/validate", check(small.code))
        assert status == 429 and 1 <= int(headers["Retry-After"]) <= 60


async def test_memory_counters_end_windows_and_forget_them() -> None:
    now = [1000.0]
    storage = MemoryCounters(clock=lambda: now[0])
    assert await storage.incr_each({"a": 1, "b": 1}, 60) == {"a": 1, "b": 1}
    assert await storage.incr_each({"a": 2, "b": -1}, 60) == {"a": 3, "b": 0}
    assert (await storage.get("a"), await storage.get_expiry("a")) == (3, 1060.0)
    now[0] = 1059.9
    assert await storage.incr("a", 60, amount=-1) == 2  # still the first window
    now[0] = 1060.0
    assert await storage.get("a") == 0
    assert await storage.incr("a", 60) == 1  # a new window, ending a minute later
    assert await storage.get_expiry("a") == 1120.0
    now[0] = 1121.0
    await storage.incr("c", 60)
    # Ended windows are dropped as the minute turns: memory stays the live keys'.
    assert set(storage._windows) == {"c"}


async def test_places_owed_to_a_remote_store_are_settled_together() -> None:
    """One settling for many checks' give-backs; a place owed is still held meanwhile."""
    storage, calls = _counted_store()
    counters = Counters(storage, settle_every=0.05)
    key, customers = Scope("key", "k", 100), [Scope("customer", str(n), 2) for n in range(3)]
    for customer in customers:
        taken = await counters.take([key, customer])
        await counters.give_back(taken.held)
    assert len(calls) == 3  # the takes; nothing given back yet
    assert await storage.get(counters._key(key)) == 3
    await asyncio.sleep(0.1)
    assert len(calls) == 4 and calls[-1][counters._key(key)] == -3
    assert await storage.get(counters._key(key)) == 0
    taken = await counters.take([key])
    await counters.give_back(taken.held)
    await counters.close()  # a stopping process settles at once
    assert await storage.get(counters._key(key)) == 0


def _counted_store(delay: float = 0.0) -> tuple[MemoryCounters, list[dict[str, int]]]:
    """A memory store that records each `incr_each` call, each taking `delay` seconds as
    a round trip across the network would."""
    storage, calls = MemoryCounters(), []
    real = storage.incr_each

    async def counted(amounts, expiry):  # type: ignore[no-untyped-def]
        calls.append(dict(amounts))
        await asyncio.sleep(delay)
        return await real(amounts, expiry)

    storage.incr_each = counted  # type: ignore[method-assign]
    return storage, calls


async def test_checks_at_once_share_round_trips_and_keep_the_limit() -> None:
    """Takes that arrive while one is in flight go to the store together, and each sees
    the count it would have seen alone: of 20 guesses at once on a limit of 5, exactly 5
    hold a place, in fewer calls than checks."""
    storage, calls = _counted_store(delay=0.01)
    counters = Counters(storage, settle_every=0.05)
    key, customer = Scope("key", "k", 100), Scope("customer", "c", 5)
    taken = await asyncio.gather(*(counters.take([key, customer]) for _ in range(20)))
    assert sum(1 for t in taken if t.retry_after is None) == 5
    assert all(t.held == (key, customer) for t in taken if t.retry_after is None)
    assert len(calls) <= 3  # the first alone, then the rest together (and the give-backs)
    await counters.close()
    # The refused gave back their place in the key's scope: the 5 admitted hold it.
    assert await storage.get(counters._key(key)) == 5
    assert await storage.get(counters._key(customer)) == 20


async def test_a_store_failing_fails_every_check_of_its_round_trip() -> None:
    storage, _ = _counted_store(delay=0.01)
    counters = Counters(storage, settle_every=0.05)

    async def broken(amounts, expiry):  # type: ignore[no-untyped-def]
        raise StorageError(OSError("unreachable"))

    counters._incr_each = Combined(broken).incr_each
    taken = await asyncio.gather(*(counters.take([Scope("customer", "c", 1)])
                                   for _ in range(5)))
    # Unreachable counters let checkout through, and nobody is left waiting.
    assert taken == [Taken(())] * 5


async def test_a_check_that_stopped_waiting_takes_no_place() -> None:
    storage, _ = _counted_store(delay=0.02)
    counters = Counters(storage, settle_every=0.05)
    scope = Scope("customer", "c", 5)
    first = asyncio.create_task(counters.take([scope]))
    await asyncio.sleep(0.005)  # the first take is in flight; these two wait behind it
    gone = asyncio.create_task(counters.take([scope]))
    kept = asyncio.create_task(counters.take([scope]))
    await asyncio.sleep(0.005)
    gone.cancel()
    assert (await first).held == (scope,) and (await kept).held == (scope,)
    assert await storage.get(counters._key(scope)) == 2
