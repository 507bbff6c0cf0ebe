"""Several stores from one gateway (issue 9): a config root of site folders, each site at /c/<name>.

In-process tests (Starlette's TestClient, the same precomputed answers) for the endpoints, a real
`gateway serve` subprocess for the uvicorn fast path and the live reload of its workers.
"""

from __future__ import annotations

import gzip
import json
import shutil
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.cli import main
from gateway.consent import COOKIE_NAME
from gateway.errors import ConfigError
from gateway.sites import LiveSites, detect_layout

from served_gateway import ServedGateway
from test_live_reload import bump_mtime

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = Path(__file__).resolve().parent / "samples" / "multi_site"
SECRET = "test-secret-" + "m" * 40
ADMIN = "admin-" + "a1b2c3" * 6
SHOES_ORIGIN = "http://127.0.0.1:5173"   # allowed by shoes only
HATS_ORIGIN = "http://localhost:3000"    # allowed by hats only
CHOICE = json.dumps({"categories": ["analytics"], "action": "custom"})


@pytest.fixture
def stores(tmp_path: Path) -> Path:
    """A private copy of the sample root that a test may edit."""
    target = tmp_path / "stores"
    shutil.copytree(SAMPLE, target)
    return target


@pytest.fixture
def sites(stores: Path, monkeypatch) -> LiveSites:
    monkeypatch.setenv("TAG_GATEWAY_STATE_FILE", str(stores.parent / "state.json"))
    return LiveSites.load(stores)


@pytest.fixture
def client(sites: LiveSites, consent_log, monkeypatch) -> TestClient:
    monkeypatch.setenv("TAG_GATEWAY_ADMIN_TOKEN", ADMIN)
    with TestClient(create_app(sites, SECRET, consent_log, watch=False), base_url="http://gateway.test") as test_client:
        yield test_client


def post(client: TestClient, site: str, origin: str):
    return client.post(f"/c/{site}/consent", content=CHOICE,
                       headers={"Origin": origin, "Content-Type": "application/json"})


# -- layout --------------------------------------------------------------------------------------

def test_layouts_are_told_apart(tmp_path: Path) -> None:
    assert detect_layout(ROOT / "tag_configs").single
    assert list(detect_layout(SAMPLE).sites) == ["hats", "shoes"]
    mixed = tmp_path / "mixed"
    shutil.copytree(ROOT / "tag_configs", mixed)
    shutil.copytree(SAMPLE / "hats", mixed / "hats")
    # A folder with YAML of its own stays one site whatever sub-folders it has (as before several sites existed).
    assert detect_layout(mixed).single
    (tmp_path / "empty").mkdir()
    assert detect_layout(tmp_path / "empty").single  # load_config then says "no *.yaml files here", as before


def test_a_site_folder_name_must_fit_a_url(tmp_path: Path) -> None:
    root = tmp_path / "stores"
    shutil.copytree(SAMPLE, root)
    (root / "shoes").rename(root / "Shoes.Shop")
    (root / "notes").mkdir()  # a folder without YAML is no site, and no problem
    with pytest.raises(ConfigError) as raised:
        detect_layout(root)
    [problem] = raised.value.problems
    assert "site folder name 'Shoes.Shop' is not lower-case letters, digits, - and _" in str(problem)


# -- gateway validate ----------------------------------------------------------------------------

def test_validate_reports_every_site(capsys, monkeypatch) -> None:
    monkeypatch.chdir(SAMPLE.parent)
    assert main(["validate", "multi_site"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == ["multi_site/hats: OK (1 files, 1 tags, categories: necessary, analytics, marketing)",
                   "multi_site/shoes: OK (2 files, 1 tags, categories: necessary, analytics)",
                   "multi_site: 2 sites OK"]


def test_validate_names_the_broken_site_with_file_and_line(stores: Path, capsys, monkeypatch) -> None:
    site = stores / "hats" / "site.yaml"
    site.write_text(site.read_text().replace("category: analytics", "category: analytix"))
    monkeypatch.chdir(stores.parent)
    assert main(["validate", "stores"]) == 1
    captured = capsys.readouterr()
    assert "stores/shoes: OK (2 files, 1 tags" in captured.out
    err = captured.err.splitlines()
    assert err[0].startswith("stores/hats/site.yaml:20: tags[0].category: category 'analytix' is not declared")
    assert err[-1] == "1 problem found in 1 of 2 sites (hats); nothing was changed."


def test_two_sites_may_not_share_consent_tokens(stores: Path, capsys, monkeypatch) -> None:
    hats = stores / "hats" / "site.yaml"
    hats.write_text(hats.read_text().replace("id: hat-shop", "id: shoe-shop"))
    monkeypatch.chdir(stores.parent)
    assert main(["validate", "stores"]) == 1
    assert "stores/shoes/site.yaml: site.id: this site and site 'hats' would read each other's consent choices" \
        in capsys.readouterr().err
    with pytest.raises(ConfigError, match="would read each other's consent choices"):
        LiveSites.load(stores)


# -- endpoints per site --------------------------------------------------------------------------

def test_each_site_has_its_own_container(client: TestClient) -> None:
    shoes, hats = client.get("/c/shoes.js"), client.get("/c/hats.js")
    assert shoes.status_code == hats.status_code == 200
    assert "pixel.shoes.example" in shoes.text and "pixel.hats.example" not in shoes.text
    assert "pixel.hats.example" in hats.text and "pixel.shoes.example" not in hats.text
    assert shoes.headers["etag"] != hats.headers["etag"]
    again = client.get("/c/hats.js", headers={"If-None-Match": hats.headers["etag"]})
    assert again.status_code == 304
    assert client.head("/c/shoes.js").status_code == 200
    assert "Hat Shop privacy choices" in client.get("/c/hats/ui").text
    assert "Shoe Shop privacy choices" in client.get("/c/shoes/ui").text


@pytest.mark.parametrize("path", ["/container.js", "/consent", "/ui", "/c/nope.js", "/c/nope/consent", "/c/nope/ui",
                                  "/c/%3Cscript%3E/consent"])
def test_an_unknown_site_is_a_json_404(client: TestClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "unknown_site"
    assert "<script>" not in answer.text


@pytest.mark.parametrize("path", ["/consent", "/c/nope/consent", "/c/%3Cscript%3E/consent"])
def test_a_choice_for_an_unknown_site_is_a_json_404(client: TestClient, path: str) -> None:
    for method in ("POST", "OPTIONS"):
        refused = client.request(method, path, content=CHOICE,
                                 headers={"Origin": SHOES_ORIGIN, "Content-Type": "application/json"})
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "unknown_site"


def test_an_origin_allowed_for_one_site_is_refused_by_the_other(client: TestClient) -> None:
    stored = post(client, "shoes", SHOES_ORIGIN)
    assert stored.status_code == 200, stored.text
    assert stored.headers["access-control-allow-origin"] == SHOES_ORIGIN
    refused = post(client, "hats", SHOES_ORIGIN)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "origin_not_allowed"
    assert "site hats" in refused.json()["error"]["message"]
    assert "access-control-allow-credentials" not in refused.headers
    assert post(client, "hats", HATS_ORIGIN).status_code == 200
    preflight = client.options("/c/hats/consent", headers={"Origin": SHOES_ORIGIN, "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 403
    ok = client.options("/c/shoes/consent", headers={"Origin": SHOES_ORIGIN, "Access-Control-Request-Method": "POST"})
    assert ok.status_code == 204 and ok.headers["access-control-allow-origin"] == SHOES_ORIGIN


def test_each_site_has_its_own_cookie_and_its_choices_stay_its_own(client: TestClient) -> None:
    shoes = post(client, "shoes", SHOES_ORIGIN)
    hats = post(client, "hats", HATS_ORIGIN)
    shoes_cookie, hats_cookie = shoes.headers["set-cookie"], hats.headers["set-cookie"]
    assert "Path=/c/shoes;" in shoes_cookie and f"Max-Age={90 * 86400};" in shoes_cookie
    assert "Path=/c/hats;" in hats_cookie and f"Max-Age={30 * 86400};" in hats_cookie
    token = shoes.json()["token"]
    own = client.get("/c/shoes/consent", headers={"Origin": SHOES_ORIGIN, "X-Tag-Gateway-Consent": token})
    assert own.json()["reason"] == "valid" and own.json()["consent"]["categories"] == ["necessary", "analytics"]
    other = client.get("/c/hats/consent", headers={"Origin": HATS_ORIGIN, "X-Tag-Gateway-Consent": token})
    assert other.json()["reason"] == "other_site" and other.json()["consent"] is None and "ui" in other.json()
    # The gateway's own cookie reaches only its site's endpoints: a client keeps one per path.
    client.cookies.clear()
    client.cookies.set(COOKIE_NAME, token, domain="gateway.test", path="/c/shoes")
    assert client.get("/c/shoes/consent", headers={"Origin": SHOES_ORIGIN}).json()["reason"] == "valid"
    assert client.get("/c/hats/consent", headers={"Origin": HATS_ORIGIN}).json()["reason"] == "missing"


def test_each_site_has_its_own_rate_limit_and_policy_state(stores: Path, consent_log, monkeypatch) -> None:
    for name in ("shoes", "hats"):
        site = stores / name / "site.yaml"
        site.write_text(site.read_text().replace("  policy_version: 1\n",
                                                 "  policy_version: 1\n  consent_rate_limit: {requests: 1, per_seconds: 60}\n"))
    state = stores.parent / "state.json"
    monkeypatch.setenv("TAG_GATEWAY_STATE_FILE", str(state))
    with TestClient(create_app(LiveSites.load(stores), SECRET, consent_log, watch=False)) as client:
        assert post(client, "shoes", SHOES_ORIGIN).status_code == 200
        assert post(client, "shoes", SHOES_ORIGIN).status_code == 429
        assert post(client, "hats", HATS_ORIGIN).status_code == 200  # a bucket of its own
    recorded = json.loads(state.read_text())
    assert {str((stores / "shoes").resolve()), str((stores / "hats").resolve())} <= set(recorded)


def test_healthz_counts_per_site_and_details_name_the_problems(client: TestClient, sites: LiveSites,
                                                              stores: Path) -> None:
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["tags"] == 2 and health["config_problems"] == 0
    assert set(health["sites"]) == {"hats", "shoes"} and health["sites"]["hats"]["tags"] == 1
    site = stores / "hats" / "site.yaml"
    site.write_text(site.read_text().replace("category: analytics", "category: analytix"))
    bump_mtime(site)
    sites.reload_if_changed()
    health = client.get("/healthz").json()
    assert health["status"] == "degraded" and health["config_problems"] == 1
    assert health["sites"]["hats"]["status"] == "degraded" and health["sites"]["shoes"]["status"] == "ok"
    assert "config_errors" not in json.dumps(health)  # public: counts only
    details = client.get("/healthz/details", headers={"Authorization": f"Bearer {ADMIN}"}).json()
    assert details["sites"]["shoes"]["config_errors"] == []
    [problem] = details["sites"]["hats"]["config_errors"]
    assert "hats/site.yaml:20: tags[0].category: category 'analytix' is not declared" in problem


def test_a_broken_site_keeps_its_last_good_config_and_never_affects_another(client: TestClient, sites: LiveSites,
                                                                           stores: Path) -> None:
    hats_before, shoes_before = client.get("/c/hats.js"), client.get("/c/shoes.js")
    broken = stores / "hats" / "site.yaml"
    broken.write_text(broken.read_text().replace("allowed_origins: [http://localhost:*]", "allowed_origins: [nope"))
    edited = stores / "shoes" / "tags.yaml"
    edited.write_text(edited.read_text().replace("store: shoes", "store: shoes-v2"))
    bump_mtime(broken)
    bump_mtime(edited)
    assert sites.reload_if_changed() is True  # shoes changed; hats did not
    assert client.get("/c/hats.js").content == hats_before.content
    assert post(client, "hats", HATS_ORIGIN).status_code == 200  # still its last good origins
    shoes_after = client.get("/c/shoes.js")
    assert shoes_after.headers["etag"] != shoes_before.headers["etag"] and "shoes-v2" in shoes_after.text
    assert sites.sites["hats"].last_error is not None and sites.sites["shoes"].last_error is None
    # An edit that would make hats read shoes' tokens is refused like any other problem.
    broken.write_text(broken.read_text().replace("allowed_origins: [nope", "allowed_origins: [http://localhost:*]")
                      .replace("id: hat-shop", "id: shoe-shop"))
    bump_mtime(broken)
    sites.reload_if_changed()
    assert "would read each other's consent choices" in str(sites.sites["hats"].last_error)
    assert client.get("/c/hats.js").content == hats_before.content


def test_each_site_records_its_decisions_under_its_name(sites: LiveSites, database_url: str, monkeypatch) -> None:
    from gateway.store import ConsentLog

    with ConsentLog.open(database_url) as log:
        with TestClient(create_app(sites, SECRET, log, watch=False), base_url="http://gateway.test") as client:
            for site, origin in [("shoes", SHOES_ORIGIN), ("hats", HATS_ORIGIN), ("shoes", SHOES_ORIGIN)]:
                assert post(client, site, origin).status_code == 200
            assert post(client, "hats", SHOES_ORIGIN).status_code == 403  # refused: nothing recorded
        # The folder name, as in the URL (/c/<name>), not the site.id (shoe-shop, hat-shop).
        assert [r.site for r in log.records()] == ["shoes", "hats", "shoes"]
        assert [r.seq for r in log.records(site="shoes")] == [1, 3]
        assert log.verify().ok


def test_the_one_site_layout_is_unchanged(tmp_path: Path, consent_log, monkeypatch) -> None:
    monkeypatch.setenv("TAG_GATEWAY_STATE_FILE", str(tmp_path / "state.json"))
    live = LiveSites.load(ROOT / "tag_configs")
    assert live.single and live.sites == {}
    with TestClient(create_app(live, SECRET, consent_log, watch=False)) as client:
        assert client.get("/container.js").status_code == 200
        assert client.get("/c/tag_configs.js").status_code == 404
        stored = client.post("/consent", content=CHOICE, headers={"Origin": SHOES_ORIGIN,
                                                                   "Content-Type": "application/json"})
        assert stored.status_code == 200 and "Path=/;" in stored.headers["set-cookie"]
        assert "sites" not in client.get("/healthz").json()
    # Its records name it by its site.id, else "default" (not the folder's name, which may change).
    assert [r.site for r in consent_log.records()] == ["default"]
    own = tmp_path / "own_id"
    shutil.copytree(ROOT / "tag_configs", own)
    yml = own / "site.yaml"
    yml.write_text(yml.read_text().replace("  name: Example Store\n", "  name: Example Store\n  id: my-shop\n"))
    with TestClient(create_app(LiveSites.load(own), SECRET, consent_log, watch=False)) as client:
        assert client.post("/consent", content=CHOICE, headers={"Origin": SHOES_ORIGIN,
                                                                "Content-Type": "application/json"}).status_code == 200
    assert [r.site for r in consent_log.records()] == ["default", "my-shop"]


# -- the real server: the protocol's fast path and its workers' reload ----------------------------------

def test_gateway_serve_a_root_of_sites(stores: Path) -> None:
    with ServedGateway("--workers", "2", config=stores, watch=True) as served:
        log = served.log()
        assert '<script src="http://127.0.0.1:' in log and '/c/shoes.js" async></script>' in log
        plain = served.request("GET", "/c/shoes.js")
        assert plain.status == 200 and b"pixel.shoes.example" in plain.body
        zipped = served.request("GET", "/c/hats.js", {"Accept-Encoding": "gzip;q=1, br;q=0"})
        assert zipped.headers["content-encoding"] == "gzip" and b"pixel.hats.example" in gzip.decompress(zipped.body)
        again = served.request("GET", "/c/hats.js", {"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["etag"]})
        assert again.status == 304
        for path in ("/container.js", "/c/nope.js"):
            missing = served.request("GET", path)
            assert missing.status == 404 and json.loads(missing.body)["error"]["code"] == "unknown_site"
        stored = served.request("POST", "/c/hats/consent", {"Origin": HATS_ORIGIN, "Content-Type": "application/json"},
                                CHOICE.encode())
        assert stored.status == 200 and "Path=/c/hats;" in stored.headers["set-cookie"]
        from gateway.store import ConsentLog

        with ConsentLog.open(served.database_url) as log:  # written by a worker: named after its site
            assert [(r.consent_id, r.site) for r in log.records()] == [
                (json.loads(stored.body)["consent"]["id"], "hats")]
        refused = served.request("POST", "/c/shoes/consent", {"Origin": HATS_ORIGIN, "Content-Type": "application/json"},
                                 CHOICE.encode())
        assert refused.status == 403

        shoes_etag = plain.headers["etag"]
        hats_before = served.request("GET", "/c/hats.js").body
        broken = stores / "hats" / "site.yaml"
        broken.write_text(broken.read_text().replace("category: analytics", "category: analytix"))
        bump_mtime(broken)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:  # every worker's watcher has seen it
            bodies = [json.loads(served.request("GET", "/healthz").body) for _ in range(6)]
            if all(b["status"] == "degraded" for b in bodies):
                break
            time.sleep(0.2)
        health = json.loads(served.request("GET", "/healthz").body)
        assert health["sites"]["hats"]["config_problems"] == 1 and health["sites"]["shoes"]["status"] == "ok"
        for _ in range(6):
            assert served.request("GET", "/c/hats.js").body == hats_before
            assert served.request("GET", "/c/shoes.js").headers["etag"] == shoes_etag
        assert "hats/site.yaml:20: tags[0].category: category 'analytix' is not declared" in served.log()


def test_gateway_serve_refuses_a_root_with_a_broken_site(stores: Path) -> None:
    broken = stores / "hats" / "site.yaml"
    broken.write_text(broken.read_text().replace("category: analytics", "category: analytix"))
    served = ServedGateway(config=stores)
    try:
        with pytest.raises(AssertionError, match="not starting") as raised:
            served.start(timeout=20)
        assert "hats/site.yaml:20" in str(raised.value)
    finally:
        served.stop()
        served.scratch.cleanup()


def test_start_up_warnings_and_metric_labels_per_site() -> None:
    from gateway.serving.origin_check import sites_origin_warnings
    from gateway.serving.telemetry import route_label

    origins = {"shoes": ("http://127.0.0.1:*",), "hats": ("http://localhost:*",)}
    assert sites_origin_warnings(origins, ["http://localhost:3000/", "http://127.0.0.1:8080/"], "127.0.0.1") == []
    [refused] = sites_origin_warnings(origins, ["https://shop.example/"], "127.0.0.1")
    assert refused.startswith("no site's allowed_origins allows the store at https://shop.example")
    assert all(w.startswith(("site shoes: ", "site hats: ")) for w in sites_origin_warnings(origins, [], "0.0.0.0"))
    # Metrics label every site's endpoints alike: random site names cannot grow the series.
    assert [route_label(p) for p in ("/c/shoes.js", "/c/x/consent", "/c/x/ui", "/c/x/other", "/c//consent",
                                     "/container.js")] == \
        ["/c/{site}.js", "/c/{site}/consent", "/c/{site}/ui", "other", "other", "/container.js"]
