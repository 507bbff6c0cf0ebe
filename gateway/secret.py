"""Where the consent-signing secret comes from.

Production sets TAG_GATEWAY_SECRET. For local runs we generate one once and keep
it in an untracked file (.tag-gateway-secret, git-ignored), so choices survive a
restart. The repository never holds a secret.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

ENV_VAR = "TAG_GATEWAY_SECRET"
FILE_ENV_VAR = "TAG_GATEWAY_SECRET_FILE"
DEFAULT_FILE = ".tag-gateway-secret"
MIN_LENGTH = 32


class SecretError(Exception):
    pass


def load_secret() -> str:
    value = os.environ.get(ENV_VAR)
    if value is not None:
        if len(value) < MIN_LENGTH:
            raise SecretError(f"{ENV_VAR} must be at least {MIN_LENGTH} characters; generate one with: "
                              "python3 -c 'import secrets; print(secrets.token_hex(32))'")
        return value
    path = Path(os.environ.get(FILE_ENV_VAR, DEFAULT_FILE))
    if path.exists():
        value = path.read_text().strip()
        if len(value) < MIN_LENGTH:
            raise SecretError(f"{path} holds a secret shorter than {MIN_LENGTH} characters; delete it to generate a new one")
        return value
    value = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    print(f"tag-gateway: generated a signing secret in {path} (set {ENV_VAR} in production)", file=sys.stderr)
    return value
