"""The consent log (proof of consent, GDPR Art. 7(1)): SQLite by default, PostgreSQL for several instances.

    from gateway.store import ConsentLog, Decision, LogUnavailable, truncate_ip
    log = ConsentLog.open()       # None -> DATABASE_URL -> ./tag-gateway.sqlite3; creates/migrates the schema
    stored = log.record(decision) # committed before it returns; LogUnavailable on any database failure
    log.close()

Modules: decision (what is recorded), ip (truncation), database (URL, engine),
schema (tables), migrations/ + migrate (Alembic), chain (hashes), log (ConsentLog),
retention (how long, and why), export / stats / show (the CLI's output).
"""

from gateway.store.decision import ACTIONS, RULES, Decision, Record
from gateway.store.errors import LogUnavailable, StoreError, UnknownConsent
from gateway.store.ip import truncate_ip
from gateway.store.log import ConsentLog, Purge, Verification
from gateway.store.retention import DEFAULT_RETENTION_DAYS

__all__ = ["ACTIONS", "RULES", "DEFAULT_RETENTION_DAYS", "ConsentLog", "Decision", "LogUnavailable", "Purge", "Record",
           "StoreError", "UnknownConsent", "Verification", "truncate_ip"]
