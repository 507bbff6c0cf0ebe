"""Email opens: one row per recipient of a campaign who agreed to open tracking, with its open count.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "email_opens",
        sa.Column("campaign", sa.String(64), primary_key=True),
        sa.Column("recipient", sa.String(64), primary_key=True),
        sa.Column("tracked_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_open", sa.DateTime(timezone=True)),
        sa.Column("last_open", sa.DateTime(timezone=True)),
        sa.Column("opens", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("email_opens")
