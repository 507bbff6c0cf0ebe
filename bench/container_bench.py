"""Print the container's size and how fast it is built and served. Figures, not pass/fail.

    .venv/bin/python bench/container_bench.py [CONFIG_DIR]
"""

from __future__ import annotations

import gzip
import statistics
import sys
import tempfile
import time
from pathlib import Path

import rjsmin
from starlette.testclient import TestClient

from gateway import js_minify
from gateway.app import create_app
from gateway.config import load_config
from gateway.container import (CONFIG_HOLE, build_container, build_ui_script, render_fab, render_dialogs, render_notice, runtime_config,
                               script_safe_json, static_source)
from gateway.live_config import LiveConfig
from gateway.store import ConsentLog

BUDGET = 8 * 1024  # bytes gzipped (README ## Size; tests/test_docs.py)

ROOT = Path(__file__).resolve().parent.parent


def timed(fn, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def gz9(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def brotli_size(data: bytes) -> str:
    try:
        import brotli  # optional: not a dependency, the gateway serves gzip only
    except ImportError:
        return ""
    return f", {len(brotli.compress(data, quality=11)):,} B brotli -11 (not served)"


def main() -> None:
    config_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tag_configs"
    config = load_config(config_dir)
    built = build_container(config)
    kinds = tuple(sorted({tag.kind for tag in config.tags if tag.enabled}))
    config_json = script_safe_json(runtime_config(config, render_fab(config)))
    plain = rjsmin.jsmin(static_source(kinds).replace(CONFIG_HOLE, config_json)).encode()
    print(f"config:            {config_dir} ({len(config.tags)} tags, kinds {', '.join(kinds)})")
    print(f"rjsmin only:       {len(plain):,} B raw, {gz9(plain):,} B gzip -9 (before mangling, for comparison)")
    print(f"container:         {len(built.body):,} B raw, {gz9(built.body):,} B gzip -9, "
          f"{len(built.gzipped):,} B zopfli (served){brotli_size(built.body)}")
    print(f"budget:            {len(built.gzipped):,} / {BUDGET:,} B gzipped = {len(built.gzipped) / BUDGET:.1%} "
          f"({BUDGET - len(built.gzipped):+,} B left)")
    dialogs = render_dialogs(config).encode()
    notice = render_notice(config, False).encode()
    print(f"dialogs:           {len(dialogs):,} B raw, {gz9(dialogs):,} B gzip -9 (with GET /consent only while a choice "
          f"is needed, else GET /ui on opening the preferences)")
    print(f"opt-out notice:    {len(notice):,} B raw, {gz9(notice):,} B gzip -9 (with GET /consent, opt-out regions only)")
    banner = build_ui_script()
    print(f"banner code:       {len(banner.body):,} B raw, {len(banner.gzipped):,} B zopfli (GET /ui.js?v=..., the same for "
          f"every config; browsers keep it for good)")

    def mangle_uncached() -> None:
        js_minify.mangle_around.cache_clear()
        js_minify.mangle_around(static_source(kinds), CONFIG_HOLE)

    mangle = timed(mangle_uncached, 5)
    zopfli = timed(lambda: js_minify.gzip_best(built.body), 10)
    level9 = timed(lambda: gzip.compress(built.body, compresslevel=9, mtime=0), 10)
    load = timed(lambda: load_config(config_dir), 20)
    build = timed(lambda: build_container(config), 20)
    print(f"mangle static JS:  {statistics.median(mangle) * 1000:.0f} ms median of 5 (once per set of kinds, then cached)")
    print(f"zopfli gzip:       {statistics.median(zopfli) * 1000:.0f} ms median of 10 "
          f"({js_minify.ZOPFLI_ITERATIONS} iterations; gzip -9 takes {statistics.median(level9) * 1000:.1f} ms)")
    print(f"load + validate:   {statistics.median(load) * 1000:.1f} ms median of 20")
    print(f"build container:   {statistics.median(build) * 1000:.1f} ms median of 20 (same kinds: mangling cached)")
    with tempfile.TemporaryDirectory() as scratch, ConsentLog.open(f"sqlite:///{scratch}/bench.sqlite3") as consent_log, \
            TestClient(create_app(LiveConfig.load(config_dir), "b" * 40, consent_log, watch=False)) as client:
        headers = {"Accept-Encoding": "gzip"}
        serve = timed(lambda: client.get("/container.js", headers=headers), 500)
        etag = client.get("/container.js", headers=headers).headers["etag"]
        revalidate = timed(lambda: client.get("/container.js", headers={**headers, "If-None-Match": etag}), 500)
    print(f"GET /container.js: {statistics.median(serve) * 1e6:.0f} µs median of 500 (in-process, no network)")
    print(f"304 revalidation:  {statistics.median(revalidate) * 1e6:.0f} µs median of 500")


if __name__ == "__main__":
    main()
