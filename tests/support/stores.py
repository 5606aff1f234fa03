"""The shared stores of `bot.cluster` for tests: a Redis of its own per test (a unique
key prefix, skipped when no Redis answers at PROMOBOT_TEST_REDIS_URL), and the test
database when it is PostgreSQL."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from bot.cluster import Cluster, Store
from bot.db import Database

REDIS_URL = os.environ.get("PROMOBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_up() -> bool:
    address = urlsplit(REDIS_URL)
    try:
        socket.create_connection((address.hostname, address.port or 6379), timeout=0.5).close()
    except OSError:
        return False
    return True


needs_redis = pytest.mark.skipif(not redis_up(), reason=f"no Redis at {REDIS_URL}")


async def redis_cluster(db: Database) -> AsyncIterator[Cluster]:
    """A Cluster on Redis whose keys no other test sees; its keys are deleted after."""
    from redis.asyncio import Redis
    from redis.exceptions import ConnectionError as RedisDown

    redis = Redis.from_url(REDIS_URL)
    try:
        await redis.ping()
    except (RedisDown, OSError):
        await redis.aclose()
        pytest.skip(f"no Redis at {REDIS_URL}")
    prefix = f"promobot-test:{uuid.uuid4().hex}"
    try:
        yield Cluster(Store.REDIS, db, redis, prefix)
    finally:
        keys = [key async for key in redis.scan_iter(f"{prefix}:*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


def database_cluster(db: Database) -> Cluster:
    if db.is_sqlite:
        pytest.skip("the database store is PostgreSQL's")
    return Cluster(Store.DATABASE, db)
