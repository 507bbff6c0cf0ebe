"""Tokens are bound to their site, and lowering policy_version revives nothing (issue 8)."""

from __future__ import annotations

import json
import os
import shutil
from base64 import urlsafe_b64encode
from pathlib import Path

import pytest
from itsdangerous import TimestampSigner
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import load_config
from gateway.consent import ConsentSigner
from gateway.live_config import LiveConfig

from conftest import ROOT, SECRET, STORE_ORIGIN

ALL = ["necessary", "analytics", "marketing"]


@pytest.fixture(autouse=True)
def own_state_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TAG_GATEWAY_STATE_FILE", str(tmp_path / "state.json"))


def gateway(config_dir: Path, consent_log) -> tuple[LiveConfig, TestClient]:
    live = LiveConfig.load(config_dir)
    return live, TestClient(create_app(live, SECRET, consent_log, watch=False), base_url="http://gateway.test")


def copy_config(tmp_path: Path, name: str, replace: tuple[str, str] | None = None) -> Path:
    folder = tmp_path / name
    shutil.copytree(ROOT / "tag_configs", folder)
    if replace:
        site = folder / "site.yaml"
        assert replace[0] in site.read_text()
        site.write_text(site.read_text().replace(*replace))
    return folder


def accept(client: TestClient) -> str:
    answer = client.post("/consent", json={"categories": ALL, "action": "accept_all"}, headers={"Origin": STORE_ORIGIN})
    assert answer.status_code == 200
    return answer.json()["token"]


def read(client: TestClient, token: str) -> dict:
    return client.get("/consent", headers={"X-Tag-Gateway-Consent": token, "Origin": STORE_ORIGIN}).json()


def test_another_site_sharing_the_secret_does_not_accept_the_token(tmp_path, consent_log) -> None:
    _, shop = gateway(copy_config(tmp_path, "shop"), consent_log)
    _, other = gateway(copy_config(tmp_path, "other", ("  name: Example Store\n", "  name: Example Store\n  id: other-shop\n")),
                       consent_log)
    token = accept(shop)
    assert read(shop, token)["reason"] == "valid"
    answer = read(other, token)
    assert answer["consent"] is None and answer["reason"] == "other_site"


def test_the_site_is_stable_across_restarts_and_unrelated_edits(tmp_path, consent_log) -> None:
    folder = copy_config(tmp_path, "shop")
    _, first = gateway(folder, consent_log)
    token = accept(first)
    (folder / "site.yaml").write_text((folder / "site.yaml").read_text().replace("Example Store", "Renamed Store"))
    _, restarted = gateway(folder, consent_log)
    assert read(restarted, token)["reason"] == "valid"


def test_tokens_from_before_the_binding_still_verify(tmp_path, consent_log) -> None:
    """A version-2 payload (no site) keeps its meaning: upgrading asks nobody again."""
    _, shop = gateway(copy_config(tmp_path, "shop"), consent_log)
    payload = {"c": ALL, "v": 1, "id": "0" * 32, "o": ALL, "r": "opt_in", "g": 0, "a": "accept_all"}
    raw = urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).rstrip(b"=")
    old = TimestampSigner(SECRET, salt="tag-gateway.consent.v1").sign(raw).decode()
    assert read(shop, old)["reason"] == "valid"


def test_lowering_policy_version_does_not_revive_old_tokens(tmp_path, consent_log) -> None:
    folder = copy_config(tmp_path, "shop", ("  policy_version: 1\n", "  policy_version: 2\n"))
    live, client = gateway(folder, consent_log)
    under_2 = accept(client)
    site = folder / "site.yaml"
    site.write_text(site.read_text().replace("  policy_version: 2\n", "  policy_version: 3\n"))
    os.utime(site, ns=(site.stat().st_atime_ns, site.stat().st_mtime_ns + 10**9))
    assert live.reload_if_changed() is True
    assert read(client, under_2)["reason"] == "outdated_policy"
    # The owner goes back to 2: the old choice stays outdated, live and after a restart.
    site.write_text(site.read_text().replace("  policy_version: 3\n", "  policy_version: 2\n"))
    os.utime(site, ns=(site.stat().st_atime_ns, site.stat().st_mtime_ns + 2 * 10**9))
    assert live.reload_if_changed() is True
    assert read(client, under_2)["reason"] == "outdated_policy"
    _, restarted = gateway(folder, consent_log)
    assert read(restarted, under_2)["reason"] == "outdated_policy"


def test_a_restart_on_the_same_version_keeps_every_choice(tmp_path, consent_log) -> None:
    folder = copy_config(tmp_path, "shop")
    _, client = gateway(folder, consent_log)
    token = accept(client)
    _, restarted = gateway(folder, consent_log)
    assert read(restarted, token)["reason"] == "valid"


def test_a_token_made_for_the_site_by_the_testing_kit_is_bound_to_it(tmp_path) -> None:
    config = load_config(copy_config(tmp_path, "shop"))
    signer = ConsentSigner(SECRET)
    bound, _ = signer.issue(("necessary",), 1, offered=config.category_keys, site=config.site)
    other = load_config(copy_config(tmp_path, "other", ("  name: Example Store\n", "  name: Example Store\n  id: b\n")))
    kwargs = dict(policy_version=1, known_categories=config.category_keys, max_age=3600)
    assert signer.read(bound, site=config.site, **kwargs).reason == "valid"
    assert signer.read(bound, site=other.site, **kwargs).reason == "other_site"


def test_consent_ids_grow_with_time_and_stay_unguessable(config_dir, consent_log) -> None:
    from gateway.consent import new_consent_id

    # 32 hex digits as before; the first 12 are the time in milliseconds, so the log's index on them is
    # appended to rather than written all over (gateway/consent.py).
    at = 1_796_000_000.25
    ids = [new_consent_id(at), new_consent_id(at), new_consent_id(at + 0.01), new_consent_id(at + 86400)]
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert {i[:12] for i in ids[:2]} == {f"{int(at * 1000):012x}"} and ids[0] != ids[1]  # 80 random bits apart
    assert ids[1] < ids[2] < ids[3] and ids[0] < ids[2]
    assert len({new_consent_id(at)[12:] for _ in range(2000)}) == 2000
    # Through POST /consent: each decision's id in the log, in the order they were recorded.
    _, client = gateway(config_dir, consent_log)
    with client:
        tokens = [accept(client) for _ in range(8)]
    records = list(consent_log.records())
    assert [r.consent_id for r in records] == sorted(r.consent_id for r in records)
    assert len({r.consent_id for r in records}) == len(tokens) == 8
    assert {abs(int(r.consent_id[:12], 16) / 1000 - r.decided_at.timestamp()) < 2 for r in records} == {True}
