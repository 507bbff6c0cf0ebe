"""The site of each consent record: a nullable column, NULL in the records written before it.

The records already in the log keep NULL: nothing in them is rewritten, and their hashes (chain.py,
format 1, which has no site) still verify. Records written from now on name their site, and their
hash covers it (format 2).

No index: `--site` filters (export, stats) read the records in order anyway, and every append would
pay for one.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("consent_records", sa.Column("site", sa.String(64), nullable=True))


def downgrade() -> None:
    # A record that names its site has that name in its hash: without the column it would no longer
    # verify. Refuse rather than break the proof of an acknowledged decision.
    first = op.get_bind().execute(sa.text("SELECT min(seq) FROM consent_records WHERE site IS NOT NULL")).scalar()
    if first is not None:
        raise RuntimeError(f"not downgrading below 0003: records from {first} on name their site, and their "
                           "hashes cover it")
    with op.batch_alter_table("consent_records") as batch:
        batch.drop_column("site")
