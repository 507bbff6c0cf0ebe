"""Create or migrate the consent log's schema to the newest revision ("head").

`ConsentLog.open` calls `upgrade` at start, so `gateway serve` and every
`gateway consents` command see the current schema. Several instances starting
at once are safe: on PostgreSQL the upgrade runs under a transaction-level
advisory lock, on SQLite under the write lock (BEGIN IMMEDIATE); the second one
finds the schema at head and does nothing.

Adding a migration (a small file in migrations/versions/, reviewed like code):
    python -m gateway.store.migrate revision "add a column for ..."
then edit the new file's upgrade()/downgrade(), and `schema.py` to match.
"""

from __future__ import annotations

import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from gateway.store.errors import one_line

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
ADVISORY_LOCK = 0x7467_6C6F_6700  # "tglog": one fixed key for the migration lock


def config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head() -> str:
    return ScriptDirectory.from_config(config()).get_current_head()


def current(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


class MigrationFailed(Exception):
    """The database refused a migration (a full disk during a table rebuild, a lost connection): its
    transaction was rolled back, so the schema and every record are as they were before it began."""


def upgrade(engine: Engine) -> None:
    """Bring the schema to head, in one transaction (PostgreSQL and SQLite both have transactional DDL)."""
    target = head()
    found = current(engine)
    if found == target:
        return  # the common case: no lock, no Alembic environment to load
    cfg = config()
    try:
        with engine.connect() as connection:
            connection.execution_options(tag_gateway_write=True)
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})
                cfg.attributes["connection"] = connection
                command.upgrade(cfg, "head")
    except (SQLAlchemyError, OSError) as error:
        start = f"schema {found}" if found else "an empty database"
        raise MigrationFailed(f"cannot migrate the consent log from {start} to {target}, left as it was: "
                              f"{one_line(error)}") from error


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "revision":
        print('usage: python -m gateway.store.migrate revision "what the migration does"', file=sys.stderr)
        return 2
    existing = sorted(p.name for p in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))
    number = int(existing[-1][:4]) + 1 if existing else 1
    script = command.revision(config(), message=argv[1], rev_id=f"{number:04d}", head="head")
    print(f"now edit {script.path}", file=sys.stderr)  # type: ignore[union-attr]
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
