"""Registry of what a tag can fire: the generic kinds here (image, script) and the vendor templates.

A generic kind is a module here with KEY, `compile(spec, trigger) -> dict` and `hosts(compiled)`,
its JS in consent_ui/tags/<key>.js and its schema in schemas/tag_config.schema.json: they are part of
the gateway. A vendor template is a self-contained unit, one folder gateway/vendors/<key>/ (see
gateway/vendors/__init__.py): adding a vendor is adding that folder and nothing else.
Only the JS of kinds a configuration uses is put into its container (kind_js).
"""

from __future__ import annotations

from importlib import resources
from types import ModuleType
from typing import Union

from gateway.tags import image, script
from gateway.vendors import VENDORS, Vendor

GENERIC: dict[str, ModuleType] = {module.KEY: module for module in (image, script)}
KINDS: dict[str, Union[ModuleType, Vendor]] = {**GENERIC, **VENDORS}


def kind_js(kind: str) -> str:
    """The browser side of one tag kind: registers KINDS.<kind> in the container."""
    if kind in GENERIC:
        return resources.files("consent_ui").joinpath(f"tags/{kind}.js").read_text("utf-8")
    return VENDORS[kind].js


def shared_js(kinds: tuple[str, ...]) -> list[str]:
    """Names of the consent_ui/tags/ files these kinds' adapters share (google.js for ga4 and google_ads)."""
    return sorted({name for kind in kinds if kind in VENDORS for name in VENDORS[kind].shared_js})
