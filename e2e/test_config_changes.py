"""The gateway serves what its config directory says, and picks up edits while running."""

import shutil
import time

from playwright.sync_api import expect

from gateway.testing import accept_all

from .support import DEFAULT_CONFIG_DIR, META_PIXEL_ID, Shop, http_request

OTHER_PIXEL_ID = "5550001111"


def _copy_example_config(tmp_path):
    config_dir = tmp_path / "tag_configs"
    shutil.copytree(DEFAULT_CONFIG_DIR, config_dir)
    return config_dir


def _edit(config_dir, old, new):
    changed = 0
    for path in config_dir.glob("*.y*ml"):
        text = path.read_text()
        if old in text:
            path.write_text(text.replace(old, new))
            changed += 1
    assert changed, f"{old!r} not found in {config_dir}"


def _wait_for_container(server, predicate, timeout=15.0):
    # Every worker watches the config on its own (within a second of each other): wait until a run
    # of fresh connections, which the kernel spreads over the workers, all get the new container.
    deadline = time.monotonic() + timeout
    agreeing = 0
    while time.monotonic() < deadline:
        script = http_request("GET", server.url + "/container.js").text
        agreeing = agreeing + 1 if predicate(script) else 0
        if agreeing == 12:
            return
        time.sleep(0.05 if agreeing else 0.2)
    raise AssertionError(f"/container.js did not change within {timeout}s; gateway output:\n{server.output()}")


def test_gateway_serves_a_config_from_another_directory(tmp_path, gateway_factory, page, recorder):
    config_dir = _copy_example_config(tmp_path)
    _edit(config_dir, META_PIXEL_ID, OTHER_PIXEL_ID)
    server = gateway_factory(config_dir)
    recorder.use_config(config_dir)  # tags are named from the config this gateway serves

    shop = Shop(page, server.url, recorder).open("/")
    accept_all(page)

    [page_view] = recorder.assert_fired("meta-pageview")
    assert page_view.account == OTHER_PIXEL_ID


def test_config_edit_is_served_without_restart(tmp_path, gateway_factory, page, recorder):
    config_dir = _copy_example_config(tmp_path)
    server = gateway_factory(config_dir)
    recorder.use_config(config_dir)
    shop = Shop(page, server.url, recorder).open("/")
    accept_all(page)
    [page_view] = recorder.assert_fired("meta-pageview")
    assert page_view.account == META_PIXEL_ID

    _edit(config_dir, META_PIXEL_ID, OTHER_PIXEL_ID)
    _wait_for_container(server, lambda script: OTHER_PIXEL_ID in script)

    recorder.use_config(config_dir)  # re-read: the tag now sends to the other pixel
    recorder.clear()
    shop.reload()
    [page_view] = recorder.assert_fired("meta-pageview")
    assert page_view.account == OTHER_PIXEL_ID


def test_new_policy_version_asks_again(tmp_path, gateway_factory, page, recorder):
    config_dir = _copy_example_config(tmp_path)
    server = gateway_factory(config_dir)
    shop = Shop(page, server.url, recorder).open("/")
    accept_all(page)
    recorder.assert_fired("ga4", once=True)

    _edit(config_dir, "policy_version: 1", "policy_version: 2")
    # The gateway notices the edit within a few seconds; until then the old choice holds.
    deadline = time.monotonic() + 15
    while True:
        shop.reload()
        if shop.state() == "undecided" or time.monotonic() > deadline:
            break
        shop.settle()
    recorder.clear()
    shop.reload()

    expect(shop.banner).to_be_visible()
    recorder.assert_silent(wait_ms=0)
