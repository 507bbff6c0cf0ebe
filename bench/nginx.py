"""nginx serving the very bytes and headers the gateway answers, as the baseline for GET /container.js.

A generated nginx.conf in a temp dir, loopback only, access log off, worker_processes equal to the
gateway's workers. The 304 is answered when If-None-Match is exactly the ETag: the same work the
gateway does for a revalidation, with nginx's own ETag and If-Modified-Since logic off.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.errors import BenchError
from bench.net import free_port, wait_for_port

# Headers nginx writes itself (or that describe one connection); everything else is copied.
_OWN = {"date", "server", "content-length", "connection", "transfer-encoding", "keep-alive", "content-type"}


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def config_text(root: Path, port: int, workers: int, content_type: str, headers: dict[str, str]) -> str:
    copied = [(k, v) for k, v in headers.items() if k.lower() not in _OWN]
    etag = next((v for k, v in copied if k.lower() == "etag"), None)
    if etag is None:
        raise BenchError("the gateway's GET /container.js answer has no ETag to revalidate against")
    add = "\n".join(f"      add_header {k} {_quoted(v)};" for k, v in copied)
    temp = root / "tmp"
    return f"""worker_processes {workers};
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  server_tokens off;
  client_body_temp_path {temp}; proxy_temp_path {temp}; fastcgi_temp_path {temp};
  uwsgi_temp_path {temp}; scgi_temp_path {temp};
  server {{
    listen 127.0.0.1:{port};
    root {root}/www;
    location = /container.js {{
      types {{ }}
      default_type {_quoted(content_type)};
      etag off;
      if_modified_since off;
{add}
      if ($http_if_none_match = {_quoted(etag)}) {{ return 304; }}
    }}
  }}
}}
"""


class Nginx:
    def __init__(self, nginx: str, body: bytes, content_type: str, headers: dict[str, str], workers: int):
        self._nginx = nginx
        self._root = Path(tempfile.mkdtemp(prefix="tag-gateway-nginx-"))
        # nginx's workers drop root for `nobody`: the files must be world-readable.
        os.chmod(self._root, 0o755)
        (self._root / "www").mkdir(mode=0o755)
        (self._root / "tmp").mkdir(mode=0o755)
        page = self._root / "www" / "container.js"
        page.write_bytes(body)
        os.chmod(page, 0o644)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.conf = self._root / "nginx.conf"
        self.conf.write_text(config_text(self._root, self.port, workers, content_type, headers))
        self._proc: subprocess.Popen | None = None

    def start(self) -> "Nginx":
        self._proc = subprocess.Popen([self._nginx, "-c", str(self.conf), "-e", str(self._root / "error.log")],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        if not wait_for_port(self.port, 10, self._proc):
            error = self._proc.stderr.read().decode() if self._proc.poll() is not None else "no answer"
            self.stop()
            raise BenchError(f"nginx did not start: {error.strip()[-400:]}")
        return self

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()  # nginx's master stops its workers on SIGTERM
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, 9)
                self._proc.wait(timeout=5)
        shutil.rmtree(self._root, ignore_errors=True)
