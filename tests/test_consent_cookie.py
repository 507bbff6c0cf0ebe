"""The consent cookie's size: a configuration whose cookie browsers would drop is warned about, with the size
the server really sends (gateway/consent_cookie.py)."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import load_config
from gateway.consent_cookie import BROWSER_LIMIT, largest_cookie
from gateway.live_config import LiveConfig

from conftest import SECRET, STORE_ORIGIN


def add_image_tags(config_dir: Path, count: int, id_length: int) -> None:
    """`count` image tags in the marketing category, each a vendor of its own (tag-<id>)."""
    tags = "".join(
        f"\n  - id: {('pixel-%03d-' % n).ljust(id_length, 'x')}\n"
        "    category: marketing\n"
        "    trigger: {type: page_view}\n"
        f"    image: {{url: \"https://px{n}.example/p.gif\"}}\n" for n in range(count))
    path = config_dir / "tags.yaml"
    path.write_text(path.read_text() + tags)


def vendor_choice_on(config_dir: Path) -> None:
    site = config_dir / "site.yaml"
    site.write_text(site.read_text().replace("  auto_blocking: true\n", "  auto_blocking: true\n  vendor_choice: true\n"))


def cookie_warnings(config) -> list[str]:
    return [str(w) for w in config.warnings if "consent cookie" in w.message]


def test_the_example_stores_cookie_is_far_below_the_limit_and_not_warned_about(config_dir: Path) -> None:
    vendor_choice_on(config_dir)
    config = load_config(config_dir)
    assert largest_cookie(config) < BROWSER_LIMIT // 4
    assert cookie_warnings(config) == []


def test_many_image_tags_with_long_ids_are_warned_about_with_the_size_the_server_sends(config_dir: Path,
                                                                                      consent_log) -> None:
    add_image_tags(config_dir, 24, 60)
    vendor_choice_on(config_dir)
    config = load_config(config_dir)  # still valid: a warning, never a refusal, so a reload keeps working
    size = largest_cookie(config)
    assert size > BROWSER_LIMIT
    [warning] = cookie_warnings(config)
    site_line = (config_dir / "site.yaml").read_text().splitlines().index("site:") + 1
    assert warning.startswith(f"{config_dir / 'site.yaml'}:{site_line}: site: warning: the consent cookie can reach "
                              f"{size:,} bytes, and browsers drop a cookie over 4,096: a visitor whose cookie is "
                              "dropped is asked again on every page and nothing optional fires.")
    assert "each vendor twice (shown and refused: site.vendor_choice)" in warning
    assert "each of the 24 image and script tags as a vendor of its own (tag-<id>)" in warning
    # The estimate is the server's own worst case: a visitor refusing every vendor gets a cookie of that size.
    app = create_app(LiveConfig.load(config_dir), SECRET, consent_log, watch=False)
    with TestClient(app, base_url="https://gateway.test") as client:
        vendors = [f"tag-{tag.id}" for tag in config.tags if tag.kind == "image"]
        answer = client.post("/consent", headers={"Content-Type": "application/json", "Origin": STORE_ORIGIN},
                             json={"categories": ["analytics", "marketing"], "action": "custom",
                                   "vendors_refused": vendors})
    assert answer.status_code == 200, answer.text
    sent = len(answer.headers["set-cookie"].encode())
    assert BROWSER_LIMIT < sent <= size


def test_short_ids_fit_the_same_number_of_tags(config_dir: Path) -> None:
    add_image_tags(config_dir, 24, 12)
    vendor_choice_on(config_dir)
    config = load_config(config_dir)
    assert largest_cookie(config) < BROWSER_LIMIT and cookie_warnings(config) == []
