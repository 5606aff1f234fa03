"""the failure counters and the send clocks out of PostgreSQL's write-ahead log

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 13:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from bot.db.models.cluster import UNLOGGED_TABLES

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in UNLOGGED_TABLES:
            op.execute(f"ALTER TABLE {table} SET UNLOGGED")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in UNLOGGED_TABLES:
            op.execute(f"ALTER TABLE {table} SET LOGGED")
