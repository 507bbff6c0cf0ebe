"""The vendors' API credentials: from the environment or a secrets file, never from the YAML config.

Why not YAML: tag_configs/ is committed to the store's repository and compiled into the public
container; a conversion-API token there would leak to every visitor and every clone.

Lookup order for a tag of vendor V (upper-cased: META_PIXEL, TIKTOK_PIXEL, GA4) and account A (the pixel
id or measurement id, upper-cased, anything but letters and digits as `_`):
  1. TAG_GATEWAY_FORWARD_<V>_<A>   one account's token
  2. TAG_GATEWAY_FORWARD_<V>       the vendor's token for every account
  3. the YAML file named by TAG_GATEWAY_SECRETS_FILE:  {V: token} or {V: {A: token, default: token}}
     (lower-case vendor keys, as in the config). A file other users can read is used, with a warning.
For GA4 the credential is the Measurement Protocol API secret of the stream.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml

PREFIX = "TAG_GATEWAY_FORWARD_"
FILE_ENV = "TAG_GATEWAY_SECRETS_FILE"
NAMES = {"meta_pixel": "Conversions API access token", "tiktok_pixel": "Events API access token",
         "ga4": "Measurement Protocol API secret"}

log = logging.getLogger("tag_gateway")
_file_cache: dict[str, tuple[float, dict[str, Any]]] = {}
_warned: set[str] = set()


def _env_part(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "_", text.upper())


def env_names(vendor: str, account: str) -> tuple[str, str]:
    return f"{PREFIX}{_env_part(vendor)}_{_env_part(account)}", f"{PREFIX}{_env_part(vendor)}"


def account_of(tag: Any) -> str:
    """The account a tag sends to: its vendor's account_key parameter (pixel_id, measurement_id)."""
    from gateway.vendors import VENDORS

    vendor = VENDORS.get(tag.kind)
    return str(tag.compiled.get(vendor.account_key, "")) if vendor is not None else ""


def lookup(vendor: str, account: str) -> str | None:
    """The credential, or None when there is none (the tag's events are then not forwarded)."""
    for name in env_names(vendor, account):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    entry = _secrets_file().get(vendor)
    if isinstance(entry, str) and entry.strip():
        return entry.strip()
    if isinstance(entry, dict):
        value = entry.get(account) or entry.get("default")
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def missing_text(vendor: str, account: str) -> str:
    """What to set, naming variables only: never a value."""
    one, every = env_names(vendor, account)
    return (f"no {NAMES.get(vendor, 'API credential')} for {vendor} {account}: set {one} or {every} "
            f"(or {vendor} in the file named by {FILE_ENV})")


def _secrets_file() -> dict[str, Any]:
    """The secrets file's mapping ({} without one, or when it cannot be read: logged once, never its content)."""
    name = os.environ.get(FILE_ENV, "").strip()
    if not name:
        return {}
    path = Path(name)
    try:
        status = path.stat()
    except OSError as exc:
        _warn_once(name, f"{FILE_ENV}: {name} cannot be read ({exc.strerror}); no credentials from it")
        return {}
    cached = _file_cache.get(name)
    if cached is not None and cached[0] == status.st_mtime:
        return cached[1]
    if not stat.S_ISREG(status.st_mode):
        _warn_once(name, f"{FILE_ENV}: {name} is not a file; no credentials from it")
        return {}
    if status.st_mode & 0o077:
        _warn_once(name + "-mode", f"{FILE_ENV}: {name} can be read by other users (mode "
                                   f"{stat.S_IMODE(status.st_mode):04o}); restrict it with: chmod 600 {name}")
    try:
        data = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        # The YAML error could quote a line of the file, a token: only its kind is logged.
        _warn_once(name, f"{FILE_ENV}: {name} is not a readable YAML mapping ({type(exc).__name__})")
        return {}
    mapping = data if isinstance(data, dict) else {}
    _file_cache[name] = (status.st_mtime, mapping)
    return mapping


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        log.warning(message)
