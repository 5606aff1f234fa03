"""the leak watch: its alerts, one row per shared code; redemptions by time

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 03:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "leak_alerts",
        sa.Column("code_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("strangers", sa.Integer(), nullable=False),
        sa.Column("reach", sa.Integer(), nullable=False),
        sa.Column("suspects", sa.Integer(), nullable=False),
        sa.Column("first_alerted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("alerted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["code_id"], ["promo_codes.id"],
                                name=op.f("fk_leak_alerts_code_id_promo_codes")),
        sa.PrimaryKeyConstraint("code_id", name=op.f("pk_leak_alerts")),
    )
    # A shop with millions of redemptions: the index takes a lock on them while it is
    # built (the migrations run in one transaction, so not CONCURRENTLY): migrate at a
    # quiet hour, as the README's upgrade note says.
    op.create_index(op.f("ix_redemptions_created_at"), "redemptions", ["created_at"],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_redemptions_created_at"), table_name="redemptions")
    op.drop_table("leak_alerts")
