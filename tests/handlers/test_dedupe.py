"""A repeated update is answered once, across processes too: two dispatchers, each as
`promobot run` builds it, on one shared store (the database; Redis) answer the same update
once, where two that keep it in memory answer it twice. Redis tests take a key prefix of
their own and are skipped when no Redis listens at 127.0.0.1:6379."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiogram import Bot
from redis.asyncio import Redis
from sqlalchemy import select

import tests.support.updates as u
from bot.app.telegram import create_dispatcher
from bot.cluster import Cluster, Store
from bot.cluster.updates import DatabaseSeenUpdates, RedisSeenUpdates
from bot.config import Settings
from bot.db import Database, create_database
from bot.db.models import SeenUpdate
from tests.support.chat import Chat
from tests.support.fake_bot_api import FakeBotAPI
from tests.support.ports import free_port
from tests.support.stores import REDIS_URL, needs_redis

USER = 5101


def answers(api: FakeBotAPI) -> int:
    return len(api.calls("sendMessage", chat_id=USER))


class Processes:
    """Two dispatchers of one bot, each with its own database handle (and Redis client),
    as two `promobot run` processes have."""

    def __init__(self, chats: list[Chat]) -> None:
        self.chats = chats

    async def deliver(self, update: dict[str, Any]) -> None:
        """The same update reaching both processes at once, as a webhook retry does when
        the first copy is still being handled."""
        await asyncio.gather(*(chat.feed(update) for chat in self.chats))


async def _processes(
    store: Store | None, tg_settings: Settings, db: Database, clock: Any, bot: Bot,
    api: FakeBotAPI,
) -> AsyncIterator[Processes]:
    prefix = f"promobot-test:{uuid.uuid4().hex}"
    second_db = create_database(tg_settings.db.url)
    clusters: list[Cluster | None] = []
    for handle in (db, second_db):
        if store is Store.REDIS:
            clusters.append(Cluster(store, handle, Redis.from_url(REDIS_URL), prefix))
        elif store is Store.DATABASE:
            clusters.append(Cluster(store, handle))
        else:
            clusters.append(None)
    dps = [create_dispatcher(tg_settings, handle, clock, cluster=cluster)
           for handle, cluster in zip((db, second_db), clusters, strict=True)]
    try:
        yield Processes([Chat(dp, bot, api) for dp in dps])
    finally:
        for dp in dps:
            await dp.emit_shutdown()
        for cluster in clusters:
            if cluster is not None and cluster.redis is not None:
                keys = [key async for key in cluster.redis.scan_iter(f"{prefix}:*")]
                if keys:
                    await cluster.redis.delete(*keys)
                await cluster.close()
        await second_db.dispose()


@pytest.fixture(params=[Store.DATABASE, pytest.param(Store.REDIS, marks=needs_redis)])
async def shared(request: pytest.FixtureRequest, tg_settings: Settings, db: Database,
                 clock: Any, bot: Bot, api: FakeBotAPI) -> AsyncIterator[Processes]:
    """Two processes sharing the database (as on PostgreSQL without Redis; the same SQL
    runs on SQLite), or one Redis."""
    async for processes in _processes(request.param, tg_settings, db, clock, bot, api):
        yield processes


@pytest.fixture
async def in_memory(tg_settings: Settings, db: Database, clock: Any, bot: Bot,
                    api: FakeBotAPI) -> AsyncIterator[Processes]:
    """Two processes as `create_dispatcher` builds them without a cluster."""
    async for processes in _processes(None, tg_settings, db, clock, bot, api):
        yield processes


async def test_one_process_answers_a_repeated_update_once(chat: Chat, api: FakeBotAPI) -> None:
    update = u.message(USER, "/myid")
    await chat.feed(update)
    await chat.feed(update)
    assert answers(api) == 1


async def test_two_processes_in_memory_answer_a_repeated_update_twice(
    in_memory: Processes, api: FakeBotAPI
) -> None:
    """The fault the shared store removes: each process remembers only its own updates."""
    await in_memory.deliver(u.message(USER, "/myid"))
    assert answers(api) == 2


async def test_two_processes_sharing_a_store_answer_a_repeated_update_once(
    shared: Processes, api: FakeBotAPI
) -> None:
    update = u.message(USER, "/myid")
    await shared.deliver(update)
    assert answers(api) == 1
    # A later retry, on either process, is dropped as well.
    for chat in reversed(shared.chats):
        await chat.feed(update)
    assert answers(api) == 1


async def test_two_processes_sharing_a_store_answer_different_updates(
    shared: Processes, api: FakeBotAPI
) -> None:
    first, second = shared.chats
    await first.feed(u.message(USER, "/myid"))
    await second.feed(u.message(USER, "/myid"))
    await first.feed(u.message(USER, "/myid"))
    assert answers(api) == 3


async def test_redis_down_the_update_is_still_answered(
    tg_settings: Settings, db: Database, clock: Any, bot: Bot, api: FakeBotAPI,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Better twice than never: a store that cannot be asked lets every update through."""
    redis = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
    cluster = Cluster(Store.REDIS, db, redis, f"promobot-test:{uuid.uuid4().hex}")
    dp = create_dispatcher(tg_settings, db, clock, cluster=cluster)
    try:
        with caplog.at_level(logging.WARNING, logger="bot.cluster.updates"):
            await Chat(dp, bot, api).feed(u.message(USER, "/myid"))
    finally:
        await dp.emit_shutdown()
        await cluster.close()
    assert answers(api) == 1
    assert "without dedupe: Redis did not answer" in caplog.text


async def test_database_down_the_update_counts_as_new(caplog: pytest.LogCaptureFixture) -> None:
    unreachable = create_database(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/x")
    seen = DatabaseSeenUpdates(unreachable)
    try:
        with caplog.at_level(logging.WARNING, logger="bot.cluster.updates"):
            assert await seen.first_time(1)
            assert await seen.first_time(1)
    finally:
        await seen.close()
        await unreachable.dispose()
    assert "without dedupe: the database did not answer" in caplog.text


async def test_seen_updates_older_than_the_ttl_are_purged(db: Database, clock: Any) -> None:
    seen = DatabaseSeenUpdates(db, clock, ttl=timedelta(days=1), purge_every=2)
    assert await seen.first_time(1)  # the first insert purges (nothing is old yet)
    await seen.close()
    clock.advance(hours=25)
    assert await seen.first_time(2)
    assert not await seen.first_time(2)
    assert await seen.first_time(3)  # the third insert purges again
    await seen.close()
    async with db.read_session() as session:
        kept = (await session.scalars(select(SeenUpdate.update_id))).all()
    assert sorted(kept) == [2, 3]


@needs_redis
async def test_redis_keys_expire_after_the_ttl() -> None:
    redis = Redis.from_url(REDIS_URL)
    prefix = f"promobot-test:{uuid.uuid4().hex}"
    seen = RedisSeenUpdates(redis, prefix, ttl=timedelta(days=1))
    try:
        assert await seen.first_time(7)
        assert not await seen.first_time(7)
        assert 86_000 < await redis.ttl(f"{prefix}:update:7") <= 86_400
    finally:
        await redis.delete(f"{prefix}:update:7")
        await redis.aclose()
