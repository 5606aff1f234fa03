"""Database layer: the engine, sessions and ORM models."""

from bot.db.engine import Database, create_database
from bot.db.models import Base

__all__ = ["Base", "Database", "create_database"]
