"""item notes: a nullable column (expand: old versions keep working)

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("items", sa.Column("note", sa.String(200), nullable=True))
    op.execute("UPDATE items SET note = 'migrated'")


def downgrade() -> None:
    op.drop_column("items", "note")
