"""What the `promobot` subcommands run: presentation around the domain (progress, reports).

This package's own module holds what several subcommands (and `bot.cli`) share."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.db import Database



def safe_url(url: str) -> str:
    """The database URL without its password, fit for printing."""
    return make_url(url).render_as_string(hide_password=True)


async def open_database(settings: Settings) -> Database | None:
    """The configured database with its schema made current (SQLite) or checked
    (PostgreSQL); None after saying why when the schema is behind."""
    from bot.db import create_database
    from bot.db.migrate import SchemaNotCurrentError, ensure_schema

    try:
        await ensure_schema(settings.db.url)
    except SchemaNotCurrentError as error:
        print(f"promobot: {error}", file=sys.stderr)
        return None
    return create_database(settings.db.url)
