"""Build the real Dockerfile and run the image, without Docker: ``python -m deploy.image_check``.

What README "Running in production" says of the image, checked on a built image:

* it builds from the checkout (buildah, daemonless) on a local Debian bookworm base made by debootstrap
  (``--build-arg BASE=...``: Docker Hub's python:3.11-slim is not needed), or on ``--base IMAGE``;
* its config: a non-root USER, a HEALTHCHECK on /healthz, the ``gateway serve --config /config --host 0.0.0.0``
  CMD, no build argument left in its environment, no sources left in it;
* run as the README's ``docker run`` (podman; config mounted read-only at /config, TAG_GATEWAY_SECRET passed),
  ``GET /healthz`` and ``GET /container.js`` answer on the published port from the host, ``POST /consent``
  is recorded in the SQLite consent log under /data (read back with ``gateway consents show`` and
  ``verify`` in the container), every process of the container runs as the image's uid, the image's own
  HEALTHCHECK command succeeds (``podman healthcheck run``), and ``podman stop`` ends it with exit code 0
  well before the stop timeout (no SIGKILL).

Missing tools (buildah, podman, runc, debootstrap) are installed from Debian's packages when run as root
with apt-get, else it stops saying what to install. The debootstrap root file system is kept as a tarball in
``$TAG_GATEWAY_IMAGE_CACHE`` (default ``~/.cache/tag-gateway/image-check``) and as the local image
``localhost/tag-gateway-base:bookworm``; both are remade after 30 days or with ``--refresh-base``.
The Debian mirror is the one apt uses on this machine (/etc/apt/sources.list*), or ``--mirror URL``.
Containers, volumes and the built image are removed at the end (``--keep`` keeps the image).

Notes on this kind of machine: crun refuses hybrid cgroup v1/v2 set-ups, so runc is used; without
CAP_SYS_RESOURCE the container's open-files and processes limits cannot exceed podman's own, so they are
passed explicitly; pip inside the build trusts the host's CA bundle (bind-mounted for the build only,
PIP_CERT names it), so a TLS-inspecting proxy in front of PyPI works and nothing of it stays in the image.
Exit codes: 0 every check passed, 1 a check failed, 2 the check could not run (a tool is missing).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import re
import resource
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
IMAGE = "localhost/tag-gateway:check"
SUITE = "bookworm"  # Python 3.11, as the official base image
BASE_IMAGE = f"localhost/tag-gateway-base:{SUITE}"
BASE_PACKAGES = "python3,python3-venv,ca-certificates"
BASE_MAX_AGE_DAYS = 30
TOOLS = {"buildah": "buildah", "podman": "podman", "runc": "runc", "debootstrap": "debootstrap"}
START_TIMEOUT = 90  # seconds for /healthz to answer after `podman run`
STOP_TIMEOUT = 20   # podman stop -t: SIGKILL after this many seconds


class CheckFailed(Exception):
    """A promise of the README that the image does not keep (exit 1)."""


class CannotRun(Exception):
    """The check itself cannot run here: a missing tool or mirror (exit 2)."""


def log(message: str) -> None:
    print(f"image-check: {message}", file=sys.stderr, flush=True)


def run(argv: list[str], *, check: bool = True, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        raise CheckFailed(f"{' '.join(argv[:4])} ... exited {result.returncode}:\n{output[-4000:]}")
    return result


def cache_dir() -> Path:
    root = os.environ.get("TAG_GATEWAY_IMAGE_CACHE")
    if root:
        return Path(root)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "tag-gateway" / "image-check"


# --- tools ------------------------------------------------------------------------------------------------

def ensure_tools(need_debootstrap: bool) -> dict[str, str]:
    wanted = {name: pkg for name, pkg in TOOLS.items() if need_debootstrap or name != "debootstrap"}
    missing = [name for name in wanted if not _which(name)]
    if missing:
        packages = sorted({wanted[name] for name in missing})
        if os.geteuid() == 0 and shutil.which("apt-get"):
            log(f"installing Debian's {' '.join(packages)} ...")
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            update = subprocess.run(["apt-get", "update", "-qq"], capture_output=True, text=True, env=env)
            if update.returncode != 0:
                log("apt-get update failed; trying the package lists at hand")
            result = subprocess.run(["apt-get", "install", "-y", "-qq", *packages],
                                    capture_output=True, text=True, env=env, timeout=900)
            if result.returncode != 0:
                raise CannotRun(f"apt-get install {' '.join(packages)} failed:\n{result.stderr[-2000:]}")
        else:
            raise CannotRun(f"needs {', '.join(missing)}: install them (as root: apt-get install "
                            f"{' '.join(packages)}) and run again")
        still = [name for name in wanted if not _which(name)]
        if still:
            raise CannotRun(f"still missing after apt-get install: {', '.join(still)}")
    return {name: _which(name) for name in wanted}


def _which(name: str) -> str | None:
    # runc and debootstrap live in /usr/sbin, which a non-login PATH may lack.
    return shutil.which(name) or shutil.which(name, path="/usr/local/sbin:/usr/sbin:/sbin")


# --- the base image ---------------------------------------------------------------------------------------

def debian_mirror() -> str:
    """The Debian archive apt uses here: the first `deb` source serving Debian's main archive."""
    candidates: list[str] = []
    apt = Path("/etc/apt")
    files = [apt / "sources.list"] + sorted((apt / "sources.list.d").glob("*.list"))
    for path in files:
        if path.is_file():
            for line in path.read_text(errors="replace").splitlines():
                match = re.match(r"\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", line)
                if match and not match.group(2).endswith(("-security", "/updates")):
                    candidates.append(match.group(1))
    for path in sorted((apt / "sources.list.d").glob("*.sources")):
        for stanza in re.split(r"\n\s*\n", path.read_text(errors="replace")):
            fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, re.M))
            if "deb" in fields.get("Types", "").split() and fields.get("Enabled", "yes") != "no":
                suites = fields.get("Suites", "").split()
                if any(not s.endswith("-security") for s in suites):
                    candidates.extend(fields.get("URIs", "").split())
    for uri in candidates:  # Debian's archive, not a third-party repository listed beside it
        if uri.rstrip("/").endswith("/debian"):
            return uri
    raise CannotRun("found no Debian archive in /etc/apt/sources.list*; pass --mirror URL")


def _image_created(image: str) -> datetime | None:
    result = run(["podman", "image", "inspect", "--format", "{{.Created.Unix}}", image], check=False)
    if result.returncode != 0:
        return None
    return datetime.fromtimestamp(int(result.stdout.strip()), timezone.utc)


def _stale(when: datetime) -> bool:
    return (datetime.now(timezone.utc) - when).days >= BASE_MAX_AGE_DAYS


def ensure_base(mirror: str | None, refresh: bool) -> str:
    created = _image_created(BASE_IMAGE)
    if created and not refresh and not _stale(created):
        log(f"base image {BASE_IMAGE} (made {created:%Y-%m-%d}) reused")
        return BASE_IMAGE
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    tarball = cache / f"debian-{SUITE}-minbase-python3.tar"
    fresh = tarball.is_file() and not _stale(datetime.fromtimestamp(tarball.stat().st_mtime, timezone.utc))
    if refresh or not fresh:
        mirror = mirror or debian_mirror()
        log(f"debootstrap {SUITE} (minbase + {BASE_PACKAGES}) ...")
        with tempfile.TemporaryDirectory(dir=cache, prefix="rootfs-") as work:
            root = Path(work) / "rootfs"
            run(["debootstrap", "--variant=minbase", f"--include={BASE_PACKAGES}", SUITE, str(root), mirror],
                timeout=1800)
            for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
                for entry in (root / junk).glob("*"):
                    if entry.is_file():
                        entry.unlink()
            partial = Path(work) / "rootfs.tar"
            run(["tar", "--numeric-owner", "-C", str(root), "-cf", str(partial), "."], timeout=600)
            partial.replace(tarball)
    log(f"importing {tarball} as {BASE_IMAGE}")
    run(["podman", "import", "--change", 'CMD ["/bin/bash"]', str(tarball), BASE_IMAGE], timeout=600)
    return BASE_IMAGE


# --- build ------------------------------------------------------------------------------------------------

def host_ca_bundle() -> str | None:
    for variable in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        value = os.environ.get(variable)
        if value and Path(value).is_file():
            return value
    system = Path("/etc/ssl/certs/ca-certificates.crt")
    return str(system) if system.is_file() else None


def build(base: str, runtime: str) -> None:
    argv = ["buildah", "bud", "--format", "docker",  # docker format: OCI images drop HEALTHCHECK
            "--runtime", runtime, "--layers=false", "--pull=false",
            "--build-arg", f"BASE={base}", "-t", IMAGE]
    bundle = host_ca_bundle()
    if bundle:  # pip in the build trusts what the host trusts; a bind mount, not a layer
        argv += ["-v", f"{bundle}:/etc/ssl/certs/ca-certificates.crt:ro",
                 "--build-arg", "PIP_CERT=/etc/ssl/certs/ca-certificates.crt"]
    result = run(argv + [str(REPO)], check=False, timeout=1800)
    if result.returncode != 0:
        raise CheckFailed(f"buildah bud failed ({result.returncode}):\n{(result.stdout + result.stderr)[-6000:]}")


# --- checks -----------------------------------------------------------------------------------------------

def _dockerfile_cmd() -> list[str]:
    text = (REPO / "Dockerfile").read_text()
    return json.loads(re.search(r"^CMD (\[.*\])$", text, re.M).group(1))


def check_config() -> int:
    """The image's config as the Dockerfile promises; returns the uid it runs as."""
    data = json.loads(run(["podman", "image", "inspect", IMAGE]).stdout)[0]
    config = data.get("Config") or {}
    user = str(config.get("User") or "")
    name = user.split(":")[0]
    if not name or name in ("root", "0"):
        raise CheckFailed(f"the image runs as {user or 'root (no USER)'}")
    # `podman image inspect` leaves the health check out of its JSON; its template has it.
    health = json.loads(run(["podman", "image", "inspect", "--format", "{{json .HealthCheck}}", IMAGE]).stdout
                        or "null") or {}
    test = health.get("Test") or []
    if not test or "/healthz" not in " ".join(test):
        raise CheckFailed(f"the image has no HEALTHCHECK on /healthz: {health!r}")
    if config.get("Cmd") != _dockerfile_cmd():
        raise CheckFailed(f"the image's CMD {config.get('Cmd')} is not the Dockerfile's")
    env = {item.split("=", 1)[0] for item in config.get("Env") or []}
    leaked = env & {"PIP_CERT", "BASE", "TAG_GATEWAY_SECRET"}
    if leaked:
        raise CheckFailed(f"the image's environment keeps {sorted(leaked)}")
    if config.get("WorkingDir") != "/data" or "/data" not in (config.get("Volumes") or {}):
        raise CheckFailed(f"/data is not the working directory and a volume: {config}")
    if name.isdigit():
        return int(name)
    uid = run(["podman", "run", "--rm", *_ulimits(), "--entrypoint", "id", IMAGE, "-u"]).stdout.strip()
    return int(uid)


def _ulimits() -> list[str]:
    # Without CAP_SYS_RESOURCE the runtime cannot raise limits above podman's own (podman's default
    # nofile is 1048576, more than a sandbox may allow; podman itself sets its processes limit to 32768).
    nofile_soft, nofile_hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    _, nproc_hard = resource.getrlimit(resource.RLIMIT_NPROC)
    nproc = 32768 if nproc_hard == resource.RLIM_INFINITY else min(32768, nproc_hard)
    nofile = nofile_hard if nofile_hard != resource.RLIM_INFINITY else 1048576
    return ["--ulimit", f"nofile={min(nofile, 1048576)}:{min(nofile, 1048576)}",
            "--ulimit", f"nproc={nproc}:{nproc}"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()


def _podman(runtime: str, *argv: str, **kwargs) -> subprocess.CompletedProcess:
    return run(["podman", "--runtime", runtime, *argv], **kwargs)


def run_container(runtime: str, uid: int) -> None:
    name = f"tag-gateway-check-{os.getpid()}"
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    try:
        # As README's `docker run`: config read-only at /config, the secret from the environment.
        _podman(runtime, "run", "-d", "--name", name, *_ulimits(), "-p", f"127.0.0.1:{port}:8000",
                "-v", f"{REPO / 'tag_configs'}:/config:ro", "-e", f"TAG_GATEWAY_SECRET={secrets.token_hex(32)}",
                IMAGE)
        health = _wait_healthy(runtime, name, base)
        if health.get("status") != "ok" or not health.get("tags") or health.get("config_problems"):
            raise CheckFailed(f"/healthz: {health}")
        log(f"GET /healthz from the host: {health['status']}, {health['tags']} tags")

        status, headers, body = _get(f"{base}/container.js")
        if status != 200 or not headers.get("content-type", "").startswith("text/javascript") \
                or b"tagGateway" not in body:
            raise CheckFailed(f"GET /container.js: {status} {headers.get('content-type')} {body[:200]!r}")
        log(f"GET /container.js from the host: {status}, {len(body)} bytes of JavaScript")

        consent_id = _post_consent(base)
        shown = _podman(runtime, "exec", name, "gateway", "consents", "show", consent_id).stdout
        if consent_id not in shown:
            raise CheckFailed(f"gateway consents show {consent_id} in the container:\n{shown}")
        _podman(runtime, "exec", name, "gateway", "consents", "verify")
        owner = _podman(runtime, "exec", name, "stat", "-c", "%u %a %n", "/data/tag-gateway.sqlite3",
                        "/data").stdout.split("\n")
        if any(not line.startswith(f"{uid} ") for line in owner if line):
            raise CheckFailed(f"/data and its consent log are not the image user's ({uid}): {owner}")
        leftovers = _podman(runtime, "exec", name, "sh", "-c",
                            "ls -A /data; test ! -e /src && echo no-src").stdout.split()
        if ".tag-gateway-secret" in leftovers or "no-src" not in leftovers:
            raise CheckFailed(f"/data or /src holds what it should not: {leftovers}")
        log(f"POST /consent recorded in /data/tag-gateway.sqlite3 (uid {uid}); chain verified")

        _check_processes(runtime, name, uid)

        result = _podman(runtime, "healthcheck", "run", name, check=False)
        if result.returncode != 0:
            raise CheckFailed(f"the image's HEALTHCHECK failed ({result.returncode}): {result.stdout}{result.stderr}")
        log("the image's HEALTHCHECK command succeeds (podman healthcheck run)")

        started = time.monotonic()
        _podman(runtime, "stop", "-t", str(STOP_TIMEOUT), name, timeout=STOP_TIMEOUT + 30)
        took = time.monotonic() - started
        state = json.loads(_podman(runtime, "inspect", "--format", "{{json .State}}", name).stdout)
        if state.get("ExitCode") != 0 or took >= STOP_TIMEOUT:
            logs = _podman(runtime, "logs", name, check=False)
            raise CheckFailed(f"podman stop: exit code {state.get('ExitCode')} after {took:.1f}s\n"
                              f"{(logs.stdout + logs.stderr)[-3000:]}")
        log(f"podman stop: exit code 0 after {took:.1f}s")
    finally:
        _podman(runtime, "rm", "-f", "-v", "-t", "0", name, check=False)


def _wait_healthy(runtime: str, name: str, base: str) -> dict:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            status, _, body = _get(f"{base}/healthz")
            if status == 200:
                return json.loads(body)
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        state = _podman(runtime, "inspect", "--format", "{{.State.Status}}", name, check=False).stdout.strip()
        if state not in ("running", "created", "configured") or time.monotonic() > deadline:
            logs = _podman(runtime, "logs", name, check=False)
            raise CheckFailed(f"the container did not answer /healthz (state {state!r}):\n"
                              f"{(logs.stdout + logs.stderr)[-4000:]}")
        time.sleep(0.5)


def _post_consent(base: str) -> str:
    body = json.dumps({"categories": ["analytics"]}).encode()
    request = urllib.request.Request(f"{base}/consent", data=body, method="POST", headers={
        "Content-Type": "application/json", "Origin": base})  # the example config allows http://127.0.0.1:*
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise CheckFailed(f"POST /consent: {error.code} {error.read()[:500]!r}") from None
    consent_id = (answer.get("consent") or {}).get("id")
    if not answer.get("token") or not consent_id:
        raise CheckFailed(f"POST /consent: {answer}")
    return consent_id


def _check_processes(runtime: str, name: str, uid: int) -> None:
    """Every process of the container, read from the host's /proc: real, effective, saved uid."""
    pid = int(_podman(runtime, "inspect", "--format", "{{.State.Pid}}", name).stdout)
    pids = [int(p) for p in _podman(runtime, "top", name, "hpid").stdout.split()[1:] if p.isdigit()] or [pid]
    seen = []
    for each in sorted(set(pids) | {pid}):
        with contextlib.suppress(FileNotFoundError):
            status = Path(f"/proc/{each}/status").read_text()
            uids = [int(u) for u in re.search(r"^Uid:\s+(.*)$", status, re.M).group(1).split()]
            comm = Path(f"/proc/{each}/comm").read_text().strip()
            seen.append((each, comm, uids))
            if any(u != uid for u in uids):
                raise CheckFailed(f"process {each} ({comm}) of the container runs as uids {uids}, not {uid}")
    log(f"{len(seen)} processes of the container, all uid {uid} on the host: "
        f"{', '.join(f'{p} {c}' for p, c, _ in seen)}")


# --- main -------------------------------------------------------------------------------------------------

def check(base: str | None = None, mirror: str | None = None, refresh_base: bool = False,
          keep: bool = False) -> dict[str, float]:
    tools = ensure_tools(need_debootstrap=base is None)
    runtime = tools["runc"]  # crun refuses hybrid cgroup set-ups ("cgroups in hybrid mode not supported")
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    with open(cache / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one check at a time: fixed image and base names
        try:
            started = time.monotonic()
            base = base or ensure_base(mirror, refresh_base)
            timings["base"] = time.monotonic() - started
            run(["podman", "rmi", "-f", IMAGE], check=False)  # a leftover would stay behind untagged
            log(f"building the Dockerfile on {base} ...")
            started = time.monotonic()
            build(base, runtime)
            timings["build"] = time.monotonic() - started
            log(f"built {IMAGE} in {timings['build']:.0f}s")
            started = time.monotonic()
            uid = check_config()
            log(f"image config: USER {uid}, HEALTHCHECK on /healthz, CMD {' '.join(_dockerfile_cmd())}")
            run_container(runtime, uid)
            timings["run"] = time.monotonic() - started
        finally:
            if not keep:
                run(["podman", "rmi", "-f", IMAGE], check=False)
    log("timings: " + ", ".join(f"{k} {v:.0f}s" for k, v in timings.items()))
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.image_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", help="build on this local image instead of the debootstrap one")
    parser.add_argument("--mirror", help="Debian archive for debootstrap (default: the one apt uses)")
    parser.add_argument("--refresh-base", action="store_true", help="debootstrap the base image again")
    parser.add_argument("--keep", action="store_true", help=f"keep the built image {IMAGE}")
    args = parser.parse_args(argv)
    try:
        check(args.base, args.mirror, args.refresh_base, args.keep)
    except CannotRun as error:
        log(f"cannot run: {error}")
        return 2
    except (CheckFailed, subprocess.TimeoutExpired) as error:
        log(f"FAILED: {error}")
        return 1
    log("every check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
