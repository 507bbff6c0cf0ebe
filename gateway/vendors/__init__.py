"""Vendor templates as self-contained units: one folder per vendor, named after its YAML key.

    gateway/vendors/<key>/
      vendor.yaml   the vendor as data: display name, what it is for (`purposes`), the JSON Schema of
                    the tag's `<key>:` mapping, the hosts its library and beacons use (consent firewall),
                    the first-party cookies it writes (removed on withdrawal) and how long each lives,
                    its privacy policy (both shown to visitors in the preferences), GA4 e-commerce event ->
                    vendor event, consent calls, the requests it makes (docs)
      adapter.js    ES5, registers `KINDS.<key> = {fire, revoke}` in the container; `cookies` is added
                    from vendor.yaml when the container is built
      build.py      optional: `compile(spec, trigger, vendor) -> dict`, what one tag puts into the
                    container, when the default (account id, event name from `events`, params) is not enough

Every folder holding a vendor.yaml is a vendor; nothing else has to be registered: the schema
(gateway/schema.py), the tag kinds (gateway/tags/), the firewall and the container read them from here.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from gateway.placeholders import compile_value
from gateway.triggers import occurrence_name

ROOT = Path(__file__).resolve().parent
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,31}$")
HOST_PATTERN = re.compile(r"^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)+(/\S*)?$")  # as $defs/host_rule
COOKIE_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+\*?$")
SHARED_JS_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")  # consent_ui/tags/<name>.js, e.g. google (gtag + Consent Mode)
REQUIRED = {"name", "purposes", "account_key", "parameters", "hosts"}
# What a vendor's tags do with the visitor's data. Both need consent: gateway/lint.py refuses a unit with
# either in the always-on `necessary` category. A purpose that may be strictly necessary (e.g. fraud
# prevention) would be added here, outside TRACKING_PURPOSES, with the unit that needs it.
PURPOSES = ("analytics", "advertising")
TRACKING_PURPOSES = frozenset({"analytics", "advertising"})
OPTIONAL = {"cookies", "cookie_lifetimes", "privacy_policy", "events", "shared_js", "consent", "requests", "automatic", "build_data", "docs"}


class VendorError(ValueError):
    """A vendor unit that is not well-formed: found at import, so a broken unit never reaches a store."""


def compile_vendor_call(spec: dict, id_key: str, event: str) -> dict:
    """Only what the browser needs: keys whose value is empty are left out of the container."""
    compiled = {id_key: spec[id_key], "event": spec.get("event") or event}
    if spec.get("params") is not None:
        compiled["params"] = compile_value(spec["params"], ("params",))
    return compiled


@dataclass(frozen=True)
class Vendor:
    """One unit. `KEY`, `HOSTS` and `compile(spec, trigger)` make it a tag kind like gateway/tags/image.py."""

    KEY: str
    folder: Path
    data: dict[str, Any] = field(repr=False)
    build: ModuleType | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.data["name"]

    @property
    def purposes(self) -> tuple[str, ...]:
        return tuple(self.data["purposes"])

    @property
    def account_key(self) -> str:
        return self.data["account_key"]

    @property
    def parameters(self) -> dict[str, Any]:
        """JSON Schema of the tag's `<key>:` mapping (becomes `$defs/<key>`)."""
        return self.data["parameters"]

    @property
    def HOSTS(self) -> tuple[str, ...]:  # noqa: N802 - the tag-kind interface (gateway/firewall.py)
        return tuple(self.data["hosts"])

    @property
    def cookies(self) -> tuple[str, ...]:
        return tuple(self.data.get("cookies") or ())

    @property
    def cookie_lifetimes(self) -> dict[str, int | str]:
        """Cookie name (pattern) -> days it lives, "<n>m"/"<n>h" below a day, or "session": disclosed in the
        preferences."""
        return dict(self.data.get("cookie_lifetimes") or {})

    @property
    def privacy_policy(self) -> str | None:
        return self.data.get("privacy_policy")

    @property
    def events(self) -> dict[str, str]:
        """GA4 event name (the canonical event model) -> this vendor's event name."""
        return dict(self.data.get("events") or {})

    @property
    def shared_js(self) -> tuple[str, ...]:
        return tuple(self.data.get("shared_js") or ())

    @property
    def build_data(self) -> dict[str, Any]:
        return dict(self.data.get("build_data") or {})

    def event_for(self, trigger: dict) -> str:
        """The vendor event a trigger's occurrences map to (the GA4 name itself when unmapped)."""
        name = occurrence_name(trigger)
        return self.events.get(name, name)

    def compile(self, spec: dict, trigger: dict) -> dict:
        if self.build is not None:
            return self.build.compile(spec, trigger, self)
        return compile_vendor_call(spec, self.account_key, self.event_for(trigger))

    @cached_property
    def js(self) -> str:
        """What the container holds for this vendor: adapter.js, then its cookies from vendor.yaml."""
        source = (self.folder / "adapter.js").read_text("utf-8")
        if self.cookies:
            source += f"\nKINDS.{self.KEY}.cookies = {json.dumps(list(self.cookies))};\n"
        return source


def _load_build(folder: Path, key: str) -> ModuleType | None:
    path = folder / "build.py"
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location(f"gateway.vendors._{key}_build", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not callable(getattr(module, "compile", None)):
        raise VendorError(f"{path}: defines no compile(spec, trigger, vendor)")
    return module


def _check(folder: Path, data: Any) -> dict[str, Any]:
    where = folder / "vendor.yaml"
    if not isinstance(data, dict):
        raise VendorError(f"{where}: expected a mapping")
    missing, unknown = REQUIRED - set(data), set(data) - REQUIRED - OPTIONAL
    if missing or unknown:
        raise VendorError(f"{where}: missing {sorted(missing)}, unknown {sorted(unknown)}")
    if not KEY_PATTERN.match(folder.name):
        raise VendorError(f"{folder}: a vendor's folder is its YAML key: lower-case letters, digits and _")
    purposes = data["purposes"]
    if not isinstance(purposes, list) or not purposes or not all(p in PURPOSES for p in purposes):
        raise VendorError(f"{where}: purposes must list what the vendor is for, from {', '.join(PURPOSES)}")
    parameters = data["parameters"]
    if not isinstance(parameters, dict) or data["account_key"] not in parameters.get("required", ()):
        raise VendorError(f"{where}: parameters must be a JSON Schema requiring {data['account_key']!r}")
    if not all(isinstance(h, str) and HOST_PATTERN.match(h) for h in data["hosts"]):
        raise VendorError(f"{where}: hosts must be host rules like connect.facebook.net or *.facebook.com/tr")
    if not all(isinstance(c, str) and COOKIE_PATTERN.match(c) for c in data.get("cookies") or ()):
        raise VendorError(f"{where}: cookies must be cookie names, a trailing * matching a prefix")
    # Every cookie is disclosed with its lifetime (the preferences list them): one entry per pattern.
    lifetimes = data.get("cookie_lifetimes") or {}
    if not isinstance(lifetimes, dict) or set(lifetimes) != set(data.get("cookies") or ()) or not all(
            valid_lifetime(v) for v in lifetimes.values()):
        raise VendorError(f"{where}: cookie_lifetimes must give each of `cookies` its lifetime in days (1..3650), "
                          "in minutes or hours as a string ('1m', '24h') or session")
    if "privacy_policy" in data and not (isinstance(data["privacy_policy"], str) and re.match(r"^https://[^\s<>\"']+$", data["privacy_policy"])):
        raise VendorError(f"{where}: privacy_policy must be the https URL of the vendor's privacy policy")
    events = data.get("events") or {}
    if not isinstance(events, dict) or not all(isinstance(v, str) and v for v in events.values()):
        raise VendorError(f"{where}: events must map GA4 event names to vendor event names")
    if not all(isinstance(s, str) and SHARED_JS_PATTERN.match(s) for s in data.get("shared_js") or ()):
        raise VendorError(f"{where}: shared_js names files of consent_ui/tags/ without .js")
    if not (folder / "adapter.js").is_file():
        raise VendorError(f"{folder}: no adapter.js registering KINDS.{folder.name}")
    return data


# A lifetime shorter than a day, as the vendor documents it: "<n>m" (minutes) or "<n>h" (hours), such as
# GA's _gat, 1 minute. The preferences say it in that unit (consent_ui/banner.html.j2), never as "1 day".
SHORT_LIFETIME = re.compile(r"^[1-9][0-9]{0,3}[mh]$")


def valid_lifetime(value: Any) -> bool:
    """A cookie's disclosed lifetime: whole days 1..3650, a string "<n>m" / "<n>h", or "session"."""
    if isinstance(value, str):
        return value == "session" or bool(SHORT_LIFETIME.match(value))
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 3650


def discover(root: Path = ROOT) -> dict[str, Vendor]:
    """Every unit under `root`, by key, in the order of their folder names."""
    found: dict[str, Vendor] = {}
    for folder in sorted(p for p in root.iterdir() if (p / "vendor.yaml").is_file()):
        data = _check(folder, yaml.safe_load((folder / "vendor.yaml").read_text("utf-8")))
        found[folder.name] = Vendor(folder.name, folder, data, _load_build(folder, folder.name))
    return found


VENDORS: dict[str, Vendor] = discover()


def schema_fragments() -> tuple[dict[str, Any], dict[str, Any]]:
    """(`$defs` entries, `$defs/tag` properties) the units add to gateway/schemas/tag_config.schema.json."""
    defs = {key: copy.deepcopy(vendor.parameters) for key, vendor in VENDORS.items()}
    properties = {key: {"$ref": f"#/$defs/{key}"} for key in VENDORS}
    return defs, properties
