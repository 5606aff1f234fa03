"""rewards for actions the shop reports: one per (customer, action, ref)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 00:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "action_rewards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("ref", sa.String(length=128), nullable=False),
        sa.Column("code_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_action_rewards_customer_id_customers")),
        sa.ForeignKeyConstraint(["code_id"], ["promo_codes.id"],
                                name=op.f("fk_action_rewards_code_id_promo_codes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_rewards")),
        sa.UniqueConstraint("customer_id", "action", "ref",
                            name=op.f("uq_action_rewards_customer_id_action_ref")),
    )


def downgrade() -> None:
    op.drop_table("action_rewards")
