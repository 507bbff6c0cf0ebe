"""Every decision made in the browser is in the consent log, as `gateway consents` shows it to the
owner (or a regulator): on SQLite, the default, and on PostgreSQL, for several gateway instances."""

from __future__ import annotations

import csv
import io
import json

from gateway.testing import accept_all, opt_out, visit_as

from .support import Shop, http_request, new_recorded_context


def decide_three_ways(browser, gateway) -> list[str]:
    """A German visitor accepts all; a Californian follows the link; a Californian sends GPC."""
    ids = []

    def follow_the_link(shop: Shop) -> None:
        _, how = opt_out(shop.page)
        assert how == 'the notice\'s "Do Not Sell or Share" link', how

    for region, gpc, act in (
        ("DE", False, lambda shop: accept_all(shop.page)),
        ("US-CA", False, follow_the_link),
        ("US-CA", True, lambda shop: None),
    ):
        context, recorder = new_recorded_context(browser)
        visit_as(context, region=region, gpc=gpc)
        try:
            shop = Shop(context.new_page(), gateway.url, recorder)
            shop.open("/")
            act(shop)
            shop.page.wait_for_function("() => tagGateway.state === 'decided'")
            ids.append(shop.consent()["id"])
        finally:
            context.close()
    return ids


def check_export(gateway, ids: list[str]) -> None:
    exported = gateway.consents("export", "--format", "jsonl")
    assert exported.returncode == 0, exported.stderr
    records = {r["consent_id"]: r for r in map(json.loads, exported.stdout.splitlines())}
    assert set(ids) <= set(records), (ids, list(records))
    german, link, gpc = (records[i] for i in ids)
    assert (german["action"], german["region"], german["rule"], german["gpc"]) == ("accept_all", "DE", "opt_in", False)
    assert german["categories"] == ["necessary", "analytics", "marketing"]
    assert (link["action"], link["region"], link["rule"]) == ("opt_out_link", "US-CA", "opt_out")
    assert link["categories"] == ["necessary", "analytics"]
    assert (gpc["action"], gpc["gpc"]) == ("gpc", True) and "marketing" not in gpc["categories"]
    health = json.loads(http_request("GET", gateway.url + "/healthz").text)
    for record in (german, link, gpc):
        assert record["ip_prefix"] == "127.0.0.0/24"  # never the whole address
        assert "Chrome" in record["user_agent"] and record["language"] == "en" and record["policy_version"] == 1
        assert record["container_version"] == health["container_etag"].strip('"')
        assert record["offered"] == ["necessary", "analytics", "marketing"]
        assert record["site"] == "default"  # the example store: one site without a site.id
    assert german["banner_texts"]["accept_all"] == "Accept all"
    assert link["banner_texts"]["do_not_sell"] == "Do Not Sell or Share My Personal Information"

    as_csv = list(csv.DictReader(io.StringIO(gateway.consents("export", "--format", "csv").stdout)))
    assert {row["consent_id"] for row in as_csv} >= set(ids)
    shown = gateway.consents("show", ids[1])
    assert shown.returncode == 0 and "opt_out_link" in shown.stdout and "US-CA" in shown.stdout
    verified = gateway.consents("verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    stats = gateway.consents("stats", "--days", "1")
    assert stats.returncode == 0 and "marketing" in stats.stdout and "\nsite default\n" in stats.stdout, stats.stdout


def test_decisions_are_in_the_log_on_sqlite(browser, gateway):
    check_export(gateway, decide_three_ways(browser, gateway))


def test_decisions_are_in_the_log_on_postgresql(browser, postgres_gateway):
    check_export(postgres_gateway, decide_three_ways(browser, postgres_gateway))
