"""consent_records.record_hash loses its UNIQUE index.

Nothing looks a record up by its hash (records are found by seq and consent_id), and the index guaranteed
nothing the chain does not: a record's hash covers its seq, which is the primary key, so two records can
only share a hash by a SHA-256 collision, and `gateway consents verify` recomputes every hash anyway.
What the index did cost: each record put a random 64-character key into a B-tree, about half of SQLite's
whole work for an INSERT into this table (measured: 47 against 25 us per record in batches of 16), and a
page of its own to write and fsync per record once the index outgrows the cache, on the path of every
POST /consent, which waits for its record's commit. (With time-ordered consent ids, gateway/consent.py, a
log of 500,000 records went from 70 to 18 us of CPU per record and from 215 to 47 KiB of WAL per commit.)

PostgreSQL drops the constraint in place. SQLite cannot drop an index that came with the table, so the
table is rebuilt (Alembic's batch mode: a copy with the same columns, indexes and foreign key, then a
swap, all in the migration's transaction), once, when the first gateway of this version opens the log.
Measured on a loaded 2-core machine: 300,000 records (a 209 MB file) took 4.0 s. It needs free disk space
for a second copy of the table while it runs (the copy goes through the WAL); afterwards the file keeps
the old copy's pages as free pages (367 MB here), which new records fill before the file grows again
(`VACUUM` gives them back at once). If the copy does not fit, the transaction is rolled back: the log
stays as it was, at 0006, and the gateway says it cannot migrate it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# SQLite's reflected UNIQUE has no name: batch mode names it by this convention so it can be dropped.
SQLITE_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
SQLITE_NAME = "uq_consent_records_record_hash"
POSTGRESQL_NAME = "consent_records_record_hash_key"  # PostgreSQL's name for the column's UNIQUE (0001)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("consent_records", recreate="always", naming_convention=SQLITE_NAMES) as batch:
            batch.drop_constraint(SQLITE_NAME, type_="unique")
    else:
        op.drop_constraint(_postgresql_name(), "consent_records", type_="unique")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("consent_records", recreate="always") as batch:
            batch.create_unique_constraint(SQLITE_NAME, ["record_hash"])
    else:
        op.create_unique_constraint(POSTGRESQL_NAME, "consent_records", ["record_hash"])


def _postgresql_name() -> str:
    """The constraint's real name (0001 let PostgreSQL choose it; a renamed one is found all the same)."""
    for constraint in sa.inspect(op.get_bind()).get_unique_constraints("consent_records"):
        if constraint["column_names"] == ["record_hash"]:
            return constraint["name"]
    raise RuntimeError("consent_records has no UNIQUE constraint on record_hash to drop")
