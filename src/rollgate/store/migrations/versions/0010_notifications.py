"""notifications: the event outbox and one delivery row per event and channel

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 03:00:00

``notify_events`` is written in the transaction of the change that causes it (a run's end,
an incident's update, a reminder), once per key. The worker routes each to the channels the
spec names, as ``notifications`` rows: one per event and channel (the idempotency key is
unique), delivered with retries and backoff, then dead-lettered after the last attempt; the
messages of one thread (a channel and one incident, run or notice) go out in order.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "notify_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(length=200), nullable=False, unique=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("environment", sa.String(length=64), nullable=True),
        sa.Column("service", sa.String(length=64), nullable=True),
        sa.Column("level", sa.String(length=16), nullable=True),
        sa.Column("severity", sa.Integer(), nullable=True),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("routed_at", TS, nullable=True),
    )
    op.create_index("ix_notify_events_pending", "notify_events", ["routed_at", "id"])
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.Integer(),
                  sa.ForeignKey("notify_events.id", ondelete="CASCADE"), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("thread", sa.String(length=200), nullable=False),
        sa.Column("channel_type", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(length=280), nullable=False, unique=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", TS, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", TS, nullable=True),
        sa.Column("dead_at", TS, nullable=True),
        sa.Column("response", sa.String(length=300), nullable=True),
    )
    op.create_index("ix_notifications_due", "notifications", ["state", "next_attempt_at"])
    op.create_index("ix_notifications_thread", "notifications", ["thread", "id"])


def downgrade() -> None:
    op.drop_index("ix_notifications_thread", table_name="notifications")
    op.drop_index("ix_notifications_due", table_name="notifications")
    op.drop_table("notifications")
    op.drop_index("ix_notify_events_pending", table_name="notify_events")
    op.drop_table("notify_events")
