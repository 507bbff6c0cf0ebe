"""Alembic environment: runs on the connection `gateway.store.migrate` hands over, inside its transaction."""

from __future__ import annotations

from alembic import context

from gateway.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    # `python -m gateway.store.migrate revision ...` needs no database; anything else goes through migrate.upgrade().
    raise SystemExit("run migrations through gateway.store.migrate (ConsentLog.open does it at start)")

context.configure(connection=connection, target_metadata=metadata, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
