"""promo codes' customer, campaign and earning-order indexes only where there is a value

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 12:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_promo_codes_customer_status", ["customer_id", "status"], "customer_id"),
    ("ix_promo_codes_campaign_id", ["campaign_id"], "campaign_id"),
    ("ix_promo_codes_earned_by_order_id", ["earned_by_order_id"], "earned_by_order_id"),
)


def upgrade() -> None:
    for name, columns, column in INDEXES:
        where = sa.text(f"{column} IS NOT NULL")
        op.drop_index(name, table_name="promo_codes")
        op.create_index(name, "promo_codes", columns, postgresql_where=where,
                        sqlite_where=where)


def downgrade() -> None:
    for name, columns, _column in INDEXES:
        op.drop_index(name, table_name="promo_codes")
        op.create_index(name, "promo_codes", columns)
