"""incident response: levels, clocks, timeline, roles, links, alerts, action items,
post-mortems; commit times of releases

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 01:00:00

``incidents`` gains what running one needs: the level's name, its channel, where it came
from (a person, an automatic rollback, an alert group), and the clocks that reminders and
escalation run from. The timeline (``incident_events``) has a unique key per incident so
that an automatic entry (a reminder, an escalation, an alert retried by Alertmanager) is
written once. ``releases`` records the commit and its time: DORA's lead time starts there.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("level", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("channel", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("summary", sa.Text(), nullable=True))
        batch.add_column(sa.Column("source", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("playbook", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("group_key", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("started_at", TS, nullable=True))
        batch.add_column(sa.Column("acknowledged_at", TS, nullable=True))
        batch.add_column(sa.Column("acknowledged_by", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("closed_at", TS, nullable=True))
        batch.add_column(sa.Column("last_update_at", TS, nullable=True))
        batch.add_column(sa.Column("last_public_at", TS, nullable=True))
        batch.add_column(sa.Column("escalation_step", sa.Integer(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("paged_at", TS, nullable=True))
        batch.add_column(sa.Column("postmortem_due_at", TS, nullable=True))
        batch.create_unique_constraint("uq_incidents_group_key", ["group_key"])
    op.create_index("ix_incidents_opened", "incidents", ["opened_at"])
    op.create_table(
        "incident_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(length=40), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("key", sa.String(length=160), nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id", "key"),
    )
    op.create_index("ix_incident_events_timeline", "incident_events",
                    ["incident_id", "at", "id"])
    op.create_table(
        "incident_roles",
        sa.Column("incident_id", sa.String(length=40), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("person", sa.String(length=128), nullable=False),
        sa.Column("assigned_at", TS, nullable=False),
        sa.Column("assigned_by", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("incident_id", "role"),
    )
    op.create_table(
        "incident_links",
        sa.Column("incident_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(length=160), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("incident_id", "kind", "ref"),
    )
    op.create_table(
        "incident_alerts",
        sa.Column("incident_id", sa.String(length=40), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("starts_at", TS, nullable=True),
        sa.Column("ends_at", TS, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("incident_id", "fingerprint"),
    )
    op.create_table(
        "action_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("due_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("done_at", TS, nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_action_items_incident", "action_items", ["incident_id"])
    op.create_table(
        "postmortems",
        sa.Column("incident_id", sa.String(length=40), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("published_at", TS, nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("incident_id"),
    )
    with op.batch_alter_table("releases") as batch:
        batch.add_column(sa.Column("commit_sha", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("committed_at", TS, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("releases") as batch:
        batch.drop_column("committed_at")
        batch.drop_column("commit_sha")
    op.drop_table("postmortems")
    op.drop_index("ix_action_items_incident", table_name="action_items")
    op.drop_table("action_items")
    op.drop_table("incident_alerts")
    op.drop_table("incident_links")
    op.drop_table("incident_roles")
    op.drop_index("ix_incident_events_timeline", table_name="incident_events")
    op.drop_table("incident_events")
    op.drop_index("ix_incidents_opened", table_name="incidents")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_constraint("uq_incidents_group_key", type_="unique")
        for col in ("postmortem_due_at", "paged_at", "escalation_step", "last_public_at",
                    "last_update_at", "closed_at", "acknowledged_by", "acknowledged_at",
                    "started_at", "group_key", "playbook", "source", "summary", "channel",
                    "level"):
            batch.drop_column(col)
