"""runs by time: an index on runs (created_at, id) for the newest-first run list

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 12:00:00

Without it, every unfiltered page of runs (API, dashboard, `rollgate history`) read and
sorted the whole table: 180 ms at 100,000 runs on PostgreSQL, against 0.1 ms with it.
Filtered pages already use ``ix_runs_target`` (service, environment, created_at).
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_runs_created", "runs", ["created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_runs_created", table_name="runs")
