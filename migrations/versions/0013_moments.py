"""moments: the customer's birthday, a reward per customer, kind and year, and messages
that expire

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 03:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("birthday", sa.Date(), nullable=True))
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "moment_rewards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("code_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_moment_rewards_customer_id_customers")),
        sa.ForeignKeyConstraint(["code_id"], ["promo_codes.id"],
                                name=op.f("fk_moment_rewards_code_id_promo_codes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moment_rewards")),
        sa.UniqueConstraint("customer_id", "kind", "year",
                            name=op.f("uq_moment_rewards_customer_id_kind_year")),
    )


def downgrade() -> None:
    op.drop_table("moment_rewards")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("birthday")
