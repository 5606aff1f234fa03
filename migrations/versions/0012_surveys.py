"""surveys sent as Telegram polls, their answers, and the poll id of a sent poll

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 02:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "surveys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("template", sa.String(length=32), nullable=True),
        sa.Column("question", sa.String(length=300), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("segment", sa.String(length=64), nullable=True),
        sa.Column("reward", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("request", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_surveys")),
        sa.UniqueConstraint("request", name=op.f("uq_surveys_request")),
    )
    op.create_table(
        "survey_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("option", sa.Integer(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rewarded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("code_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["survey_id"], ["surveys.id"],
                                name=op.f("fk_survey_answers_survey_id_surveys")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_survey_answers_customer_id_customers")),
        sa.ForeignKeyConstraint(["code_id"], ["promo_codes.id"],
                                name=op.f("fk_survey_answers_code_id_promo_codes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_answers")),
        sa.UniqueConstraint("survey_id", "customer_id",
                            name=op.f("uq_survey_answers_survey_id_customer_id")),
    )
    op.create_index("ix_survey_answers_customer_id", "survey_answers", ["customer_id"])
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("poll_id", sa.String(length=64), nullable=True))
        batch.create_index(batch.f("ix_deliveries_poll_id"), ["poll_id"])


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_index(batch.f("ix_deliveries_poll_id"))
        batch.drop_column("poll_id")
    op.drop_index("ix_survey_answers_customer_id", table_name="survey_answers")
    op.drop_table("survey_answers")
    op.drop_table("surveys")
