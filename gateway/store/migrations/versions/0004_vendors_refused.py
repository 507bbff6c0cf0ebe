"""The vendors a visitor refused one by one inside allowed categories (site.vendor_choice): a nullable
JSON list, NULL in every record written before it and in every record of a site without per-vendor
choice.

Nothing already stored is rewritten: a NULL here leaves a record's canonical form as it was (chain.py
formats 1 and 2), so old records verify unchanged; a record that carries the list is hashed in format 3,
which covers it.

Revision ID: 0004
Revises: 0003
Create Date: 2027-01-15
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("consent_records", sa.Column("vendors_refused", sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    # A record with the list has it in its hash: without the column it would no longer verify.
    first = op.get_bind().execute(sa.text("SELECT min(seq) FROM consent_records WHERE vendors_refused IS NOT NULL")).scalar()
    if first is not None:
        raise RuntimeError(f"not downgrading below 0004: records from {first} on carry per-vendor choices, and "
                           "their hashes cover them")
    with op.batch_alter_table("consent_records") as batch:
        batch.drop_column("vendors_refused")
