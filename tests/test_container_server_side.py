"""The container of a config with `server_side` tags (issue 11): the tags carry it (`ss`), and the code that
sends to POST /collect (consent_ui/rules/server_side.js) is in that container only."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from gateway.config import load_config
from gateway.container import build_container, runtime_config
from gateway.triggers import runtime_files

from test_container import embedded_config

EXAMPLE = Path(__file__).resolve().parent.parent / "tag_configs"


def with_server_side(tmp_path: Path, modes: dict[str, str]) -> Path:
    configs = tmp_path / "configs"
    shutil.copytree(EXAMPLE, configs)
    data = yaml.safe_load((configs / "tags.yaml").read_text("utf-8"))
    for tag in data["tags"]:
        if tag["id"] in modes:
            tag["server_side"] = modes[tag["id"]]
    (configs / "tags.yaml").write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
    return configs


def test_the_example_container_has_no_server_side_code() -> None:
    config = load_config(EXAMPLE)
    built = build_container(config)
    text = built.body.decode()
    assert "/collect" not in text and "X-Tag-Gateway-Consent" in text  # the header /consent uses is there
    assert all("ss" not in tag for tag in embedded_config(text)["tags"])
    assert "rules/server_side.js" not in runtime_files(runtime_config(config, "")["tags"])


def test_server_side_tags_carry_their_mode_and_bring_the_collect_code(tmp_path) -> None:
    config = load_config(with_server_side(tmp_path, {"meta-purchase": "also", "ga4-purchase": "only"}))
    text = build_container(config).body.decode()
    modes = {tag["id"]: tag.get("ss") for tag in embedded_config(text)["tags"]}
    assert modes["meta-purchase"] == "also" and modes["ga4-purchase"] == "only"
    assert modes["meta-pageview"] is None and modes["ga4"] is None
    assert "'/collect'" in text
    assert "keepalive:" in text and "X-Tag-Gateway-Consent" in text

