"""Where the consent-signing secrets come from.

Production sets TAG_GATEWAY_SECRET. For local runs we generate one once and keep
it in an untracked file (.tag-gateway-secret, git-ignored), so choices survive a
restart. The repository never holds a secret.

Several secrets, separated by commas or whitespace (or one per line in the file),
rotate the key: new tokens are signed with the first, tokens signed with any of
them still verify. Put the new secret first, keep the old one until the tokens it
signed have expired (at most the longest consent lifetime), then drop it.
"""

from __future__ import annotations

import math
import os
import re
import secrets
import stat
import sys
from collections import Counter
from pathlib import Path

ENV_VAR = "TAG_GATEWAY_SECRET"
FILE_ENV_VAR = "TAG_GATEWAY_SECRET_FILE"
DEFAULT_FILE = ".tag-gateway-secret"
MIN_LENGTH = 32
# A character-frequency (Shannon) estimate of the whole secret, and its distinct characters. In 200,000
# draws secrets.token_hex(16) never scored below 91 bits or 9 distinct; token_hex(32) scores about 240.
# 32 spaces and 'a' * 32 score 0, "password" * 4 scores 88 with 7 distinct.
MIN_BITS = 80
MIN_DISTINCT = 8
HOW_TO_GENERATE = "generate one with: python3 -c 'import secrets; print(secrets.token_hex(32))'"


class SecretError(Exception):
    pass


def load_secret() -> tuple[str, ...]:
    """The signing secrets, newest first (gateway.consent signs with the first)."""
    value = os.environ.get(ENV_VAR)
    if value is not None:
        return _checked(value, ENV_VAR)
    path = Path(os.environ.get(FILE_ENV_VAR, DEFAULT_FILE))
    if os.path.lexists(path):
        return _checked(_read(path), str(path))
    return _generate(path)


def load_existing_secret() -> tuple[str, ...]:
    """The secrets the gateway signs with, for a command that mints tokens (`gateway preview`,
    `gateway email token`): never a new one, since a token signed with a secret the gateway does not
    have would never be accepted. SecretError when there is none yet."""
    path = Path(os.environ.get(FILE_ENV_VAR, DEFAULT_FILE))
    if ENV_VAR not in os.environ and not os.path.lexists(path):
        raise SecretError(f"no signing secret: set {ENV_VAR} as the gateway has it, or run this where `gateway serve` "
                          f"runs (its {path})")
    return load_secret()


def estimated_bits(value: str) -> float:
    """Entropy estimate from character frequencies: low for repeats and tiny alphabets, never too high."""
    counts = Counter(value)
    return -sum(n * math.log2(n / len(value)) for n in counts.values())


def _checked(value: str, source: str) -> tuple[str, ...]:
    found = tuple(part for part in re.split(r"[\s,]+", value) if part)
    if not found:
        raise SecretError(f"{source} is empty; {HOW_TO_GENERATE}")
    for position, secret in enumerate(found, 1):
        which = f"{source} (secret {position} of {len(found)})" if len(found) > 1 else source
        if len(secret) < MIN_LENGTH:
            raise SecretError(f"{which} must be at least {MIN_LENGTH} characters; {HOW_TO_GENERATE}")
        bits, distinct = estimated_bits(secret), len(set(secret))
        if bits < MIN_BITS or distinct < MIN_DISTINCT:
            raise SecretError(f"{which} is too easy to guess ({distinct} distinct characters, about {bits:.0f} bits "
                              f"by their frequencies; at least {MIN_DISTINCT} and {MIN_BITS} needed: use random "
                              f"characters, not a word or a repeat); {HOW_TO_GENERATE}")
    return found


def _read(path: Path) -> str:
    """The secret file's text; anything else at that path is a SecretError that says what is there."""
    if path.is_symlink() and not path.exists():
        raise SecretError(f"{path} is a symbolic link to nothing; point it at the secret file or remove it "
                          "(a new secret is then generated)")
    if path.is_dir():
        raise SecretError(f"{path} is a directory, not a secret file; set {FILE_ENV_VAR} to a file")
    try:
        mode = path.stat().st_mode
        if stat.S_ISREG(mode) and mode & 0o077:
            print(f"tag-gateway: warning: {path} can be read by other users (mode {stat.S_IMODE(mode):04o}); "
                  f"restrict it with: chmod 600 {path}", file=sys.stderr)
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise SecretError(f"{path} is not UTF-8 text; delete it to generate a new secret, or {HOW_TO_GENERATE}") from None
    except OSError as exc:
        raise SecretError(f"{path} cannot be read ({exc.strerror or exc})") from None


def _generate(path: Path) -> tuple[str, ...]:
    """A new secret in a new file: complete before it appears, so several workers starting at once agree."""
    value = secrets.token_hex(32)
    draft = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(value + "\n")
        os.link(draft, path)  # fails if another process got there first: then its secret is the one
    except FileExistsError:
        return _checked(_read(path), str(path))
    except OSError as exc:
        raise SecretError(f"cannot create {path} ({exc.strerror or exc}); set {ENV_VAR} or {FILE_ENV_VAR}") from None
    finally:
        draft.unlink(missing_ok=True)
    print(f"tag-gateway: generated a signing secret in {path} (set {ENV_VAR} in production)", file=sys.stderr)
    return (value,)
