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


def test_a_tiktok_page_view_sent_both_ways_is_tracked_as_pageview_so_it_can_carry_the_event_id(tmp_path) -> None:
    """ttq.page() takes no event id: with server_side: also the page view is ttq.track('Pageview', ..., {event_id}),
    the event the Events API gets; alone in the browser, or `only`, it stays TikTok's page call."""
    config = load_config(with_server_side(tmp_path, {"tiktok-pageview": "also"}))
    tags = {tag["id"]: tag for tag in embedded_config(build_container(config).body.decode())["tags"]}
    assert tags["tiktok-pageview"].get("page") is None and tags["tiktok-pageview"]["event"] == "Pageview"
    only = load_config(with_server_side(tmp_path / "only", {"tiktok-pageview": "only"}))
    assert {t.id: t for t in only.tags}["tiktok-pageview"].compiled.get("page") is True
    assert {t.id: t for t in load_config(EXAMPLE).tags}["tiktok-pageview"].compiled == {"pixel_id": "CEXAMPLE0TIKTOK00001", "page": True}



def with_user_data(tmp_path: Path, tag_id: str, user_data: dict, server_side: str | None = "also") -> Path:
    configs = with_server_side(tmp_path, {tag_id: server_side} if server_side else {})
    data = yaml.safe_load((configs / "tags.yaml").read_text("utf-8"))
    for tag in data["tags"]:
        if tag["id"] == tag_id:
            tag["user_data"] = user_data
    (configs / "tags.yaml").write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
    return configs


def test_user_data_is_compiled_for_the_collect_call_only(tmp_path) -> None:
    config = load_config(with_user_data(tmp_path, "meta-purchase", {"email": "{{ dataLayer.user_data.email }}",
                                                                    "phone": "{{ cookie.phone }}"}))
    tags = {tag["id"]: tag for tag in embedded_config(build_container(config).body.decode())["tags"]}
    assert tags["meta-purchase"]["ud"] == {"email": {"$": ["dataLayer", "user_data", "email"]},
                                           "phone": {"$": ["cookie", "phone"]}}
    assert all("ud" not in tag for tag_id, tag in tags.items() if tag_id != "meta-purchase")
    # A placeholder root with a file of its own (cookie) is shipped because user_data uses it.
    assert "values/cookie.js" in runtime_files(runtime_config(config, "")["tags"])


def test_user_data_without_server_side_or_with_a_bad_placeholder_is_refused_with_its_line(tmp_path) -> None:
    import pytest

    from gateway.errors import ConfigError

    with pytest.raises(ConfigError) as refused:
        load_config(with_user_data(tmp_path / "a", "meta-purchase", {"email": "{{ dataLayer.email }}"}, server_side=None))
    assert "tags.yaml:" in str(refused.value) and "user_data goes only to the gateway" in str(refused.value)
    with pytest.raises(ConfigError) as refused:
        load_config(with_user_data(tmp_path / "b", "meta-purchase", {"email": "{{ visitor.email }}"}))
    assert "user_data.email" in str(refused.value) and "must start with one of" in str(refused.value)
    with pytest.raises(ConfigError) as refused:
        load_config(with_user_data(tmp_path / "c", "meta-purchase", {"name": "Ada"}))
    assert "user_data" in str(refused.value)
