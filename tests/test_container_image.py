"""The Docker image, built and run for real (deploy/image_check.py), and the package it installs.

The image test builds the Dockerfile with buildah on a local Debian base (debootstrap, cached under
~/.cache/tag-gateway/image-check) and runs it with podman: about 2 minutes the first time on a machine,
under a minute after. As root it installs buildah, podman, runc and debootstrap from Debian's packages
itself; elsewhere it fails saying what to install. It never skips."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

REPO = Path(__file__).resolve().parent.parent


def _repository_files(*tops: str) -> list[PurePosixPath]:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", *tops],
                            cwd=REPO, capture_output=True, text=True, check=True).stdout.split("\n")
    return [PurePosixPath(name) for name in listed
            if name and "__pycache__" not in name and (REPO / name).is_file()]


def _matches(relative: PurePosixPath, pattern: str) -> bool:
    # setuptools globs per path segment: "*.js" does not reach into triggers/.
    parts = pattern.split("/")
    return len(parts) == len(relative.parts) and all(map(fnmatchcase, relative.parts, parts))


def test_the_package_ships_every_file_the_gateway_reads() -> None:
    """A non-editable install (the image, `pip install tag-gateway`) has every file of gateway/ and consent_ui/."""
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = {PurePosixPath(*name.split(".")): name for name in setuptools["packages"]}
    data = setuptools.get("package-data", {})
    missing = []
    for path in _repository_files("gateway", "consent_ui"):
        if path.suffix == ".py" and path.parent in packages:
            continue
        shipped = any(_matches(path.relative_to(directory), pattern)
                      for directory, name in packages.items() if path.is_relative_to(directory)
                      for pattern in data.get(name, []))
        if not shipped:
            missing.append(str(path))
    assert not missing, ("not in the wheel (add them to [tool.setuptools] packages or package-data "
                         f"in pyproject.toml): {missing}")


def test_the_image_builds_serves_as_its_user_and_stops_cleanly() -> None:
    result = subprocess.run([sys.executable, "-m", "deploy.image_check"], cwd=REPO,
                            capture_output=True, text=True, timeout=1500)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"python -m deploy.image_check exited {result.returncode}:\n{output}"
    assert "every check passed" in output
