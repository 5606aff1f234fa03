"""telegram_accounts.referred_by_id: a referral remembered before the account is linked

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("telegram_accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("referred_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_telegram_accounts_referred_by_id_customers"),
            "customers",
            ["referred_by_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("telegram_accounts", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_telegram_accounts_referred_by_id_customers"), type_="foreignkey"
        )
        batch_op.drop_column("referred_by_id")
