"""What the consent firewall cannot stop, pinned down in a real browser rather than guessed.

Each test makes a marketing request before any choice in one way the firewall cannot see, and
asserts that it DID reach the vendor host. If a browser change makes one of them stoppable, the
test fails: then the README's list of limits ("What the firewall cannot stop") must change too.
The contrast at the end of each test (the same URL set from a script) shows the firewall was on.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .support import DEFAULT_CONFIG_DIR, STORE_DIR, Shop

META = "https://www.facebook.com/tr/?id=1234567890&ev="

LIMITS_PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Limits</title>
  <script>
    // A store script that runs before the container: its requests, and any fetch it kept.
    fetch('{META}BeforeContainer', {{mode: 'no-cors'}}).catch(function () {{}});
    window.keptFetch = window.fetch;
  </script>
  <script src="/container.js"></script>
</head>
<body>
  <h1>Limits</h1>
  <img src="{META}InPageMarkup" alt="">
  <div id="box" style="width:10px;height:10px"></div>
</body>
</html>
"""


@pytest.fixture
def limits(gateway_factory, tmp_path: Path, page, recorder) -> Shop:
    store = tmp_path / "store"
    shutil.copytree(STORE_DIR, store)
    (store / "limits.html").write_text(LIMITS_PAGE)
    server = gateway_factory(DEFAULT_CONFIG_DIR, store)
    shop = Shop(page, server.url, recorder)
    shop.open("/limits.html")
    assert shop.state() == "undecided"
    return shop


def reached(recorder, event: str) -> list:
    # Raw requests on purpose: these tests are about what reaches the vendor's host on the wire, by paths
    # (markup, CSS, workers, preloads) the kit's decoders need not know, whatever their format.
    return [r for r in recorder.requests if r.host == "www.facebook.com" and f"ev={event}" in r.url]


def assert_firewall_on(shop: Shop) -> None:
    shop.page.evaluate(f"() => {{ new Image().src = '{META}FromScript'; }}")
    shop.recorder.settle(shop.page)
    assert reached(shop.recorder, "FromScript") == [], shop.recorder.describe()


def test_requests_made_before_the_container_ran_and_kept_references(limits: Shop):
    limits.page.evaluate(f"() => window.keptFetch('{META}KeptFetch', {{mode: 'no-cors'}}).catch(() => {{}})")
    limits.recorder.wait_for(limits.page, lambda: reached(limits.recorder, "BeforeContainer"))
    limits.recorder.wait_for(limits.page, lambda: reached(limits.recorder, "KeptFetch"))
    assert_firewall_on(limits)


def test_markup_in_the_page_html(limits: Shop):
    limits.recorder.wait_for(limits.page, lambda: reached(limits.recorder, "InPageMarkup"))
    assert_firewall_on(limits)


def test_css_images(limits: Shop):
    limits.page.evaluate(f"() => {{ document.getElementById('box').style.backgroundImage = 'url({META}CssImage)'; }}")
    limits.recorder.wait_for(limits.page, lambda: reached(limits.recorder, "CssImage"))
    assert_firewall_on(limits)


def test_workers(limits: Shop):
    limits.page.evaluate(f"""() => {{
      const code = "fetch('{META}Worker', {{mode: 'no-cors'}}).catch(function () {{}});";
      new Worker(URL.createObjectURL(new Blob([code], {{type: 'text/javascript'}})));
    }}""")
    limits.recorder.wait_for(limits.page, lambda: reached(limits.recorder, "Worker"))
    assert_firewall_on(limits)


def test_elements_created_from_html_strings(limits: Shop):
    limits.page.evaluate(f"""() => {{
      const box = document.getElementById('box');
      box.innerHTML = '<img src="{META}InnerHtml" alt="">';
      box.insertAdjacentHTML('beforeend', '<iframe src="https://td.doubleclick.net/td/rul/987654321?ev=AdjacentHtml"></iframe>');
    }}""")
    limits.recorder.wait_for(limits.page, lambda: reached(limits.recorder, "InnerHtml"))
    limits.recorder.wait_for(limits.page, lambda: [r for r in limits.recorder.requests if "AdjacentHtml" in r.url])
    assert_firewall_on(limits)


def test_srcset_link_preloads_and_other_dom_paths(limits: Shop):
    limits.page.evaluate(f"""() => {{
      const img = document.createElement('img');
      img.srcset = '{META}Srcset 1x';
      document.body.appendChild(img);
      const link = document.createElement('link');
      link.rel = 'preload'; link.as = 'image'; link.href = '{META}LinkPreload';
      document.head.appendChild(link);
      const other = document.createElement('img');
      other.setAttributeNS(null, 'src', '{META}SetAttributeNS');
    }}""")
    for event in ("Srcset", "LinkPreload", "SetAttributeNS"):
        limits.recorder.wait_for(limits.page, lambda: reached(limits.recorder, event))
    assert_firewall_on(limits)
