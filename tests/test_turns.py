"""Turns between processes (gateway/turns.py): exclusive across processes, given back by a process that dies,
and never left held by threads that share one FileTurns."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from gateway.turns import FileTurns

ROOT = Path(__file__).resolve().parent.parent
HOLDER = """
import sys, time
from gateway.turns import FileTurns
turns = FileTurns(__import__("pathlib").Path(sys.argv[1]))
turns.take()
print("taken", flush=True)
time.sleep(60)
"""


def test_a_turn_excludes_other_processes_until_its_holder_dies(tmp_path) -> None:
    path = tmp_path / "db.sqlite3-writer"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "taken"
        mine = FileTurns(path)
        assert not mine.try_take()
        holder.kill()  # no give_back: the kernel lets go of a dead process's lock
        holder.wait(10)
        assert mine.try_take()
        mine.give_back()
        mine.close()
    finally:
        holder.kill()


def test_threads_sharing_one_turns_never_leave_it_held(tmp_path) -> None:
    # Threads that open the lock file at the same moment must all lock and unlock the same descriptor:
    # otherwise one lock stays held by a descriptor nobody unlocks, and every later turn waits forever.
    path = tmp_path / "db.sqlite3-writer"
    for _ in range(30):
        shared = FileTurns(path)
        barrier = threading.Barrier(8)

        def use() -> None:
            barrier.wait()
            with shared.turn():
                time.sleep(0.0005)

        threads = [threading.Thread(target=use, daemon=True) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert not any(thread.is_alive() for thread in threads), "a turn was never given back"
        other = FileTurns(path)
        assert other.try_take(), "a turn was left held"
        other.give_back()
        other.close()
        shared.close()


def test_no_path_means_no_turns(tmp_path) -> None:
    free = FileTurns(None)
    assert free.try_take() and free.try_take()
    with free.turn():
        pass
    free.give_back()
