"""Database layer: engines and sessions, the hot path, dialect helpers, the ORM models.

One rule for database handles. Domain functions take an `AsyncSession` and do not commit:
handlers get theirs from the middleware, jobs and the CLI open theirs and commit. A job
that commits batch by batch (a campaign run, the order import) holds the `Database`,
through a campaign `Context` or as the import's first argument, and opens a session per
batch. Only the hot path (checkout's validate and redeem, `/codes`, the account lookup
of every update's sender) takes `HotPath`, or a sync `Connection` inside one of its
jobs, and says why: a session's pool checkout and per-statement hand-offs cost more than
its few indexed queries (`bot.db.hotpath`).

Modules: `engine` (Database, sessions), `hotpath` (HotPath), `sqlite` (SQLite's tuning,
writer thread, checkpoints, file lock), `dialect` (every SQLite / PostgreSQL difference
in the SQL we build), `prepared`, `types`, `models`, `migrate`.
"""

from bot.db.engine import Database, create_database
from bot.db.models import Base

__all__ = ["Base", "Database", "create_database"]
