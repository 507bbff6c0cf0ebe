"""Container bytes for one config: raw, gzip (the body the gateway serves) and brotli (quality 11)."""

from __future__ import annotations

from pathlib import Path

import brotli

from gateway.config import load_config
from gateway.container import build_container


def container_sizes(config_dir: Path) -> dict:
    config = load_config(config_dir)
    built = build_container(config)
    # The build's own brotli body when it makes one (what a brotli client gets), else the same quality here.
    compressed = getattr(built, "brotli", b"") or brotli.compress(built.body, quality=11, mode=brotli.MODE_TEXT)
    return {"tags": len(config.tags), "kinds": sorted({t.kind for t in config.tags if t.enabled}),
            "raw": len(built.body), "gzip": len(built.gzipped), "brotli": len(compressed)}
