"""The configurations the harness measures, written into temp folders from the example (tag_configs/).

* `load_config_copy`: the example as it is, except a POST /consent rate limit (if this gateway has one)
  high enough that a load from one loopback address measures the endpoint, not 429s. The limiter stays
  on, so its per-request cost is measured.
* `large_config`: the example's site and categories with 50 tags of every kind and every trigger type (some with
  conditions and firing rules), checked
  by the loader `gateway validate` runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from bench.errors import BenchError
from gateway.config import load_config
from gateway.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "tag_configs"
SCHEMA = ROOT / "gateway" / "schemas" / "tag_config.schema.json"
RATE_LIMIT_KEY = "consent_rate_limit"
HIGH_RATE_LIMIT = {"requests": 1_000_000, "per_seconds": 1}
LARGE_TAGS = 50


def _site_keys() -> set[str]:
    schema = json.loads(SCHEMA.read_text())
    return set(schema["$defs"]["site"]["properties"])


def _copy(source: Path, target: Path, edit_site) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.glob("*.yaml")):
        document = yaml.safe_load(path.read_text())
        if isinstance(document, dict) and "site" in document:
            edit_site(document["site"])
            (target / path.name).write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
        else:
            (target / path.name).write_text(path.read_text())
    return target


def load_config_copy(target: Path, source: Path = EXAMPLE) -> Path:
    def raise_limit(site: dict) -> None:
        if RATE_LIMIT_KEY in _site_keys():
            site[RATE_LIMIT_KEY] = dict(HIGH_RATE_LIMIT)
    return _copy(source, target, raise_limit)


def _vendor(kind: str, n: int) -> dict:
    """What a tag of `kind` fires; ids vary with n, as on a store with several accounts."""
    return {
        "ga4": {"measurement_id": f"G-BENCH{n:05d}"},
        "google_ads": {"conversion_id": f"AW-{900000000 + n}", "conversion_label": f"Label{n:04d}"},
        "meta_pixel": {"pixel_id": str(1000000000 + n), "event": "AddToCart",
                       "params": {"value": "{{ dataLayer.ecommerce.value }}", "currency": "EUR"}},
        "tiktok_pixel": {"pixel_id": f"CBENCH{n:014d}"},
        "pinterest": {"tag_id": str(2600000000000 + n)},
        "snap_pixel": {"pixel_id": f"{n:08x}-0000-4000-8000-000000000000"},
        "image": {"url": f"https://pixel{n}.bench.example/p.gif",
                  "params": {"page": "{{ page.path }}", "order": "{{ dataLayer.ecommerce.transaction_id }}", "n": n}},
        "script": {"src": f"https://cdn{n}.bench.example/tag.js", "init": f"window.benchTag{n} = tagGateway.event;"},
    }[kind]


KINDS = ("ga4", "google_ads", "meta_pixel", "tiktok_pixel", "pinterest", "snap_pixel", "image", "script")
# Every trigger type, some with conditions and firing rules: the large container carries all of them.
TRIGGERS = ({"type": "page_view"}, {"type": "event", "event": "purchase"}, {"type": "click", "selector": ".add-to-cart"},
            {"type": "page_view", "paths": ["/products/*", "/thank-you*"]}, {"type": "event", "event": "add_to_cart"},
            {"type": "history_change"}, {"type": "form_submit", "selector": "#newsletter"},
            {"type": "element_visible", "selector": ".promo"}, {"type": "scroll_depth", "thresholds": [50, 90]},
            {"type": "timer", "interval_ms": 30000, "limit": 2}, {"type": "dom_ready"}, {"type": "window_loaded"},
            {"type": "click", "links_only": True, "conditions": [{"value": "{{ url.host }}", "ends_with": "shop.example"}]},
            {"type": "page_view", "unless": [{"value": "{{ cookie.staff }}", "equals": "1"}]})
# Firing rules, in turn (keys from the data layer: every trigger type has it).
FIRING = ({}, {"fire": "once_per_page"}, {}, {"fire": {"once_per_key": "{{ dataLayer.ecommerce.transaction_id }}"}})


def large_config(target: Path, source: Path = EXAMPLE) -> Path:
    _copy(source, target, lambda site: None)
    for path in target.glob("*.yaml"):
        document = yaml.safe_load(path.read_text())
        if isinstance(document, dict) and "tags" in document:
            path.unlink()  # the example's tags make way for the generated ones
    site = next(yaml.safe_load(p.read_text()) for p in target.glob("*.yaml")
                if "categories" in (yaml.safe_load(p.read_text()) or {}))
    categories = list(site["categories"])
    tags = []
    for n in range(LARGE_TAGS):
        kind = KINDS[n % len(KINDS)]
        tags.append({"id": f"{kind.replace('_', '-')}-{n}", "name": f"Generated {kind} tag {n}",
                     "category": categories[n % len(categories)], "trigger": TRIGGERS[n % len(TRIGGERS)],
                     **FIRING[n % len(FIRING)], kind: _vendor(kind, n)})
    (target / "tags.yaml").write_text(yaml.safe_dump({"tags": tags}, sort_keys=False))
    try:  # what `gateway validate` runs, in this process
        load_config(target)
    except ConfigError as error:
        raise BenchError(f"the generated {LARGE_TAGS}-tag config is invalid: " + "; ".join(map(str, error.problems))) from None
    return target


# The tags that send their events server-side in the /collect and delivery measurements (as in
# tests/forwarding_fakes.py::server_side_config): GA4 cannot be `also` (it does not de-duplicate).
SERVER_SIDE = {"meta-purchase": "also", "tiktok-purchase": "also", "ga4-purchase": "only"}


def server_side_copy(target: Path, source: Path = EXAMPLE) -> Path:
    """`load_config_copy` with the purchase tags forwarded server-side (POST /collect accepts them)."""
    load_config_copy(target, source)
    tags = target / "tags.yaml"
    text = tags.read_text()
    for tag, mode in SERVER_SIDE.items():
        if f"  - id: {tag}\n" not in text:
            raise BenchError(f"tag_configs/tags.yaml has no tag {tag}: the /collect measurements need it")
        text = text.replace(f"  - id: {tag}\n", f"  - id: {tag}\n    server_side: {mode}\n", 1)
    tags.write_text(text)
    return target
