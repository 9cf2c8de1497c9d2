"""checklists, incidents, maintenance notices: what release gates read and record

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 15:00:00

``checklist_confirmations`` records who confirmed which manual item, when, with what
comment, for a phase of an environment (and a service version, for deploys). ``incidents``
holds what the "no open SEV1/SEV2 incident" gate reads; incident response builds on it.
``maintenance_notices`` are announced maintenance periods: a major change needs one
posted long enough before (seed 000: 72 h); the status page shows them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "checklist_confirmations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("environment", sa.String(length=64), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=128), nullable=False),
        sa.Column("item", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_checklist_confirmations_target", "checklist_confirmations",
                    ["phase", "environment", "service", "version"])
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=True),
        sa.Column("environment", sa.String(length=64), nullable=True),
        sa.Column("opened_by", sa.String(length=128), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_id", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_incidents_open", "incidents", ["status", "severity"])
    op.create_table(
        "maintenance_notices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("environment", sa.String(length=64), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("posted_by", sa.String(length=128), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_maintenance_notices_when", "maintenance_notices",
                    ["environment", "starts_at"])


def downgrade() -> None:
    op.drop_index("ix_maintenance_notices_when", table_name="maintenance_notices")
    op.drop_table("maintenance_notices")
    op.drop_index("ix_incidents_open", table_name="incidents")
    op.drop_table("incidents")
    op.drop_index("ix_checklist_confirmations_target", table_name="checklist_confirmations")
    op.drop_table("checklist_confirmations")
