"""Since when the site's current `policy_version` is in force, remembered across restarts and workers.

A token counts only under the policy_version it was issued for. Without memory, lowering the
version (3 -> 2) would bring back every token issued under 2 long ago; so the first time a config
folder runs under a version other than the one recorded, that moment is written down, and tokens
signed before it do not count (gateway.consent). The first time a folder is seen at all nothing is
known about its past, so its existing tokens keep counting (0): an upgrade re-asks nobody.

The record is a small JSON file, `.tag-gateway-state` in the working directory (next to the
generated secret and the SQLite consent log; TAG_GATEWAY_STATE_FILE moves it), keyed by the config
folder's absolute path and locked while it is updated, so several workers agree.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from pathlib import Path

STATE_ENV_VAR = "TAG_GATEWAY_STATE_FILE"
DEFAULT_FILE = ".tag-gateway-state"

log = logging.getLogger("tag_gateway")


def state_file() -> Path:
    return Path(os.environ.get(STATE_ENV_VAR, DEFAULT_FILE))


def policy_since(directory: Path, version: int, now: float | None = None) -> int:
    """The Unix time from which tokens of `version` count for the config in `directory`."""
    path = state_file()
    key = str(Path(directory).resolve())
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        log.warning("cannot keep the policy state in %s (%s): lowering policy_version would revive old choices "
                    "after a restart; set %s to a writable file", path, exc.strerror or exc, STATE_ENV_VAR)
        return 0
    with os.fdopen(fd, "r+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
        try:
            state = json.loads(handle.read() or "{}")
        except ValueError:
            state = {}
        state = state if isinstance(state, dict) else {}
        entry = state.get(key)
        if isinstance(entry, dict) and entry.get("policy_version") == version and isinstance(entry.get("since"), int):
            return entry["since"]
        since = 0 if entry is None else int(time.time() if now is None else now)
        # Folders that no longer exist (test runs, moved configs) are forgotten.
        state = {k: v for k, v in state.items() if Path(k).is_dir()}
        state[key] = {"policy_version": version, "since": since}
        handle.seek(0)
        handle.truncate()
        json.dump(state, handle, indent=1, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    return since
