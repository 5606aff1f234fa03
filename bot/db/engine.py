"""The async engines and session factories of one database, tuned per backend.

SQLite gets two engines: writes on one whose every transaction is `BEGIN IMMEDIATE`, so
two writers queue on the lock instead of failing mid-transaction with "database is
locked" on upgrade from a read lock (`bot.db.sqlite`); reads that may be stale (code
validation, listings) on one whose transactions are deferred. PostgreSQL has one pooled
engine for both. Beside them sits the hot path (`bot.db.hotpath`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bot.db import sqlite
from bot.db.dialect import POSTGRESQL_SETTINGS, SQLITE, is_sqlite_url
from bot.db.hotpath import HotPath


@dataclass(slots=True)
class Database:
    """Engines and session factories for one database URL."""

    url: str
    engine: AsyncEngine
    read_engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    read_session_factory: async_sessionmaker[AsyncSession]
    hot: HotPath

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == SQLITE

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A write session; the caller commits."""
        async with self.session_factory() as session:
            yield session

    @asynccontextmanager
    async def read_session(self) -> AsyncIterator[AsyncSession]:
        async with self.read_session_factory() as session:
            yield session

    async def dispose(self) -> None:
        await self.hot.dispose()
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()


def create_database(url: str, *, echo: bool = False) -> Database:
    if is_sqlite_url(url):
        engine = sqlite.async_engine(url, immediate=True)
        read_engine = sqlite.async_engine(url, immediate=False)
    else:
        engine = create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True,
                                     connect_args={"server_settings": POSTGRESQL_SETTINGS})
        read_engine = engine
    engine.echo = echo
    return Database(
        url=url,
        engine=engine,
        read_engine=read_engine,
        session_factory=async_sessionmaker(engine, expire_on_commit=False),
        read_session_factory=async_sessionmaker(read_engine, expire_on_commit=False),
        hot=HotPath(url, engine),
    )
