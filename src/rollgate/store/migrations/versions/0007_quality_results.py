"""quality gates: every evaluation's objective values, score and decision

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 09:00:00

Relative criteria (``<=+10%``) compare with the latest DEPLOY results of the same gate and
service: ``ix_quality_results_target`` finds them newest first without a sort.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quality_results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("gate", sa.String(length=64), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=128), nullable=True),
        sa.Column("objectives", sa.JSON(), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_quality_results_target", "quality_results",
                    ["gate", "service", "decision", "at"])


def downgrade() -> None:
    op.drop_index("ix_quality_results_target", table_name="quality_results")
    op.drop_table("quality_results")
