"""What an object must redo in a forked worker process (`gateway serve --workers` forks after start-up).

A child inherits its parent's memory but not its threads, and must not use its parent's database
connections or lock files. Objects that hold such things register what to do in the child here.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def in_forked_child(owner: T, action: Callable[[T], object]) -> None:
    """Run `action(owner)` in every child forked from now on, while `owner` still exists.

    Held by a weak reference: registering does not keep `owner` alive (os.register_at_fork has no way to
    unregister, and a log opened and closed many times in one process would otherwise never be freed)."""
    ref = weakref.ref(owner)

    def run() -> None:
        alive = ref()
        if alive is not None:
            action(alive)

    os.register_at_fork(after_in_child=run)
