"""One scheduler leader among instances sharing a PostgreSQL database.

The leader holds a session-level advisory lock on a connection of its own for as long as
the process lives; when that connection dies the lock is gone and another instance takes
over at its next try. SQLite means one process: it always leads.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from bot.db.dialect import is_postgresql_url

log = logging.getLogger(__name__)

# Advisory locks are per database, so one key serves every deployment.
LOCK_KEY = int.from_bytes(hashlib.blake2b(b"promobot-scheduler", digest_size=7).digest(), "big")


class Leadership:
    """`acquire()` tries once; `held()` tells whether the lock is still ours."""

    def __init__(self, url: str, *, key: int = LOCK_KEY) -> None:
        self.url = url
        self.key = key
        self.is_postgres = is_postgresql_url(url)
        self._engine: AsyncEngine | None = None
        self._conn: AsyncConnection | None = None
        self.leading = False

    async def acquire(self) -> bool:
        if not self.is_postgres:
            self.leading = True
            return True
        if self.leading:
            return await self.held()
        if self._engine is None:
            # Its own engine without a pool: the lock lives and dies with this connection.
            self._engine = create_async_engine(self.url, poolclass=NullPool)
        try:
            self._conn = await self._engine.connect()
            got = await self._conn.scalar(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}
            )
            # Autocommit-like: end the implicit transaction, keep the session lock.
            await self._conn.commit()
        except (OperationalError, DBAPIError, OSError) as error:
            log.warning("scheduler lock: database unreachable (%s)", error)
            await self._close()
            return False
        if not got:
            await self._close()
            return False
        self.leading = True
        log.info("scheduler: this instance leads")
        return True

    async def held(self) -> bool:
        """A live connection still holds the lock (a cheap round trip)."""
        if not self.is_postgres:
            return True
        if self._conn is None:
            self.leading = False
            return False
        try:
            await self._conn.scalar(text("SELECT 1"))
            await self._conn.commit()
        except (OperationalError, DBAPIError, OSError) as error:
            log.warning("scheduler lock lost with its connection (%s)", error)
            self.leading = False
            await self._close()
            return False
        return True

    async def release(self) -> None:
        if self._conn is not None and self.leading:
            try:
                await self._conn.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": self.key}
                )
                await self._conn.commit()
            except (OperationalError, DBAPIError, OSError):
                pass
        self.leading = False
        await self._close()
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def _close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                await asyncio.shield(conn.close())
            except (OperationalError, DBAPIError, OSError):
                pass
