"""The consent log: banner texts, records in a hash chain, and the chain's head.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    op.create_table(
        "banner_texts",
        sa.Column("hash", sa.String(64), primary_key=True),
        sa.Column("texts", sa.Text, nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "consent_records",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("consent_id", sa.String(64), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("categories", sa.JSON, nullable=False),
        sa.Column("offered", sa.JSON, nullable=False),
        sa.Column("region", sa.String(16)),
        sa.Column("rule", sa.String(8), nullable=False),
        sa.Column("gpc", sa.Boolean, nullable=False),
        sa.Column("policy_version", sa.Integer, nullable=False),
        sa.Column("container_version", sa.String(128), nullable=False),
        sa.Column("banner_texts_hash", sa.String(64), sa.ForeignKey("banner_texts.hash"), nullable=False),
        sa.Column("language", sa.String(35), nullable=False),
        sa.Column("ip_prefix", sa.String(64)),
        sa.Column("user_agent", sa.Text),
        sa.Column("personal_salt", sa.String(32)),
        sa.Column("personal_digest", sa.String(64), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True)),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("record_hash", sa.String(64), nullable=False, unique=True),
    )
    op.create_index("ix_consent_records_consent_id", "consent_records", ["consent_id"])
    op.create_index("ix_consent_records_decided_at", "consent_records", ["decided_at"])
    chain_state = op.create_table(
        "chain_state",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("head_seq", sa.BigInteger, nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.Column("anchor_seq", sa.BigInteger, nullable=False),
        sa.Column("anchor_hash", sa.String(64), nullable=False),
        sa.Column("purged_at", sa.DateTime(timezone=True)),
    )
    op.bulk_insert(chain_state, [{"id": 1, "head_seq": 0, "head_hash": GENESIS, "anchor_seq": 0,
                                  "anchor_hash": GENESIS, "purged_at": None}])


def downgrade() -> None:
    op.drop_table("chain_state")
    op.drop_index("ix_consent_records_decided_at", "consent_records")
    op.drop_index("ix_consent_records_consent_id", "consent_records")
    op.drop_table("consent_records")
    op.drop_table("banner_texts")
