"""Registry of what a tag can fire: generic kinds (image, script) and vendor templates.

Adding a vendor means four things, all named after its YAML key:
  1. `$defs/<key>` in schemas/tag_config.schema.json (and a property of `$defs/tag`);
  2. a module here with KEY and `compile(spec) -> dict` (server-side, runs once per build);
  3. consent_ui/tags/<key>.js registering `KINDS.<key> = {fire, revoke}` (browser-side);
  4. the hosts its library and beacons use, as `HOSTS` (or `hosts(compiled)` when they depend
     on the tag), so the consent firewall can stop them (see gateway/firewall.py).
Only the JS of kinds a configuration uses is put into its container.
"""

from __future__ import annotations

from types import ModuleType

from gateway.tags import ga4, google_ads, image, meta_pixel, script, tiktok_pixel

_MODULES: tuple[ModuleType, ...] = (image, script, meta_pixel, ga4, google_ads, tiktok_pixel)
KINDS: dict[str, ModuleType] = {module.KEY: module for module in _MODULES}
