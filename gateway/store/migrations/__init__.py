"""Alembic migrations of the consent log (run by `gateway.store.migrate`, never by hand in production)."""
