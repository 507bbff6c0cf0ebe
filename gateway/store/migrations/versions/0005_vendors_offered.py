"""The vendors of the optional categories a visitor was shown when choosing: a nullable JSON list, NULL in
every record written before it.

It proves which vendors a choice was made over, and lets a vendor added later be told apart from one the
visitor saw. Nothing stored is rewritten: NULL leaves a record's canonical form as it was (chain.py formats
1 to 3); a record that carries the list is hashed in format 4, which covers it.

Revision ID: 0005
Revises: 0004
Create Date: 2027-02-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("consent_records", sa.Column("vendors_offered", sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    # A record with the list has it in its hash: without the column it would no longer verify.
    first = op.get_bind().execute(sa.text("SELECT min(seq) FROM consent_records WHERE vendors_offered IS NOT NULL")).scalar()
    if first is not None:
        raise RuntimeError(f"not downgrading below 0005: records from {first} on list the vendors shown, and "
                           "their hashes cover them")
    with op.batch_alter_table("consent_records") as batch:
        batch.drop_column("vendors_offered")
