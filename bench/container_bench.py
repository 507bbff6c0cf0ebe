"""Print the container's size and how fast it is built and served. Figures, not pass/fail.

    .venv/bin/python bench/container_bench.py [CONFIG_DIR]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import load_config
from gateway.container import build_container
from gateway.live_config import LiveConfig

ROOT = Path(__file__).resolve().parent.parent


def timed(fn, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def main() -> None:
    config_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tag_configs"
    config = load_config(config_dir)
    built = build_container(config)
    print(f"config:            {config_dir} ({len(config.tags)} tags)")
    print(f"container size:    {len(built.body) / 1024:.1f} KB raw, {len(built.gzipped) / 1024:.2f} KB gzipped")
    load = timed(lambda: load_config(config_dir), 20)
    build = timed(lambda: build_container(config), 20)
    print(f"load + validate:   {statistics.median(load) * 1000:.1f} ms median of 20")
    print(f"build container:   {statistics.median(build) * 1000:.1f} ms median of 20")
    with TestClient(create_app(LiveConfig.load(config_dir), "b" * 40, watch=False)) as client:
        headers = {"Accept-Encoding": "gzip"}
        serve = timed(lambda: client.get("/container.js", headers=headers), 500)
        etag = client.get("/container.js", headers=headers).headers["etag"]
        revalidate = timed(lambda: client.get("/container.js", headers={**headers, "If-None-Match": etag}), 500)
    print(f"GET /container.js: {statistics.median(serve) * 1e6:.0f} µs median of 500 (in-process, no network)")
    print(f"304 revalidation:  {statistics.median(revalidate) * 1e6:.0f} µs median of 500")


if __name__ == "__main__":
    main()
