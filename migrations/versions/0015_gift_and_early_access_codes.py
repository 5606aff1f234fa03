"""non-discount rewards: a code's gift item and early access before a launch

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 02:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("promo_codes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("gift_sku", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("gift_name", sa.String(length=100), nullable=True))
        batch_op.add_column(
            sa.Column("gift_cost", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("launch_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("promo_codes", schema=None) as batch_op:
        batch_op.drop_column("launch_at")
        batch_op.drop_column("gift_cost")
        batch_op.drop_column("gift_name")
        batch_op.drop_column("gift_sku")
