"""Serving a store folder (`gateway serve --store DIR`) without serving the gateway's own secrets.

`--store .` once served `/.tag-gateway-secret`, the key that signs every consent token. Two
guards: dotfiles and anything under a dot-directory (`.git/`, `.env`, the secret) are never
served, and `gateway serve` refuses a store folder that holds the signing-secret file or the
consent log's SQLite file (which is not a dotfile, and holds every visitor's decision).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path, PurePath

from starlette.staticfiles import StaticFiles

from gateway.secret import DEFAULT_FILE as SECRET_FILE
from gateway.secret import ENV_VAR as SECRET_ENV_VAR
from gateway.secret import FILE_ENV_VAR as SECRET_FILE_ENV_VAR


class StoreFiles(StaticFiles):
    """StaticFiles that answers 404 for any path with a part starting with a dot."""

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        # Every lookup passes here (the page, a directory's index.html, 404.html), after
        # StaticFiles has decoded and normalised the path; "." alone (the root) has no parts.
        if any(part.startswith(".") for part in PurePath(path).parts):
            return "", None
        return super().lookup_path(path)


def _private_files() -> list[tuple[Path, str]]:
    """The files a store folder must not hold, with what each is."""
    found = []
    secret = Path(os.environ.get(SECRET_FILE_ENV_VAR, SECRET_FILE))
    if SECRET_ENV_VAR not in os.environ or secret.exists():  # without the variable, it is (or will be) created
        found.append((secret, "the consent-signing secret"))
    from gateway.store import LogUnavailable
    from gateway.store.database import resolve_url, sqlite_path

    try:
        database = sqlite_path(resolve_url())
    except LogUnavailable:
        database = None  # a bad DATABASE_URL is reported when the log is opened
    if database is not None:
        found.append((database, "the consent log"))  # its -wal and -shm files sit beside it
    return found


def store_is_safe(store: Path) -> bool:
    """False, after saying why on stderr, when `store` holds (or would hold) a secret or the consent log."""
    root = store.resolve()
    for path, what in _private_files():
        if path.resolve().is_relative_to(root):
            print(f"tag-gateway: not starting: --store {store} contains {path} ({what}), and everything in the "
                  "store folder is served publicly; serve a folder with only the store's pages, or move the file "
                  f"(set {SECRET_FILE_ENV_VAR} or {SECRET_ENV_VAR} for the secret, DATABASE_URL for the log)",
                  file=sys.stderr)
            return False
    return True
