"""The outbox of server-side events (gateway/forwarding) and the counts of dropped ones.

An event POST /collect accepted is a row of event_outbox before the request is answered; delivery
workers claim due rows (FOR UPDATE SKIP LOCKED on PostgreSQL), deliver them and mark them delivered, or
due again later, or dead with the vendor's error. (site, vendor, event_id) is unique: an event id is
accepted once. event_drops holds only counts: a dropped event is never stored.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

UTCDateTime = sa.DateTime(timezone=True)  # as 0001: schema.UTCDateTime maps it

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("vendor", sa.String(32), nullable=False),
        sa.Column("tag_id", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("consent_id", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UTCDateTime, nullable=False),
        sa.Column("lease_until", UTCDateTime),
        sa.Column("claim", sa.String(32)),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("delivered_at", UTCDateTime),
        sa.UniqueConstraint("site", "vendor", "event_id", name="uq_event_outbox_event"),
    )
    op.create_index("ix_event_outbox_due", "event_outbox", ["state", "next_attempt_at"])
    op.create_index("ix_event_outbox_consent_id", "event_outbox", ["consent_id"])
    op.create_index("ix_event_outbox_created_at", "event_outbox", ["created_at"])
    op.create_table(
        "event_drops",
        sa.Column("site", sa.String(64), primary_key=True),
        sa.Column("vendor", sa.String(32), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("reason", sa.String(32), primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("event_drops")
    op.drop_index("ix_event_outbox_created_at", "event_outbox")
    op.drop_index("ix_event_outbox_consent_id", "event_outbox")
    op.drop_index("ix_event_outbox_due", "event_outbox")
    op.drop_table("event_outbox")
