from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.cluster import Cluster, Store
from bot.db import Database
from tests.support.stores import database_cluster, redis_cluster


@pytest.fixture(params=[Store.MEMORY, Store.DATABASE, Store.REDIS], ids=str)
async def cluster(request: pytest.FixtureRequest, db: Database) -> AsyncIterator[Cluster]:
    """Every store the deployment may share its state in."""
    if request.param is Store.REDIS:
        async for cluster in redis_cluster(db):
            yield cluster
    elif request.param is Store.DATABASE:
        yield database_cluster(db)
    else:
        yield Cluster(Store.MEMORY, db)
