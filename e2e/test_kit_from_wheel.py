"""The testing kit as a store owner gets it: tag-gateway built as a wheel, installed into a fresh
virtual environment, and the README's example test file run against another store (e2e/kit_store/,
a bookshop with its own config and pages) served by the installed `gateway serve`.

The fresh environment borrows the dependencies already installed in this project's .venv (a .pth line:
no download, and nothing of this checkout is importable there); tag-gateway itself comes only from
the wheel, so what this proves is what the wheel ships: package data, the pytest plugin's entry point,
the stand-ins, the schema, the templates and the migrations.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import site
import subprocess
import sys
import time
from pathlib import Path

from .support import REPO, free_port, http_request

KIT_STORE = Path(__file__).resolve().parent / "kit_store"


def run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(list(args), capture_output=True, text=True, timeout=300, **kwargs)
    assert result.returncode == 0, f"{' '.join(args)}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def readme_example() -> str:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Testing your store's tags", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_example_passes_against_another_store_with_the_kit_from_a_wheel(tmp_path: Path):
    # Built from a copy of the tracked files: a build/ left in the checkout could smuggle stale modules in.
    source = tmp_path / "source"
    for name in run("git", "ls-files", cwd=REPO).stdout.split():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, source / name)
    wheels = tmp_path / "wheels"
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(source))
    [wheel] = wheels.glob("tag_gateway-*.whl")

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", str(venv))
    python = venv / "bin" / "python"
    own_site = Path(run(str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
    # Dependencies from this project's environment, after the fresh one's own site-packages.
    (own_site / "borrowed-dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    run(sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(own_site), str(wheel))
    where = run(str(python), "-c", "import gateway, gateway.pytest_plugin; print(gateway.__file__)", cwd=tmp_path).stdout
    assert where.startswith(str(own_site)), where  # the wheel's copy, not this checkout's

    port = free_port()
    store_url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, TAG_GATEWAY_SECRET=secrets.token_hex(32), DATABASE_URL=f"sqlite:///{tmp_path}/consents.sqlite3",
               PYTHONUNBUFFERED="1")
    server = subprocess.Popen([str(python), "-m", "gateway", "serve", "--config", str(KIT_STORE / "tag_configs"),
                               "--store", str(KIT_STORE / "pages"), "--port", str(port)],
                              cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if http_request("GET", store_url + "/healthz", timeout=1).status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            server.kill()
            raise AssertionError(f"the installed gateway did not start:\n{server.stdout.read()}")

        project = tmp_path / "bookshop"
        (project / "tests").mkdir(parents=True)
        (project / "tests" / "test_tags.py").write_text(readme_example())
        (project / "pytest.ini").write_text(f"[pytest]\ntag_gateway_configs = {KIT_STORE / 'tag_configs'}\n")
        result = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_tags.py"],
                                cwd=project, env=dict(os.environ, STORE_URL=store_url), capture_output=True, text=True,
                                timeout=300)
        assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
        assert re.search(r"\b4 passed\b", result.stdout), result.stdout[-3000:]
    finally:
        server.terminate()
        server.wait(timeout=10)
