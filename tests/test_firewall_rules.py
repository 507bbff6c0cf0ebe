"""The consent firewall's rules and Google Consent Mode settings, as the container receives them.

What the browser does with them is proven in e2e/test_firewall.py and e2e/test_consent_mode.py.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from gateway.config import load_config
from gateway.container import runtime_config
from gateway.firewall import firewall_rules

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = Path(__file__).resolve().parent / "samples"


def rules_by_target(config) -> dict[str, set[str]]:
    """'host/path' -> the tag ids whose requests it claims."""
    enabled = [t for t in config.tags if t.enabled]
    return {host + path: {enabled[i].id for i in indices} for host, path, indices in firewall_rules(config)}


def test_every_vendor_of_the_example_store_is_claimed_by_its_own_tags() -> None:
    rules = rules_by_target(load_config(ROOT / "tag_configs"))
    ga4 = {"ga4", "ga4-purchase", "ga4-virtual-pageview"}
    assert rules["google-analytics.com"] == ga4
    assert rules["www.googletagmanager.com/gtag/js?id=G-"] == ga4
    assert rules["www.googletagmanager.com/gtag/js?id=AW-"] == {"google-ads-conversion"}
    # One library URL for two categories: either lets it load, the id-specific rules decide first.
    assert rules["www.googletagmanager.com/gtag/js"] == ga4 | {"google-ads-conversion"}
    assert rules["doubleclick.net"] == rules["www.googleadservices.com"] == {"google-ads-conversion"}
    meta = {"meta-pageview", "meta-add-to-cart", "meta-purchase", "meta-newsletter-lead"}
    assert rules["connect.facebook.net"] == rules["facebook.com/tr"] == meta
    assert rules["analytics.tiktok.com"] == {"tiktok-pageview", "tiktok-purchase"}


def test_more_specific_rules_come_first() -> None:
    order = [host + path for host, path, _ in firewall_rules(load_config(ROOT / "tag_configs"))]
    assert order.index("www.googletagmanager.com/gtag/js?id=AW-") < order.index("www.googletagmanager.com/gtag/js")
    assert order.index("www.google.com/pagead/") < order.index("doubleclick.net")
    lengths = [(len(path), len(host)) for host, path, _ in firewall_rules(load_config(ROOT / "tag_configs"))]
    assert lengths == sorted(lengths, reverse=True)


def test_a_wildcard_host_is_the_host_itself() -> None:
    """`*.hotjar.io` and `hotjar.io` mean the same: a host always covers its subdomains."""
    rules = rules_by_target(load_config(SAMPLES / "valid" / "google_consent_mode"))
    assert "hotjar.io" in rules and not any(target.startswith("*") for target in rules)


def test_script_tags_claim_their_host_and_the_hosts_they_list() -> None:
    rules = rules_by_target(load_config(SAMPLES / "valid" / "google_consent_mode"))
    assert rules["static.hotjar.com"] == {"heatmap"}
    assert rules["hotjar.io"] == rules["hotjar.com"] == rules["content.hotjar.io/collect"] == {"heatmap"}
    assert rules["www.googletagmanager.com/gtag/js?id=AW-"] == {"ads-remarketing"}


def test_image_tags_claim_their_host(config_dir: Path) -> None:
    (config_dir / "tags.yaml").write_text(
        "tags:\n"
        "  - id: partner-pixel\n"
        "    category: marketing\n"
        "    trigger: {type: page_view}\n"
        "    image: {url: 'https://px.partner.example/collect?a=1'}\n"
    )
    assert rules_by_target(load_config(config_dir)) == {"px.partner.example": {"partner-pixel"}}


def test_disabled_tags_and_a_switched_off_firewall_claim_nothing(config_dir: Path) -> None:
    config = load_config(config_dir)
    only_ga4 = replace(config, tags=tuple(replace(t, enabled=t.kind == "ga4") for t in config.tags))
    targets = rules_by_target(only_ga4)
    assert not any("facebook" in t or "tiktok" in t or "doubleclick" in t for t in targets)
    # Indices count enabled tags only, as the container's CONFIG.tags does.
    assert runtime_config(only_ga4, "")["tags"][0]["id"] == "ga4"
    off = replace(config, site=replace(config.site, consent_firewall=False))
    assert runtime_config(off, "")["fw"] == []
    assert runtime_config(config, "")["fw"]


def test_consent_mode_defaults_map_analytics_and_marketing() -> None:
    gcm = runtime_config(load_config(ROOT / "tag_configs"), "")["gcm"]
    assert gcm["types"] == {
        "ad_storage": ["marketing"], "analytics_storage": ["analytics"], "ad_user_data": ["marketing"],
        "ad_personalization": ["marketing"], "functionality_storage": ["necessary"],
        "personalization_storage": [], "security_storage": ["necessary"],
    }
    assert gcm.get("redact") is True and "passthrough" not in gcm  # only what is on is shipped


def test_consent_mode_mapping_is_configurable() -> None:
    gcm = runtime_config(load_config(SAMPLES / "valid" / "google_consent_mode"), "")["gcm"]
    assert gcm["types"]["analytics_storage"] == ["statistics"]
    assert gcm["types"]["ad_personalization"] == ["ads", "personalisation"]
    assert gcm["types"]["functionality_storage"] == ["necessary"]  # left out: the default
    assert "redact" not in gcm and gcm.get("passthrough") is True


def test_consent_mode_is_only_shipped_with_a_google_tag() -> None:
    config = load_config(ROOT / "tag_configs")
    without_google = replace(config, tags=tuple(t for t in config.tags if t.kind not in ("ga4", "google_ads")))
    assert "gcm" not in runtime_config(without_google, "")
