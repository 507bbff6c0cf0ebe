"""Which representation of /container.js a client gets: Accept-Encoding q-values, ETags, HEAD."""

from __future__ import annotations

import gzip

import brotli
import pytest

from gateway.serving.negotiation import choose_coding


@pytest.mark.parametrize("header, coding", [
    (None, "identity"),
    ("", "identity"),
    ("gzip", "gzip"),
    ("gzip, deflate, br, zstd", "br"),          # what Chromium sends: the smallest body wins a tie
    ("br;q=0.5, gzip", "gzip"),                 # a higher weight beats the smaller body
    ("gzip;q=0", "identity"),                   # q=0 means never
    ("br;q=0, gzip;q=0", "identity"),
    ("GZIP", "gzip"),                           # codings are case-insensitive
    ("x-gzip", "gzip"),
    ("*", "br"),
    ("*;q=0.1, gzip;q=0", "br"),                # * covers what is not named, gzip stays refused
    ("identity;q=0, gzip;q=0.1", "gzip"),
    ("identity;q=0", "identity"),               # nothing acceptable: identity anyway, never a 406
    ("gzip;q=abc", "identity"),                 # a malformed weight is not a wish
    ("gzip;q=2", "identity"),                   # nor is one out of range
    ("deflate", "identity"),
    (" gzip ; q=0.8 , br ; q=0.9 ", "br"),
])
def test_the_coding_follows_the_weights(header, coding) -> None:
    assert choose_coding(header) == coding


def test_each_representation_decodes_to_the_same_script(client) -> None:
    plain = client.get("/container.js", headers={"Accept-Encoding": "identity"})
    raw = {}
    for coding in ("gzip", "br"):
        with client.stream("GET", "/container.js", headers={"Accept-Encoding": coding}) as response:
            assert response.headers["content-encoding"] == coding
            assert response.headers["vary"] == "Accept-Encoding"
            raw[coding] = (b"".join(response.iter_raw()), response.headers["etag"])
    assert gzip.decompress(raw["gzip"][0]) == plain.content
    assert brotli.decompress(raw["br"][0]) == plain.content
    assert len(raw["br"][0]) < len(raw["gzip"][0]) < len(plain.content) / 2
    etags = {plain.headers["etag"], raw["gzip"][1], raw["br"][1]}
    assert len(etags) == 3  # three representations, three strong ETags


def test_gzip_refused_by_weight_gets_no_gzip(client) -> None:
    response = client.get("/container.js", headers={"Accept-Encoding": "gzip;q=0, br;q=0"})
    assert "content-encoding" not in response.headers
    assert response.content.startswith(b"/*! tag-gateway")


def test_head_sends_the_headers_of_get_without_a_body(client) -> None:
    get = client.get("/container.js", headers={"Accept-Encoding": "gzip"})
    head = client.head("/container.js", headers={"Accept-Encoding": "gzip"})
    assert head.status_code == 200 and head.content == b""
    for name in ("etag", "content-encoding", "content-length", "content-type", "cache-control"):
        assert head.headers[name] == get.headers[name]


def test_revalidation_matches_the_representation_and_weak_etags(client) -> None:
    etag = client.get("/container.js", headers={"Accept-Encoding": "br"}).headers["etag"]
    assert client.get("/container.js", headers={"Accept-Encoding": "br", "If-None-Match": etag}).status_code == 304
    assert client.get("/container.js", headers={"Accept-Encoding": "br", "If-None-Match": f'"x", W/{etag}'}).status_code == 304
    # The brotli ETag does not validate the gzip body: a proxy must not serve one for the other.
    assert client.get("/container.js", headers={"Accept-Encoding": "gzip", "If-None-Match": etag}).status_code == 200
    not_modified = client.get("/container.js", headers={"Accept-Encoding": "br", "If-None-Match": "*"})
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified.headers["etag"] == etag and "content-length" not in not_modified.headers
