"""Debian's nginx and wrk: the baseline server and the load generator, installed with apt-get when missing."""

from __future__ import annotations

import os
import shutil
import subprocess

from bench.errors import BenchError

PACKAGES = {"nginx": "nginx", "wrk": "wrk"}  # command -> Debian package


def _apt_install(packages: list[str]) -> None:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    # A fresh container may have no package lists yet: update once and retry.
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True)
        done = subprocess.run(install, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise BenchError(f"apt-get install {' '.join(packages)} failed: {done.stderr.strip()[-400:]}")


def ensure(*commands: str) -> dict[str, str]:
    """Path of each command; installs the missing ones as root with apt-get, else says how."""
    missing = [c for c in commands if not (shutil.which(c) or shutil.which(c, path="/usr/sbin:/sbin"))]
    if missing:
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            raise BenchError(f"{', '.join(missing)} not installed: run `apt-get install {' '.join(PACKAGES[c] for c in missing)}` "
                             "(the harness does it itself when run as root on Debian)")
        _apt_install([PACKAGES[c] for c in missing])
    found = {c: shutil.which(c) or shutil.which(c, path="/usr/sbin:/sbin") for c in commands}
    for command, path in found.items():
        if not path:
            raise BenchError(f"{command} still not found after apt-get install {PACKAGES[command]}")
    return found  # type: ignore[return-value]


def version(command: list[str]) -> str:
    """First line a tool prints about its version (nginx writes it to stderr)."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except OSError:
        return "?"
    return (done.stdout or done.stderr).strip().splitlines()[0] if (done.stdout or done.stderr).strip() else "?"
