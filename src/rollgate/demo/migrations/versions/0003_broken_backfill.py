"""broken backfill: adds a column, rewrites rows, then fails (the demo's bad migration)

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("items", sa.Column("score", sa.Integer(), nullable=True))
    op.execute("UPDATE items SET score = 1, name = 'overwritten'")
    op.execute("UPDATE items SET no_such_column = 2")  # fails: the migration stops halfway


def downgrade() -> None:
    op.drop_column("items", "score")
