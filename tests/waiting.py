"""Waiting for something another thread or process does (a delivery, a queue filling up)."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(check: Callable[[], bool], timeout: float = 30.0, step: float = 0.05) -> bool:
    """Poll `check` until it holds or `timeout` seconds pass; whether it held (asked once more at the end)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return check()
