"""Which tag the testing kit's recorder credits with a request when two tags send alike (no browser:
the requests are the ones a page would send, fed to a VendorRecorder)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

from gateway.testing.decode import RecordedRequest
from gateway.testing.recorder import VendorRecorder

SITE = """
site: {name: Kit, allowed_origins: ["https://shop.example"], policy_version: 1, privacy_policy_url: /privacy}
categories:
  analytics: {label: Analytics, description: Counts.}
"""


def _recorder(tmp_path: Path, tags: str) -> VendorRecorder:
    (tmp_path / "site.yaml").write_text(SITE)
    (tmp_path / "tags.yaml").write_text("tags:\n" + tags)
    return VendorRecorder(config=tmp_path)


def ga4_page_view(recorder: VendorRecorder, path: str, **params: str) -> None:
    query = {"v": "2", "tid": "G-ABC123", "en": "page_view", "dl": "https://shop.example" + path,
             **{f"ep.{k}": v for k, v in params.items()}}
    recorder.requests.append(RecordedRequest("POST", "https://region1.google-analytics.com/g/collect?" + urlencode(query),
                                             "ping"))


def test_two_ga4_page_view_tags_of_one_measurement_id_are_told_apart_by_their_fixed_params(tmp_path) -> None:
    recorder = _recorder(tmp_path, """
  - {id: ga4-home, category: analytics, trigger: {type: page_view, paths: ["/"]},
     ga4: {measurement_id: G-ABC123, params: {content_group: home, p: "{{ page.path }}"}}}
  - {id: ga4-cart, category: analytics, trigger: {type: page_view, paths: ["/cart"]},
     ga4: {measurement_id: G-ABC123, params: {content_group: cart}}}
""")
    ga4_page_view(recorder, "/", content_group="home", p="/")
    ga4_page_view(recorder, "/cart", content_group="cart")
    ga4_page_view(recorder, "/cart", content_group="cart")
    assert [e.page for e in recorder.assert_fired("ga4-home", once=True)] == ["https://shop.example/"]
    assert len(recorder.assert_fired("ga4-cart", times=2)) == 2
    assert [e.tag_id for e in recorder.events()] == ["ga4-home", "ga4-cart", "ga4-cart"]


def test_a_page_view_tag_limited_to_paths_is_told_apart_by_the_page(tmp_path) -> None:
    recorder = _recorder(tmp_path, """
  - {id: ga4, category: analytics, trigger: {type: page_view, paths: ["/", "/products/*"]}, ga4: {measurement_id: G-ABC123}}
  - {id: ga4-cart, category: analytics, trigger: {type: page_view, paths: ["/cart*"]}, ga4: {measurement_id: G-ABC123}}
""")
    ga4_page_view(recorder, "/products/hat")
    ga4_page_view(recorder, "/cart?step=2")
    assert [urlsplit(e.page).path for e in recorder.assert_fired("ga4", once=True)] == ["/products/hat"]
    assert [urlsplit(e.page).path for e in recorder.assert_fired("ga4-cart", once=True)] == ["/cart"]


def test_two_tags_nothing_tells_apart_make_the_later_one_s_assertions_say_so(tmp_path) -> None:
    # As in the example store: GA4 page views of page loads and of single-page navigations, one id.
    recorder = _recorder(tmp_path, """
  - {id: ga4, category: analytics, trigger: {type: page_view}, ga4: {measurement_id: G-ABC123}}
  - {id: ga4-spa, category: analytics, trigger: {type: history_change}, ga4: {measurement_id: G-ABC123}}
  - {id: ga4-signup, category: analytics, trigger: {type: event, event: sign_up}, ga4: {measurement_id: G-ABC123}}
  - {id: px-a, category: analytics, trigger: {type: page_view}, image: {url: "https://px.example/p.gif", params: {t: a}}}
  - {id: px-b, category: analytics, trigger: {type: click}, image: {url: "https://px.example/p.gif", params: {t: b}}}
""")
    ga4_page_view(recorder, "/help#topic")
    # Credited to the first, as before (the example store's own tests rely on it)...
    assert [e.tag_id for e in recorder.assert_fired("ga4", once=True)] == ["ga4"]
    # ... but the other is not told "it did not fire": the recorder cannot know, and says what to do.
    with pytest.raises(AssertionError) as raised:
        recorder.assert_fired("ga4-spa")
    assert str(raised.value) == (
        "cannot tell whether tag 'ga4-spa' fired: it sends the same ga4 'page_view' events to G-ABC123 as 'ga4' "
        "(earlier in the configuration) and neither fixed parameter values nor page_view `paths` tell them apart, "
        "so 1 such event(s) are credited to 'ga4' and could be either's. Give each of these tags a parameter with a "
        "fixed value of its own (e.g. params: {tag_name: ga4-spa}), or assert on the events themselves: "
        "[e for e in recorder.events() if 'ga4-spa' in e.candidates] (e.page tells the pages apart).")
    with pytest.raises(AssertionError, match="cannot tell whether tag 'ga4-spa' fired"):
        recorder.events("ga4-spa")
    assert recorder.events("ga4-signup") == []  # another event name: not concerned
    assert [e.candidates for e in recorder.events()] == [("ga4", "ga4-spa")]
    assert "ga4 (or ga4-spa)" in recorder.report()

    # Two image tags of one URL: their fixed params decide.
    recorder.requests.append(RecordedRequest("GET", "https://px.example/p.gif?t=b", "fetch"))
    assert [e.params for e in recorder.events("px-b")] == [{"t": "b"}]
    assert recorder.events("px-a") == []
