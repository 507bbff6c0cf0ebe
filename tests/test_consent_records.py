"""POST /consent writes the decision to the consent log before it answers, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.live_config import LiveConfig
from gateway.store import ConsentLog

from conftest import SECRET, STORE_ORIGIN

CALIFORNIA = {"CF-IPCountry": "US", "CF-Region-Code": "CA"}


def proxied_client(live: LiveConfig, log: ConsentLog) -> TestClient:
    """Requests from 127.0.0.1: the example config's trusted proxy (loopback), as behind a CDN."""
    return TestClient(create_app(live, SECRET, log, watch=False), base_url="http://gateway.test", client=("127.0.0.1", 5000))


def test_every_field_of_a_decision_is_recorded(live: LiveConfig, database_url: str) -> None:
    with ConsentLog.open(database_url) as log, proxied_client(live, log) as client:
        answer = client.post("/consent", json={"categories": ["analytics"], "action": "opt_out_link"},
                             headers={**CALIFORNIA, "Origin": STORE_ORIGIN, "Sec-GPC": "1", "User-Agent": "Browser/1.0",
                                      "X-Forwarded-For": "198.51.100.23, 127.0.0.1"}).json()
        [record] = log.show(answer["consent"]["id"])
        texts = log.banner_text_versions()[record.banner_texts_hash]  # the exact wording, stored once
    assert record.action == "opt_out_link" and record.rule == "opt_out" and record.region == "US-CA"
    assert record.categories == ("necessary", "analytics") and record.offered == ("necessary", "analytics", "marketing")
    assert record.gpc is True and record.policy_version == 1 and record.language == "en"
    assert record.container_version == live.current.container.etag.strip('"')
    assert record.ip_prefix == "198.51.100.0/24"  # the visitor's, never the proxy's, never whole
    assert record.user_agent == "Browser/1.0"
    assert texts["do_not_sell"] == "Do Not Sell or Share My Personal Information"
    assert texts["category.marketing"].startswith("Marketing: ")
    assert record.decided_at.isoformat().startswith(answer["consent"]["timestamp"][:19])


def test_a_forwarded_for_header_from_an_untrusted_peer_is_ignored(live: LiveConfig, consent_log: ConsentLog, client) -> None:
    answer = client.post("/consent", json={"categories": []},
                         headers={"Origin": STORE_ORIGIN, "X-Forwarded-For": "198.51.100.23"}).json()
    [record] = consent_log.show(answer["consent"]["id"])
    assert record.ip_prefix is None  # the test client's peer is "testclient": no address to keep
    assert record.region is None and record.rule == "opt_in"


def test_a_database_that_cannot_write_gets_503_and_nothing_is_acknowledged(live: LiveConfig, postgres_server, postgres_url) -> None:
    acknowledged: list[str] = []
    with ConsentLog.open(postgres_url) as log, proxied_client(live, log) as client:
        def choose() -> int:
            response = client.post("/consent", json={"categories": ["analytics"]}, headers={"Origin": STORE_ORIGIN})
            if response.status_code == 200:
                acknowledged.append(response.json()["consent"]["id"])
            return response.status_code

        assert choose() == 200
        postgres_server.stop()
        try:
            response = client.post("/consent", json={"categories": ["marketing"]}, headers={"Origin": STORE_ORIGIN})
            assert response.status_code == 503
            assert response.json()["error"]["code"] == "log_unavailable"
            assert "set-cookie" not in response.headers and "token" not in response.json()
            assert response.headers["retry-after"] == "5"
            assert response.headers["access-control-expose-headers"] == "Retry-After"  # the container reads it
        finally:
            postgres_server.start()
        assert choose() == 200  # back without a restart of the gateway
        stored = [r.consent_id for r in log.records()]
        assert stored == acknowledged and log.verify().ok


@pytest.mark.parametrize("body", [b'{"categories": [' * 600 + b']' * 600 + b'}'])
def test_deeply_nested_json_is_a_400_not_a_500(client, body: bytes) -> None:
    response = client.post("/consent", content=body[:2000], headers={"Content-Type": "application/json", "Origin": STORE_ORIGIN})
    assert response.status_code == 400
