"""the welcome offer: one per customer and one per Telegram account

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 00:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "welcome_offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("code_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_welcome_offers_customer_id_customers")),
        sa.ForeignKeyConstraint(["code_id"], ["promo_codes.id"],
                                name=op.f("fk_welcome_offers_code_id_promo_codes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_welcome_offers")),
        sa.UniqueConstraint("customer_id", name=op.f("uq_welcome_offers_customer_id")),
        sa.UniqueConstraint("telegram_id", name=op.f("uq_welcome_offers_telegram_id")),
    )


def downgrade() -> None:
    op.drop_table("welcome_offers")
