"""Every trigger type in a real browser: what fires, how often, and when nothing does.

The tags here are `image` pixels of the `necessary` category (they fire without a choice, so each
test looks at the trigger alone), each to a host of its own so the recorder can tell them apart.
Consent and held occurrences with these triggers are covered in test_firing_rules.py.
"""

from __future__ import annotations

from playwright.sync_api import expect

from .support import Shop

SITE = """
site:
  name: Trigger Store
  allowed_origins: ["http://127.0.0.1:*"]
  policy_version: 1
  privacy_policy_url: /privacy.html
categories:
  analytics: {label: Analytics, description: Counts visits.}
"""


def pixel(tag_id: str, trigger: str, params: str = "{}", extra: str = "") -> str:
    return f"""
  - id: {tag_id}
    category: necessary
    trigger: {trigger}
    image: {{url: "https://{tag_id}.example/p.gif", params: {params}}}{extra}"""


TAGS = "tags:" + "".join([
    pixel("dom", "{type: dom_ready}"),
    pixel("loaded", "{type: window_loaded}"),
    pixel("spa", "{type: history_change}", '{path: "{{ page.path }}", from: "{{ event.source }}"}'),
    pixel("link", "{type: click, links_only: true, selector: nav}", '{href: "{{ event.element.href }}"}'),
    pixel("anyclick", "{type: click}", '{id: "{{ event.element.id }}"}'),
    pixel("signup", '{type: form_submit, selector: "#signup"}', '{form: "{{ event.form.id }}", method: "{{ event.form.method }}"}'),
    pixel("promo", '{type: element_visible, selector: ".promo", share: 50}', '{id: "{{ event.element.id }}"}'),
    pixel("scroll", "{type: scroll_depth, thresholds: [50, 90]}", '{p: "{{ event.threshold }}"}'),
    pixel("tick", "{type: timer, interval_ms: 150, limit: 3}", '{n: "{{ event.count }}"}'),
]) + "\n"

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Triggers</title><script src="/container.js" async></script></head>
<body>
<nav><a id="home-link" href="#top">Home</a> <a id="sale-link" href="#sale">Sale</a></nav>
<p><a id="body-link" href="#body">A link outside the nav</a> <button id="buy" type="button">Buy</button></p>
<form id="signup" target="sink" action="/thanks.html" method="post">
  <input id="email" name="email" type="email" required> <button id="send">Send</button>
  <!-- fields named like form properties: form.id and form.method become these inputs -->
  <input type="hidden" name="id" value="clobbered"><input type="hidden" name="method" value="clobbered">
</form>
<form id="other" target="sink" action="/thanks.html"><button id="send-other">Other</button></form>
<iframe name="sink" title="sink" style="width:1px;height:1px;border:0"></iframe>
<div style="height:3000px"></div>
<p class="promo" id="promo-1">Half price</p>
<div style="height:3000px"></div>
</body></html>
"""


def _store(tmp_path):
    config_dir, store_dir = tmp_path / "config", tmp_path / "store"
    config_dir.mkdir()
    store_dir.mkdir()
    (config_dir / "site.yaml").write_text(SITE)
    (config_dir / "tags.yaml").write_text(TAGS)
    (store_dir / "t.html").write_text(PAGE)
    (store_dir / "thanks.html").write_text("<!doctype html><title>Thanks</title><p>Thanks")
    return config_dir, store_dir


def params(recorder, tag_id: str) -> list[dict]:
    return [event.params for event in recorder.events(tag_id)]


def test_page_lifecycle_timer_and_single_page_navigation(tmp_path, gateway_factory, page, recorder):
    config_dir, store_dir = _store(tmp_path)
    server = gateway_factory(config_dir, store_dir)
    recorder.use_config(config_dir)
    Shop(page, server.url, recorder).open("/t.html")

    recorder.assert_fired("dom", once=True)
    recorder.assert_fired("loaded", once=True)
    recorder.wait_for(page, lambda: recorder.events("tick"), count=3)
    page.wait_for_timeout(600)  # three intervals more: the limit holds
    assert params(recorder, "tick") == [{"n": "1"}, {"n": "2"}, {"n": "3"}]
    assert recorder.events("spa") == []  # loading a page is not a history change

    page.evaluate("history.pushState({}, '', '/shop/shoes')")
    page.evaluate("history.replaceState({}, '', '/shop/shoes')")  # the same URL: not a change
    page.evaluate("location.hash = 'reviews'")
    page.evaluate("history.back()")
    recorder.wait_for(page, lambda: recorder.events("spa"), count=3)
    recorder.settle(page)
    # A #hash navigation fires popstate before hashchange: the first one reports it, once.
    assert params(recorder, "spa") == [{"path": "/shop/shoes", "from": "pushState"},
                                       {"path": "/shop/shoes", "from": "popstate"},
                                       {"path": "/shop/shoes", "from": "popstate"}]
    # The page's own lifecycle triggers stay at one each through the navigation.
    assert len(recorder.events("dom")) == 1 and len(recorder.events("loaded")) == 1


def test_clicks_on_links_only_and_on_any_element_including_added_ones(tmp_path, gateway_factory, page, recorder):
    config_dir, store_dir = _store(tmp_path)
    server = gateway_factory(config_dir, store_dir)
    recorder.use_config(config_dir)
    Shop(page, server.url, recorder).open("/t.html")

    page.click("#sale-link")
    page.click("#body-link")  # a link, but not inside nav
    page.click("#buy")        # not a link
    page.evaluate("""() => { const b = document.createElement('button'); b.id = 'late'; b.textContent = 'Late';
                             document.body.prepend(b); }""")
    page.click("#late")
    recorder.wait_for(page, lambda: recorder.events("anyclick"), count=4)
    recorder.settle(page)
    [link] = params(recorder, "link")
    assert link["href"].endswith("#sale")
    assert [p["id"] for p in params(recorder, "anyclick")] == ["sale-link", "body-link", "buy", "late"]


def test_form_submits_however_sent_but_not_when_validation_stops_them(tmp_path, gateway_factory, page, recorder):
    config_dir, store_dir = _store(tmp_path)
    server = gateway_factory(config_dir, store_dir)
    recorder.use_config(config_dir)
    Shop(page, server.url, recorder).open("/t.html")

    page.click("#send")  # the e-mail field is required and empty: the browser stops the submit
    page.wait_for_timeout(300)
    assert recorder.events("signup") == []
    page.fill("#email", "ada@example.com")
    page.press("#email", "Enter")  # Enter in a field, no click
    recorder.wait_for(page, lambda: recorder.events("signup"))
    page.evaluate("document.getElementById('signup').submit()")  # sends no submit event
    page.evaluate("document.getElementById('signup').requestSubmit()")
    page.click("#send-other")  # another form: not this tag's selector
    recorder.wait_for(page, lambda: recorder.events("signup"), count=3)
    recorder.settle(page)
    # Read through the prototypes: the fields named id and method change nothing.
    assert params(recorder, "signup") == [{"form": "signup", "method": "post"}] * 3


def test_visibility_and_scroll_depth_fire_once_each(tmp_path, gateway_factory, page, recorder):
    config_dir, store_dir = _store(tmp_path)
    server = gateway_factory(config_dir, store_dir)
    recorder.use_config(config_dir)
    Shop(page, server.url, recorder).open("/t.html")
    recorder.settle(page)
    assert recorder.events("promo") == [] and recorder.events("scroll") == []

    page.evaluate("document.getElementById('promo-1').scrollIntoView({block: 'center'})")  # about half the page
    recorder.wait_for(page, lambda: recorder.events("promo"))
    recorder.wait_for(page, lambda: recorder.events("scroll"))
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(200)
    page.evaluate("document.getElementById('promo-1').scrollIntoView({block: 'center'})")  # seen again: once per element
    page.evaluate("""() => { const p = document.createElement('p'); p.className = 'promo'; p.id = 'promo-2';
                             p.textContent = 'New'; document.body.append(p); }""")
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    recorder.wait_for(page, lambda: recorder.events("promo"), count=2)
    recorder.wait_for(page, lambda: recorder.events("scroll"), count=2)
    page.evaluate("window.scrollTo(0, 0); window.scrollTo(0, document.documentElement.scrollHeight)")
    recorder.settle(page)
    assert [p["id"] for p in params(recorder, "promo")] == ["promo-1", "promo-2"]
    assert params(recorder, "scroll") == [{"p": "50"}, {"p": "90"}]
    expect(page.locator("#promo-2")).to_be_visible()


VALIDATION_TAGS = "tags:" + "".join([
    pixel("checked", '{type: form_submit, selector: "#pay", check_validation: true}', '{form: "{{ event.form.id }}"}'),
    pixel("unchecked", '{type: form_submit, selector: "#pay"}', '{form: "{{ event.form.id }}"}'),
    pixel("stopped", '{type: form_submit, selector: ".stops", check_validation: true}', '{form: "{{ event.form.id }}"}'),
]) + "\n"

# The store validates #pay itself (novalidate: no browser validation) and sends it for real: the page
# navigates away. The .stops forms have handlers that stop the propagation (one also prevents the default).
VALIDATION_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Checkout</title><script src="/container.js" async></script></head>
<body>
<form id="pay" action="/thanks.html" method="get" novalidate>
  <input id="card" name="card"> <button id="pay-button">Pay</button> <p id="error" hidden>Enter a card number</p>
</form>
<form id="stop-and-prevent" class="stops" action="/thanks.html" target="sink"><button id="send-prevented">Send</button></form>
<form id="stop-only" class="stops" action="/thanks.html" target="sink"><button id="send-stopped">Send</button></form>
<iframe name="sink" title="sink" style="width:1px;height:1px;border:0"></iframe>
<script>
  document.getElementById('pay').addEventListener('submit', function (e) {
    if (!document.getElementById('card').value) { e.preventDefault(); document.getElementById('error').hidden = false; }
  });
  document.getElementById('stop-and-prevent').addEventListener('submit', function (e) { e.preventDefault(); e.stopPropagation(); });
  document.getElementById('stop-only').addEventListener('submit', function (e) { e.stopPropagation(); });
</script>
</body></html>
"""


def test_form_submit_check_validation_fires_only_for_forms_the_store_let_through(tmp_path, gateway_factory, page, recorder):
    config_dir, store_dir = _store(tmp_path)
    (config_dir / "tags.yaml").write_text(VALIDATION_TAGS)
    (store_dir / "checkout.html").write_text(VALIDATION_PAGE)
    server = gateway_factory(config_dir, store_dir)
    recorder.use_config(config_dir)
    Shop(page, server.url, recorder).open("/checkout.html")

    page.click("#pay-button")  # empty card: the store's handler prevents the submit
    expect(page.locator("#error")).to_be_visible()
    recorder.wait_for(page, lambda: recorder.events("unchecked"))  # without the option: fires as before
    page.click("#send-prevented")  # propagation stopped and default prevented: not sent
    page.click("#send-stopped")    # propagation stopped, not prevented: sent into the iframe
    recorder.wait_for(page, lambda: recorder.events("stopped"))
    recorder.settle(page)
    assert recorder.events("checked") == []
    assert params(recorder, "stopped") == [{"form": "stop-only"}]

    page.fill("#card", "4242")
    with page.expect_navigation(url="**/thanks.html?card=4242"):
        page.click("#pay-button")  # valid: the store lets it through and the browser leaves the page
    recorder.wait_for(page, lambda: recorder.events("checked"))
    recorder.settle(page)
    assert params(recorder, "checked") == [{"form": "pay"}]
    assert params(recorder, "unchecked") == [{"form": "pay"}] * 2
