"""The Dockerfile and the systemd unit the README points to: commands that exist, no root, a health check.

These tests keep the files true to the CLI they call; tests/test_container_image.py builds and runs the
image itself (python -m deploy.image_check)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from gateway.cli import build_parser

REPO = Path(__file__).resolve().parent.parent


def _serve_args(argv: list[str]) -> None:
    assert argv[0].endswith("gateway") and argv[1] == "serve", argv
    build_parser().parse_args(argv[1:])  # argparse exits (SystemExit) on an unknown or bad option


def test_the_dockerfile_runs_serve_unprivileged_with_a_health_check() -> None:
    text = (REPO / "Dockerfile").read_text()
    # The base is a build argument (deploy/image_check.py builds on a local Debian one), python:3.11-slim by default.
    assert re.search(r"^ARG BASE=python:3\.11-slim$", text, re.M) and re.search(r"^FROM \$\{BASE\}$", text, re.M)
    # No build argument carries a value into the image, and nothing sets the secret.
    stage = text[re.search(r"^FROM ", text, re.M).start():]
    assert all("=" not in arg for arg in re.findall(r"^ARG (\S+)$", stage, re.M))
    assert "TAG_GATEWAY_SECRET" not in "".join(re.findall(r"^(?:ENV|ARG) .*$", text, re.M))
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", text, re.M).group(1))
    _serve_args(cmd)
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0"
    users = re.findall(r"^USER (\S+)$", text, re.M)
    assert users and users[-1] not in ("root", "0")
    health = re.search(r"^HEALTHCHECK .*\n\s+CMD (\[.*\])$", text, re.M)
    assert health and "/healthz" in health.group(1)
    for source in re.findall(r"^COPY (.+) \S+$", text, re.M):
        for name in source.split():
            assert (REPO / name).exists(), f"Dockerfile copies {name}, which is not in the repository"
    packaged = re.search(r"packages = \[(.*?)\]", (REPO / "pyproject.toml").read_text(), re.S).group(1)
    top_level = {name.strip().strip('"').split(".")[0] for name in packaged.split(",") if name.strip()}
    copied = {name for source in re.findall(r"^COPY (.+) \S+$", text, re.M) for name in source.split()}
    assert top_level <= copied, f"the image would miss {top_level - copied}"


def test_the_systemd_unit_runs_serve_as_its_own_user(tmp_path) -> None:
    unit = (REPO / "deploy" / "tag-gateway.service").read_text()
    exec_start = re.search(r"^ExecStart=(.+)$", unit, re.M).group(1)
    _serve_args(shlex.split(exec_start))
    assert re.search(r"^User=tag-gateway$", unit, re.M)
    assert "EnvironmentFile=/etc/tag-gateway/env" in unit and "NoNewPrivileges=yes" in unit
    assert re.search(r"^RuntimeDirectory=tag-gateway$", unit, re.M)  # $RUNTIME_DIRECTORY: the rate limit's file
    analyze = shutil.which("systemd-analyze")
    if analyze:  # where systemd is installed, let it check every directive too
        gateway = str(Path(sys.executable).parent / "gateway")  # the console script of this environment
        copy = tmp_path / "tag-gateway.service"
        copy.write_text(unit.replace("/opt/tag-gateway/bin/gateway", gateway))
        result = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60)
        problems = [line for line in result.stderr.splitlines() if "tag-gateway.service" in line]
        assert not problems, problems
