"""What the consent log raises. Every message is one line, fit for a log line or a CLI's stderr."""

from __future__ import annotations


class StoreError(Exception):
    """Base class: the consent log could not do what was asked."""


class LogUnavailable(StoreError):
    """The database cannot be reached, opened, migrated, or cannot take the write.

    Raised by `ConsentLog.record` for any database failure: the decision was *not*
    stored, so the caller must not acknowledge it (the HTTP layer answers 503).
    """


class UnknownConsent(StoreError):
    """No record carries this consent id (or it was purged)."""


def one_line(error: BaseException) -> str:
    """The first non-empty line of a driver's message, without SQLAlchemy's SQL and background link."""
    original = getattr(error, "orig", None) or error
    for line in str(original).splitlines():
        line = line.strip()
        if line and not line.startswith("(Background on this error"):
            return line
    return type(original).__name__
