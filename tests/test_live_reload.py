"""A config edit goes live without a restart; a broken edit never takes the live container down."""

from __future__ import annotations

import os


def bump_mtime(path) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_valid_edit_is_picked_up(live, client, config_dir) -> None:
    before = client.get("/container.js").headers["etag"]
    tags = config_dir / "tags.yaml"
    tags.write_text(tags.read_text().replace("G-EXAMPLE123", "G-CHANGED999"))
    bump_mtime(tags)
    assert live.reload_if_changed() is True
    response = client.get("/container.js")
    assert response.headers["etag"] != before and "G-CHANGED999" in response.text


def test_broken_edit_keeps_serving_the_last_good_config(live, client, config_dir, caplog) -> None:
    good = client.get("/container.js")
    tags = config_dir / "tags.yaml"
    tags.write_text(tags.read_text().replace("category: marketing", "category: marketting", 1))
    bump_mtime(tags)
    assert live.reload_if_changed() is False
    again = client.get("/container.js")
    assert again.status_code == 200 and again.content == good.content
    health = client.get("/healthz").json()
    assert health["status"] == "degraded" and health["config_problems"] == 1
    # The problem itself goes to the log (the public health answer has counts only).
    assert "tags.yaml:22: tags[2].category: category 'marketting' is not declared" in caplog.text
    # Fixing the file clears the error.
    tags.write_text(tags.read_text().replace("marketting", "marketing"))
    bump_mtime(tags)
    assert live.reload_if_changed() is True
    assert client.get("/healthz").json()["status"] == "ok"


def test_unchanged_files_are_not_rebuilt(live) -> None:
    snapshot = live.current
    assert live.reload_if_changed() is False and live.current is snapshot


def test_unknown_paths_get_json_404(client) -> None:
    response = client.get("/nope")
    assert response.status_code == 404 and response.json()["error"]["code"] == "http_error"
    wrong_method = client.delete("/consent")
    assert wrong_method.status_code == 405 and "error" in wrong_method.json()
    assert "POST" in wrong_method.headers["allow"]
