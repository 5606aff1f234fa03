"""What the processes of one deployment share: the Telegram send budget and its 429
pause (`send_clock`), the updates already handled, and the failure counters of the
anti-guessing brake.

Where it lives follows the deployment: in Redis when `PROMOBOT_REDIS_URL` is set; else
in the database when it is PostgreSQL (several processes may share it); else, SQLite,
in this process's memory, since then one process talks to Telegram.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from bot.config import Settings
from bot.db import Database

if TYPE_CHECKING:
    from redis.asyncio import Redis


class Store(StrEnum):
    REDIS = "redis"
    DATABASE = "database"
    MEMORY = "memory"


@dataclass(frozen=True)
class Cluster:
    """One process's handle on the shared state; `redis` is set for `Store.REDIS`."""

    store: Store
    db: Database
    redis: Redis | None = None
    # Keys in Redis start with this, so that two bots may share one Redis.
    prefix: str = "promobot"

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose(close_connection_pool=True)


def open_cluster(settings: Settings, db: Database) -> Cluster:
    """The shared state for this deployment (no connection is made until it is used)."""
    prefix = f"promobot:{bot_id(settings)}"
    if settings.redis.url:
        from redis.asyncio import BlockingConnectionPool, Redis

        # A full pool makes a caller wait its turn (a few seconds at most) rather than
        # fail: under a burst, a failure would read as "Redis is down".
        pool = BlockingConnectionPool.from_url(settings.redis.url, max_connections=100,
                                               timeout=5)
        return Cluster(Store.REDIS, db, Redis(connection_pool=pool), prefix)
    if not db.is_sqlite:
        return Cluster(Store.DATABASE, db, prefix=prefix)
    return Cluster(Store.MEMORY, db, prefix=prefix)


def bot_id(settings: Settings) -> str:
    """The bot's id, the token's part before the colon (never the secret part)."""
    token = settings.telegram.token
    return token.get_secret_value().split(":", 1)[0] if token else "0"
