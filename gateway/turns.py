"""Turns between processes: an advisory lock (``flock``) on a file, so writers of one SQLite file take turns.

Why not SQLite's own locking alone: a writer that finds the database locked sleeps in steps of 1, 2,
5, 10 ... 100 ms before it looks again, while the holder may take the lock back at once. With
several worker processes writing back to back, one of them can wait a whole busy timeout, and a
request that waits with it gets a long tail. A process waiting for a turn here sleeps in ``flock``
itself: the kernel wakes it the moment the holder lets go, and it holds no GIL while it waits. The
kernel also releases the lock when its process dies, so a crashed holder never blocks the others.

A lock is held per open file: each thread that takes turns needs its own `FileTurns`, and a forked
child opens the file again rather than share its parent's (and with it the parent's lock).
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_opening = threading.Lock()  # only for opening a lock file; a forked child starts with a fresh one


def _fresh_lock_in_child() -> None:
    global _opening
    _opening = threading.Lock()  # another thread may have held it at the fork: it does not exist here


os.register_at_fork(after_in_child=_fresh_lock_in_child)


class FileTurns:
    """Exclusive turns on ``path`` (created 0600 if missing); ``path=None``: no turns (always free)."""

    def __init__(self, path: Path | None):
        self._path = path
        self._fd: int | None = None
        self._pid = 0

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Wait for the turn, hold it for the block."""
        if self._path is None:
            yield
            return
        fd = self._open()  # the very file it locks is the one it unlocks
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def take(self) -> None:
        """Wait for the turn (call `give_back` after)."""
        if self._path is not None:
            fcntl.flock(self._open(), fcntl.LOCK_EX)

    def try_take(self) -> bool:
        """Take the turn if nobody holds it (True: call `give_back` after), without waiting."""
        if self._path is None:
            return True
        try:
            fcntl.flock(self._open(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def give_back(self) -> None:
        if self._path is not None and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _open(self) -> int:
        """The lock file's descriptor, opened once in this process. Raises OSError.

        Under a thread lock: two threads opening it at once would each lock their own descriptor, and
        the one kept would not be the one the other locked (found by a test: a lock never given back)."""
        if self._fd is not None and self._pid == os.getpid():
            return self._fd
        with _opening:
            if self._fd is None or self._pid != os.getpid():
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                self._pid = os.getpid()
            return self._fd

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None
