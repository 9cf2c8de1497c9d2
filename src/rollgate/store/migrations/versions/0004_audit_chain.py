"""audit chain: a sequence number and a hash on every audit event, and the chain's head

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 11:20:00

Events written before this revision are chained in id order, as they were written.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from rollgate.store.audit import GENESIS, event_hash
    from rollgate.store.tables import UTCDateTime

    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    events = sa.table("audit_events", sa.column("id", sa.Integer()),
                      sa.column("at", UTCDateTime()), sa.column("actor", sa.String()),
                      sa.column("action", sa.String()), sa.column("target", sa.String()),
                      sa.column("detail", sa.JSON()), sa.column("seq", sa.Integer()),
                      sa.column("prev_hash", sa.String()), sa.column("hash", sa.String()))
    bind = op.get_bind()
    prev, seq = GENESIS, 0
    for row in bind.execute(sa.select(events).order_by(events.c.id)).mappings().all():
        seq += 1
        digest = event_hash(prev, seq=seq, at=row["at"], actor=row["actor"],
                            action=row["action"], target=row["target"],
                            detail=row["detail"] or {})
        bind.execute(events.update().where(events.c.id == row["id"])
                     .values(seq=seq, prev_hash=prev, hash=digest))
        prev = digest
    # The head row always exists, so writers only ever update (and lock) it.
    bind.execute(sa.table("audit_head", sa.column("id"), sa.column("seq"),
                          sa.column("hash")).insert().values(id=1, seq=seq, hash=prev))
    with op.batch_alter_table("audit_events") as batch:
        batch.alter_column("seq", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch.create_unique_constraint("uq_audit_events_seq", ["seq"])


def downgrade() -> None:
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_constraint("uq_audit_events_seq", type_="unique")
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
        batch.drop_column("seq")
