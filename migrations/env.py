"""Alembic environment (async template).

Two ways in: `bot.db.migrate` hands over an open connection in
`config.attributes["connection"]` (so migrations run inside the caller's event loop),
while the `alembic` command line gets none and opens its own async engine here.
"""

from __future__ import annotations

import asyncio
import logging
from logging.config import fileConfig
from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.types import TypeDecorator

from bot.db.models import Base

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

# Alembic says which dialect it talks to every time it opens a context, that is at every
# start of the SQLite default even when there is nothing to migrate; the upgrades it runs
# ("Running upgrade ...") are what the operator needs to see.
_CONTEXT_NOISE = frozenset({"Context impl %s.", "Will assume %s DDL."})


def _not_context_noise(record: logging.LogRecord) -> bool:
    return record.msg not in _CONTEXT_NOISE


_migration_log = logging.getLogger("alembic.runtime.migration")
# env.py runs once per command: add the filter once per process.
if not any(getattr(f, "__name__", "") == _not_context_noise.__name__
           for f in _migration_log.filters):
    _migration_log.addFilter(_not_context_noise)

target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if url:
        return str(url)
    from bot.config import Settings

    return Settings().database_url


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    """Render our TypeDecorators (UTCDateTime) as their plain SQLAlchemy impl.

    A revision then imports nothing from the application, so later changes to
    `bot.db.types` can never break an old migration.
    """
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl_instance!r}"
    return False


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        # Batch mode lets ALTERs work on SQLite (table copy); elsewhere it is a plain ALTER.
        render_as_batch=True,
        compare_type=True,
        render_item=render_item,
        **kwargs,
    )


def run_migrations_offline() -> None:
    """Emit SQL to stdout (`alembic upgrade --sql`) without a database."""
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    engine = create_async_engine(_url(), poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        do_run_migrations(connection)
    else:
        asyncio.run(run_async_migrations())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
