"""drop items.version (destructive: rollgate refuses it without --allow-destructive)

Revision ID: 0004
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_column("items", "version")


def downgrade() -> None:
    op.add_column("items", sa.Column("version", sa.String(64), nullable=True))
