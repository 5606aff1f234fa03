"""each assignment's chance of its group and of the holdout, for weighted reports

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 23:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Assignments made before: the split their campaign has now (weights were not edited in
# place before this revision's reports, so that is the split they were made with).
BACKFILL = """
UPDATE campaign_assignments SET
  holdout_share = (SELECT c.holdout_percent / 100.0 FROM campaigns c
                   WHERE c.id = campaign_assignments.campaign_id),
  propensity = CASE WHEN is_holdout THEN
      (SELECT c.holdout_percent / 100.0 FROM campaigns c
       WHERE c.id = campaign_assignments.campaign_id)
    ELSE
      (SELECT 1 - c.holdout_percent / 100.0 FROM campaigns c
       WHERE c.id = campaign_assignments.campaign_id)
      * COALESCE((SELECT v.weight * 1.0 FROM campaign_variants v
                  WHERE v.id = campaign_assignments.variant_id)
                 / NULLIF((SELECT SUM(v.weight) FROM campaign_variants v
                           WHERE v.campaign_id = campaign_assignments.campaign_id
                             AND v.weight > 0), 0), 1)
    END
"""


def upgrade() -> None:
    with op.batch_alter_table("campaign_assignments") as batch:
        batch.add_column(sa.Column("propensity", sa.Float(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("holdout_share", sa.Float(), nullable=False,
                                   server_default="0"))
    op.execute(BACKFILL)


def downgrade() -> None:
    with op.batch_alter_table("campaign_assignments") as batch:
        batch.drop_column("holdout_share")
        batch.drop_column("propensity")
