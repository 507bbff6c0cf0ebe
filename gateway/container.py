"""Build the one container script a store includes, once per configuration.

container.js = runtime JS from consent_ui/ + the JS of the tag kinds in use + the
compiled configuration as JSON + the banner rendered by Jinja2 (autoescaped).
The result is minified, gzipped and hashed here so that serving it is a lookup.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import brotli
import jinja2
import rcssmin

from gateway import __version__, js_minify
from gateway.config import Config
from gateway.firewall import firewall_rules
from gateway.i18n import text_blocks
from gateway.tags import kind_js, shared_js
from gateway.vendors import VENDORS
from gateway.triggers import compile_trigger, runtime_files
from gateway.vendor_choice import vendors_by_category

# The vendor units that share consent_ui/tags/google.js (one gtag data layer, Consent Mode): ga4, google_ads.
GOOGLE_KINDS = tuple(key for key, vendor in VENDORS.items() if "google" in vendor.shared_js)

_UI = resources.files("consent_ui")


@dataclass(frozen=True)
class Container:
    body: bytes
    gzipped: bytes
    etag: str  # strong ETag of the uncompressed body; each compressed variant gets a suffix
    brotli: bytes = b""  # empty when not built (tests that build many containers skip it)

    @property
    def gzip_etag(self) -> str:
        return self.etag[:-1] + '-gzip"'

    @property
    def brotli_etag(self) -> str:
        return self.etag[:-1] + '-br"'


def _read(name: str) -> str:
    return _UI.joinpath(name).read_text("utf-8")


@lru_cache(maxsize=1)
def _templates() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FunctionLoader(lambda name: _read(name)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["text_blocks"] = text_blocks  # the banner's text as blocks (banner.html.j2, notice.html.j2)
    return env


def script_safe_json(value: Any) -> str:
    """JSON that is also safe inside an inline <script> (if a store inlines the container).

    `<`, `>` and `&` are escaped so no string can close the script element or open a
    comment; ensure_ascii turns U+2028/U+2029 into escapes as well.
    """
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), sort_keys=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def runtime_config(config: Config, ui_html: str) -> dict[str, Any]:
    tags = []
    enabled = [tag for tag in config.tags if tag.enabled]
    position = {tag.id: index for index, tag in enumerate(enabled)}
    for tag in enabled:
        # Not the tag's `name`: it is for people reading the YAML, and logs name tags by their id.
        # Runtime keys of a tag (trigger, once, delay, setup) never clash with a kind's compiled keys.
        tags.append({"id": tag.id, "category": tag.category, "kind": tag.kind,
                     "trigger": compile_trigger(tag.trigger), **tag.compiled, **tag.firing,
                     **({"setup": position[tag.setup]} if tag.setup else {}),
                     **({"restricted": True} if tag.restricted else {}),
                     # also | only: consent_ui/rules/server_side.js sends its events to POST /collect too (or only).
                     **({"ss": tag.server_side} if tag.server_side else {}),
                     **({"ud": tag.user_data} if tag.user_data else {}),
                     # Whom a per-vendor choice names (runtime.js mayFire): only when the site offers it.
                     **({"v": tag.vendor_key} if config.site.vendor_choice and tag.category != "necessary" else {})})
    out = {
        "version": __version__,
        "categories": list(config.category_keys),
        "cookie": {"name": config.site.cookie_name, "max_age": config.site.consent_max_age_seconds,
                   "domain": config.site.cookie_domain},
        "fab": bool(config.banner["floating_button"]),
        "tags": tags,
        "ui": ui_html,
        "uiv": ui_version(),  # /ui.js?v=...: the banner's code, cached for good by browsers
        "fw": firewall_rules(config) if config.site.consent_firewall else [],
    }
    if config.variables:
        out["vars"] = config.variables
    if config.site.vendor_choice:
        out["vc"] = True  # POST /consent carries vendors_refused (runtime.js, banner.js)
    if config.site.auto_blocking:
        out["embeds"] = True  # consent_ui/embeds.js (in /ui.js) acts only then
    if any(tag["kind"] in GOOGLE_KINDS for tag in tags):
        gcm = config.google_consent
        out["gcm"] = {"types": gcm["types"]}
        if config.site.vendor_choice:
            # The Google vendors behind each consent type: refused all, the type stays denied (google.js).
            behind = {t: sorted({tag["kind"] for tag in tags if tag["kind"] in GOOGLE_KINDS and tag["category"] in cats
                                 and tag["category"] != "necessary"}) for t, cats in gcm["types"].items()}
            out["gcm"]["v"] = {t: kinds for t, kinds in behind.items() if kinds}
        if gcm["ads_data_redaction"]:
            out["gcm"]["redact"] = True
        if gcm["url_passthrough"]:
            out["gcm"]["passthrough"] = True
    return out


def _render(template: str, css: str, config: Config, language: str | None = None, **extra: Any) -> str:
    """`language`: one the site offers (else its default); its texts fill the template."""
    html = _templates().get_template(template).render(
        css=rcssmin.cssmin(_read(css)) if css else "",  # a CSS-aware minifier: `calc(a - b)` needs its spaces
        banner=config.banner_in(language), site=config.site, categories=config.categories_in(language), **extra)
    return re.sub(r">\s+<", "><", html.strip())  # the template's indentation, not text: no element is inline-spaced


def render_fab(config: Config) -> str:
    """What the container itself shows: base styles and the floating "Privacy settings" button."""
    return _render("fab.html.j2", "fab.css", config)


def render_dialogs(config: Config, language: str | None = None) -> str:
    """The banner and the preferences dialog with their styles, in `language` (default: the site's).
    Not in the container: the gateway sends them with GET /consent when a choice is needed, and at
    GET /ui when the visitor opens the preferences, so the script every page loads stays small."""
    return _render("banner.html.j2", "banner.css", config, language, vendors=vendors_by_category(config),
                   vendor_choice=config.site.vendor_choice)


def render_notice(config: Config, honored: bool, language: str | None = None) -> str:
    """The opt-out notice (text, "Do Not Sell or Share" link, or "Opt-Out Request Honored"), or ""
    when no region is opt-out. Autoescaped like the banner; it holds no visitor data."""
    if not config.regions.has_opt_out:
        return ""
    return _render("notice.html.j2", "", config, language, honored=honored,
                   privacy_choices=config.regions.opt_out_link == "privacy_choices")


CONFIG_HOLE = "__tg_config__"  # where the JSON goes: a global name the mangler keeps as is


def static_source(kinds: tuple[str, ...], extras: tuple[str, ...] = ()) -> str:
    """All static JS of a container with the tag kinds `kinds`, as one function of CONFIG.

    `(function(CONFIG){...})(__tg_config__)`: the mangler sees every name that is static (so it may rename
    them all, CONFIG too) and never the configuration, which build_container puts in the hole as JSON.
    """
    return "\n".join([
        "(function(CONFIG){'use strict';",
        "var KINDS={},TRIGGERS=Object.create(null),ROOTS=Object.create(null),GATES=[],AFTER=[];",
        _read("tags/ecommerce.js"),
        *(_read(f"tags/{name}.js") for name in shared_js(kinds)),  # e.g. google.js for ga4 and google_ads
        *(kind_js(kind) for kind in kinds),  # consent_ui/tags/<kind>.js, or the vendor unit's adapter.js
        _read("firewall.js"),
        # Trigger types and rules in use (gateway/triggers.py): they register in TRIGGERS and GATES,
        # which runtime.js reads when it starts, after them.
        *(_read(name) for name in extras),
        _read("runtime.js"),
        f"}})({CONFIG_HOLE});",
    ])


@lru_cache(maxsize=1)
def build_ui_script() -> Container:
    """The banner's code (consent_ui/banner.js), served at /ui.js: the same for every site and config.

    With it, consent_ui/embeds.js (auto-blocking of the store's own <script type="text/plain"> and
    <iframe data-src> elements): they stay inert by themselves until activated, so their code need not be
    in the container. It wraps the functions banner.js hands over, so it must come after it.
    All three in one function, after consent_ui/ui_common.js: the helpers both use are defined once, and the
    mangler may shorten every name of the script, none of which is a global."""
    source = "\n".join(["(function (d) {", _read("ui_common.js"), _read("banner.js"), _read("embeds.js"),
                         "})(document);"])
    body = (f"/*! tag-gateway {__version__} banner */\n" + js_minify.mangle(source)).encode("utf-8")
    return Container(body=body, gzipped=js_minify.gzip_best(body), etag=f'"{hashlib.sha256(body).hexdigest()[:32]}"',
                     brotli=brotli.compress(body, quality=11, mode=brotli.MODE_TEXT))


def ui_version() -> str:
    """In the URL the container loads /ui.js from (?v=): new code, new URL, so browsers may keep it for good."""
    return build_ui_script().etag[1:13]


def optional_files(config: Config, runtime: dict[str, Any]) -> tuple[str, ...]:
    """The consent_ui files beyond the core that this configuration needs, in the order they run (all before
    runtime.js): trigger types, values and rules in use, and the per-vendor choices (consent_ui/vendors.js)
    only for a site that offers them, so no other store's container pays for that code."""
    files = runtime_files(runtime["tags"], runtime.get("vars"))
    if config.site.vendor_choice:
        files.append("vendors.js")
    return tuple(files)


def build_container(config: Config) -> Container:
    kinds = tuple(sorted({tag.kind for tag in config.tags if tag.enabled}))
    runtime = runtime_config(config, render_fab(config))
    extras = optional_files(config, runtime)
    head, tail = js_minify.mangle_around(static_source(kinds, extras), CONFIG_HOLE)  # cached per set of kinds and extras
    text = (f"/*! tag-gateway {__version__} container: {len(config.tags)} tags, consent first */\n"
            + head + script_safe_json(runtime) + tail + ";")
    body = text.encode("utf-8")
    digest = hashlib.sha256(body).hexdigest()[:32]
    # Both compressions are paid once per build; serving picks one by Accept-Encoding (gateway/serving/).
    return Container(body=body, gzipped=js_minify.gzip_best(body), etag=f'"{digest}"',
                     brotli=brotli.compress(body, quality=11, mode=brotli.MODE_TEXT))
