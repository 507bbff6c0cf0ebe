"""The kit's pytest plugin is registered for everyone who installs tag-gateway (entry point pytest11):
without the [testing] extra it must not stop pytest from starting."""

from __future__ import annotations

import subprocess
import sys

WITHOUT_PLAYWRIGHT = """
import builtins
real_import = builtins.__import__
def no_playwright(name, *args, **kwargs):
    if name.split('.')[0] == 'playwright':
        raise ImportError("No module named 'playwright'")
    return real_import(name, *args, **kwargs)
builtins.__import__ = no_playwright
import gateway.pytest_plugin as plugin
assert plugin.VendorRecorder is None
print('ok')
"""


def test_the_plugin_loads_without_playwright() -> None:
    result = subprocess.run([sys.executable, "-c", WITHOUT_PLAYWRIGHT], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_the_plugin_is_registered_as_a_pytest_entry_point() -> None:
    from importlib.metadata import entry_points

    assert [e.value for e in entry_points(group="pytest11") if e.name == "tag_gateway"] == ["gateway.pytest_plugin"]
