"""Config checks from the security review: a privacy link that cannot leave the store, and the rate limit's settings."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from gateway.config import DEFAULT_CONSENT_RATE_LIMIT, load_config
from gateway.errors import ConfigError


def set_site(config_dir: Path, old: str, new: str) -> None:
    site = config_dir / "site.yaml"
    text = site.read_text()
    assert old in text
    site.write_text(text.replace(old, new))


def problems(config_dir: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(config_dir)
    # Problems name the file by its full path here (tmp_path); compare from the file name on.
    return [str(replace(p, file=Path(p.file).name)) for p in caught.value.problems]


@pytest.mark.parametrize("url", [
    "//evil.example/privacy",        # protocol-relative: another site
    "/\\evil.example/privacy",       # browsers read a backslash as a slash here
    "javascript:alert(1)",
    "https://shop.example@evil.example/privacy",  # the host is evil.example
    "https://shop.example\\@evil.example/",
])
def test_privacy_policy_url_that_leaves_the_store_is_refused(config_dir: Path, url: str) -> None:
    set_site(config_dir, "privacy_policy_url: /privacy.html", f"privacy_policy_url: '{url}'")
    found = problems(config_dir)
    assert len(found) == 1 and found[0].startswith("site.yaml:16: site.privacy_policy_url: "), found
    assert "single /" in found[0]


@pytest.mark.parametrize("url", ["/privacy.html", "/", "https://shop.example/privacy?lang=en#top",
                                 "https://shop.example", "/legal/privacy?x=//y"])
def test_ordinary_privacy_links_still_pass(config_dir: Path, url: str) -> None:
    set_site(config_dir, "privacy_policy_url: /privacy.html", f"privacy_policy_url: '{url}'")
    assert load_config(config_dir).site.privacy_policy_url == url


def test_rate_limit_defaults_can_be_set_and_turned_off(config_dir: Path) -> None:
    assert load_config(config_dir).site.consent_rate_limit == DEFAULT_CONSENT_RATE_LIMIT
    set_site(config_dir, "  consent_max_age_days: 180\n",
             "  consent_max_age_days: 180\n  consent_rate_limit: {requests: 5, per_seconds: 10}\n")
    assert load_config(config_dir).site.consent_rate_limit == (5, 10)
    set_site(config_dir, "{requests: 5, per_seconds: 10}", "false")
    assert load_config(config_dir).site.consent_rate_limit is None


@pytest.mark.parametrize("value,message", [
    ("{requests: 0, per_seconds: 10}", "site.yaml:18: site.consent_rate_limit.requests: 0 is too small"),
    ("{requests: 5}", "site.yaml:18: site.consent_rate_limit: missing required key 'per_seconds'"),
    ("{requests: 5, per_second: 10}", "site.yaml:18: site.consent_rate_limit.per_second: unknown key 'per_second'"),
    ("lots", "site.yaml:18: site.consent_rate_limit: expected true or false or a mapping of keys"),
])
def test_bad_rate_limit_settings_are_explained(config_dir: Path, value: str, message: str) -> None:
    set_site(config_dir, "  consent_max_age_days: 180\n",
             f"  consent_max_age_days: 180\n  consent_rate_limit: {value}\n")
    found = problems(config_dir)
    assert any(p.startswith(message) for p in found), found
