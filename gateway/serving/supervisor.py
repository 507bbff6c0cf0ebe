"""The master process of `gateway serve`: fork N workers, replace any that dies, stop them all on a signal.

Why not uvicorn's own `Multiprocess` supervisor: it starts workers with multiprocessing's *spawn*
context, so each worker imports everything and builds the container again, and spawn adds a
resource-tracker process beside the workers. Forking from a master that has already validated and
built the config starts a worker in milliseconds from that very config (its watcher then picks up
any edit made since), and the master's children are exactly the workers.

The master holds the listening socket (bound before the fork, shared by all workers: the kernel
hands each connection to one of them) and nothing else: no event loop, no thread, no database
connection, so forking it is safe.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable

log = logging.getLogger("tag_gateway")

RESPAWN_PAUSE = 1.0  # a worker that dies this soon after starting is replaced only after this pause


def supervise(work: Callable[[], None], workers: int, grace: float) -> int:
    """Run `work()` in `workers` forked processes until SIGTERM or SIGINT; returns an exit code.

    On a stop signal every worker gets SIGTERM and `grace` seconds to finish its requests, then SIGKILL."""
    children: dict[int, float] = {}  # pid -> when it started
    stopping: list[int] = []

    def stop(signum: int, _frame: object) -> None:
        stopping.append(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}

    def spawn() -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            code = 1
            try:
                work()
                code = 0
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 1
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)  # never return into the master's code
        children[pid] = time.monotonic()

    for _ in range(workers):
        spawn()
    while not stopping:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            pid = 0
        if pid == 0 or pid not in children:
            time.sleep(0.1)
            continue
        lived = time.monotonic() - children.pop(pid)
        print(f"tag-gateway: worker {pid} {_how(status)}; starting another", file=sys.stderr, flush=True)
        if lived < RESPAWN_PAUSE:
            time.sleep(RESPAWN_PAUSE)  # a worker failing at start must not turn the master into a fork loop
        if not stopping:
            spawn()

    for pid in children:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while children and time.monotonic() < deadline:
        for pid in list(children):
            try:
                done = os.waitpid(pid, os.WNOHANG)[0] == pid
            except ChildProcessError:
                done = True
            if done:
                del children[pid]
        time.sleep(0.05)
    for pid in children:  # still running after the grace period
        _signal(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    return 0


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _how(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"was killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exited with status {os.waitstatus_to_exitcode(status)}"
