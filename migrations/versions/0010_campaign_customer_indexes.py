"""a campaign's messages and codes indexed by customer too, for its report

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 00:05:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WITH_CAMPAIGN = sa.text("campaign_id IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_deliveries_campaign_id", table_name="deliveries")
    op.create_index("ix_deliveries_campaign_customer", "deliveries",
                    ["campaign_id", "customer_id"])
    op.drop_index("ix_promo_codes_campaign_id", table_name="promo_codes")
    op.create_index("ix_promo_codes_campaign_customer", "promo_codes",
                    ["campaign_id", "customer_id"], postgresql_where=WITH_CAMPAIGN,
                    sqlite_where=WITH_CAMPAIGN)


def downgrade() -> None:
    op.drop_index("ix_promo_codes_campaign_customer", table_name="promo_codes")
    op.create_index("ix_promo_codes_campaign_id", "promo_codes", ["campaign_id"],
                    postgresql_where=WITH_CAMPAIGN, sqlite_where=WITH_CAMPAIGN)
    op.drop_index("ix_deliveries_campaign_customer", table_name="deliveries")
    op.create_index("ix_deliveries_campaign_id", "deliveries", ["campaign_id"])
