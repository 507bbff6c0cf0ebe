"""pytest plugin (entry point `pytest11: tag_gateway`): the `tag_recorder` fixture and its options.

`tag_recorder` attaches a VendorRecorder to the test's `context` fixture: pytest-playwright's when it is
installed, else a plain Playwright context this plugin provides (`playwright`, `browser`,
`browser_context_args`, `context`, `page`, registered only without pytest-playwright; a project's own
fixtures of those names win, as conftest fixtures always do). A context that already has a recorder
(a project's own) gets that one, so two recorders never fight over one context.

Options (pytest.ini / pyproject `[tool.pytest.ini_options]`):
  tag_gateway_configs    the store's tag_configs/ folder, relative to the rootdir (default: tag_configs;
                         a missing folder means events are decoded but not named after tags)
  tag_gateway_libraries  stubs (default: the offline stand-ins) or real (the vendors' own libraries;
                         beacons are still recorded and answered locally); also --tag-gateway-libraries
Override the `tag_gateway_configs` fixture to choose the folder per test module, and
`tag_gateway_library_files` ({url_pattern: path}) to answer the real libraries from local copies.
"""

from __future__ import annotations

from pathlib import Path

import pytest

try:
    from gateway.testing.recorder import VendorRecorder, attached_recorder
except ImportError as missing:  # tag-gateway installed without its [testing] extra (no Playwright):
    VendorRecorder = None       # pytest must still start in that environment; only tag_recorder fails
    _MISSING = str(missing)

LIBRARY_MODES = ("stubs", "real")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("tag_gateway_configs", "the store's tag_configs/ folder (relative to the rootdir)",
                  default="tag_configs")
    parser.addini("tag_gateway_libraries", "vendor libraries: stubs (offline stand-ins) or real", default="stubs")
    parser.addoption("--tag-gateway-libraries", choices=LIBRARY_MODES, default=None,
                     help="vendor libraries for tag_recorder: stubs (offline stand-ins, default) or real")


def pytest_configure(config: pytest.Config) -> None:
    if VendorRecorder is not None and not config.pluginmanager.hasplugin("playwright"):  # pytest-playwright's name
        from gateway.testing import _plain_playwright

        config.pluginmanager.register(_plain_playwright, "tag_gateway_plain_playwright")


@pytest.fixture(scope="session")
def tag_gateway_configs(pytestconfig: pytest.Config) -> Path | None:
    """The tag_configs/ folder whose tag ids the recorder reports (None: ids unknown)."""
    folder = Path(pytestconfig.getini("tag_gateway_configs"))
    if not folder.is_absolute():
        folder = pytestconfig.rootpath / folder
    return folder if folder.is_dir() else None


@pytest.fixture(scope="session")
def tag_gateway_libraries(pytestconfig: pytest.Config) -> str:
    mode = pytestconfig.getoption("--tag-gateway-libraries") or pytestconfig.getini("tag_gateway_libraries")
    if mode not in LIBRARY_MODES:
        raise pytest.UsageError(f"tag_gateway_libraries must be one of {LIBRARY_MODES}, not {mode!r}")
    return mode


@pytest.fixture(scope="session")
def tag_gateway_library_files() -> dict[str, str | Path]:
    """With `real` libraries: {url_pattern: path} of local copies to serve instead (e.g. pinned for an
    offline CI; see VendorRecorder). Override it in conftest.py; empty: every library goes to its vendor."""
    return {}


@pytest.fixture
def tag_recorder(request: pytest.FixtureRequest, tag_gateway_configs, tag_gateway_libraries,
                 tag_gateway_library_files) -> VendorRecorder:
    """Every third-party request of the test's `context`, recorded, answered offline, decoded and named."""
    if VendorRecorder is None:
        pytest.fail(f'tag_recorder needs the testing extra: pip install "tag-gateway[testing]" ({_MISSING})',
                    pytrace=False)
    context = request.getfixturevalue("context")
    recorder = attached_recorder(context)
    if recorder is None:
        recorder = VendorRecorder(config=tag_gateway_configs, libraries=tag_gateway_libraries,
                                  library_files=tag_gateway_library_files or None).attach(context)
    elif recorder.config is None:
        recorder.use_config(tag_gateway_configs)
    return recorder
