"""Property tests: no request, however odd its headers, body, cookies or query string, gets a 500.

Every endpoint (GET/POST/OPTIONS /consent, GET/HEAD /container.js, /ui, /healthz and its admin
view, the store's pages) is hit with random values for the headers the gateway reads, from a
trusted proxy's address so the forwarded-address and region paths run too. The test client
re-raises any exception the app did not turn into an answer, so a crash fails loudly; an answer
must be below 500 and, when it says JSON, be JSON. Bounded: a few hundred requests in all.
"""

from __future__ import annotations

import json
import shutil
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from conftest import ROOT, SECRET
from gateway.app import ADMIN_TOKEN_ENV, create_app
from gateway.live_config import LiveConfig
from gateway.store import ConsentLog

BOUNDED = settings(max_examples=120, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
ADMIN_TOKEN = "property-tests-admin-token-0123456789"

# What a header value can be on the wire: visible latin-1 and spaces (no CR/LF, which clients refuse).
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=80)
origins = st.one_of(
    header_text,
    st.sampled_from(["null", "http://localhost:99999", "http://localhost:abc", "http://[::1", "http://[::1]:3000",
                     "http://evil.com:80@localhost", "http://localhost:1#x", "http://localhost:0", "HTTP://LOCALHOST",
                     "http://127.0.0.1:5173", "https://evil.example", "http://localhost:65535", "http://localhost:65536"]),
    st.builds(lambda scheme, host, port: f"{scheme}://{host}{port}", st.sampled_from(["http", "https", "ftp", ""]),
              st.sampled_from(["localhost", "127.0.0.1", "[::1]", "LOCALHOST", "a.b", ""]),
              st.one_of(st.just(""), st.integers(-5, 70000).map(lambda p: f":{p}"), header_text.map(lambda p: ":" + p))),
)
tokens = st.one_of(header_text, st.sampled_from(["", ".", "..", "a.b.c", "eyJ9.x.y", "e30.AAAAAA.AAAA"]))
addresses = st.one_of(header_text, st.ip_addresses().map(str),
                      st.lists(st.one_of(st.ip_addresses().map(str), header_text), max_size=4).map(", ".join))
HEADER_VALUES = {
    "Origin": origins,
    "Host": st.one_of(header_text, st.sampled_from(["localhost:3000", "gateway.test", "[::1]:8000", ""])),
    "Cookie": st.one_of(header_text, tokens.map(lambda t: f"tg_consent={t}")),
    "X-Tag-Gateway-Consent": tokens,
    "Accept-Encoding": st.one_of(header_text, st.sampled_from(["gzip;q=0", "br, gzip;q=0.5", "*", "gzip;q=abc", "identity"])),
    "If-None-Match": st.one_of(header_text, st.sampled_from(["*", '"x", W/"y"', ",,,", '"'])),
    "Content-Type": st.one_of(header_text, st.sampled_from(["application/json", "application/json; charset=latin-1",
                                                            "APPLICATION/JSON;", "text/plain"])),
    "X-Forwarded-For": addresses,
    "CF-Connecting-IP": addresses,
    "CF-IPCountry": st.one_of(header_text, st.sampled_from(["DE", "US", "XX", "T1", ""])),
    "CF-Region-Code": st.one_of(header_text, st.sampled_from(["CA", "", "ZZ"])),
    "Sec-GPC": st.one_of(header_text, st.just("1")),
    "Authorization": st.one_of(header_text, st.just(f"Bearer {ADMIN_TOKEN}"), st.just("Bearer ")),
    "Access-Control-Request-Method": header_text,
    "User-Agent": st.text(max_size=700).map(lambda t: t.encode("latin-1", "replace").decode("latin-1")),
}
# As bytes: the client would encode text as ASCII, and a server must take any latin-1 byte.
headers = st.fixed_dictionaries({}, optional=HEADER_VALUES).map(lambda h: {k: v.encode("latin-1") for k, v in h.items()})
queries = st.one_of(st.just(""), st.dictionaries(st.sampled_from(["gpc", "opted_out", "x", "tg_debug"]), header_text,
                                                 max_size=3).map(lambda d: "&".join(f"{k}={quote(v)}" for k, v in d.items())),
                    header_text.map(lambda q: quote(q, safe="=&")))
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
                           max_leaves=20)
choices = st.fixed_dictionaries({}, optional={"categories": st.one_of(
    st.lists(st.sampled_from(["necessary", "analytics", "marketing", "marketting", "constructor", ""]), max_size=5),
    json_values), "action": st.one_of(st.sampled_from(["accept_all", "reject_all", "custom", "gpc", "opt_out_link"]),
                                      json_values), "gpc": json_values, "extra": json_values})
bodies = st.one_of(st.binary(max_size=2100), json_values.map(lambda v: json.dumps(v).encode()),
                   choices.map(lambda v: json.dumps(v).encode()),
                   st.integers(1, 1100).map(lambda depth: b'{"categories":' + b"[" * depth + b"]" * depth + b"}"))


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("properties")
    config = root / "tag_configs"
    shutil.copytree(ROOT / "tag_configs", config)
    site = config / "site.yaml"
    # Off, so every POST reaches the body checks instead of stopping at 429 (tested in test_rate_limit.py).
    site.write_text(site.read_text().replace("  consent_max_age_days: 180\n",
                                             "  consent_max_age_days: 180\n  consent_rate_limit: false\n"))
    store = root / "store"
    shutil.copytree(ROOT / "example_store", store)
    (store / ".secret").write_text("never served")
    patch = pytest.MonkeyPatch()
    patch.setenv(ADMIN_TOKEN_ENV, ADMIN_TOKEN)
    with ConsentLog.open(f"sqlite:///{root / 'consents.sqlite3'}") as log:
        app = create_app(LiveConfig.load(config), SECRET, log, store_dir=store, watch=False)
        with TestClient(app, base_url="http://gateway.test", client=("127.0.0.1", 40000)) as test_client:
            yield test_client
    patch.undo()


def check(response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.headers.get("content-type", "").startswith("application/json") and response.request.method != "HEAD":
        json.loads(response.content)


@BOUNDED
@given(method=st.sampled_from(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]),
       path=st.sampled_from(["/consent", "/container.js", "/ui", "/healthz", "/healthz/details"]),
       sent=headers, query=queries)
def test_reads_never_fail(client, method, path, sent, query) -> None:
    check(client.request(method, f"{path}?{query}" if query else path, headers=sent))


@BOUNDED
@given(sent=headers, body=bodies, query=queries, json_type=st.booleans(), allowed_origin=st.booleans())
def test_consent_posts_never_fail(client, sent, body, query, json_type, allowed_origin) -> None:
    # Half the time with the two headers that let a body reach the parser, so it is really parsed.
    if json_type:
        sent = {**sent, "Content-Type": b"application/json"}
    if allowed_origin:
        sent = {**sent, "Origin": b"http://127.0.0.1:5173"}
    check(client.post(f"/consent?{query}" if query else "/consent", content=body, headers=sent))


@BOUNDED
@given(path=st.one_of(st.text(max_size=40).map(lambda p: "/" + quote(p, safe="/.")),
                      st.sampled_from(["/.secret", "/%2esecret", "/./.secret", "/../", "/index.html/..", "//", "/%00",
                                       "/privacy.html", "/a/../../etc/passwd"])),
       sent=headers)
def test_store_pages_never_fail_and_never_serve_dotfiles(client, path, sent) -> None:
    response = client.get(path, headers=sent)
    check(response)
    assert b"never served" not in response.content
