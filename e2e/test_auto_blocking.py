"""Auto-blocking in the store's own HTML (issue 10): hard-coded <script type="text/plain" data-consent>
and <iframe data-consent data-src> wait for their category, run/load once it is allowed, and embeds turn
back into placeholders on withdrawal.

The example store's /media.html holds one of each; the other pages of these tests are served by the
browser (page.route) on the gateway's origin, so the container and /ui.js are the real ones.
"""

from __future__ import annotations

import json
import shutil

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from gateway.testing import accept_all, reject_all, visit_as, withdraw

from .support import DEFAULT_CONFIG_DIR, Shop

PLACEHOLDER = "[data-tag-gateway-embed]"
MEDIA_TEXT = "This content is from Canvas & Co. Video and needs Marketing consent."

# Scripts that log into window.log, in document order: an inline analytics one, an external marketing
# one (it sets window.extRan), an inline marketing one after it that says whether the external one had
# run, a necessary one, one of a category the config does not know; an embed and a javascript: embed.
TEST_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Blocking test</title>
<script>window.log = [];</script>
<script src="/container.js" async></script></head>
<body><main>
<h1>Blocking test</h1>
<script type="text/plain" data-consent="analytics" data-note="kept">log.push('a1:' + document.currentScript.getAttribute('data-note'))</script>
<script type="text/plain" data-consent="marketing" src="/blocked-ext.js"></script>
<script type="text/plain" data-consent="marketing">log.push('m2:' + (window.extRan ? 'after-ext' : 'before-ext'))</script>
<script type="text/plain" data-consent="necessary">log.push('n')</script>
<script type="text/plain" data-consent="nonsense">log.push('unknown')</script>
<iframe id="video" data-consent="marketing" data-src="/embed-demo.html" data-provider="Demo Tube" title="Demo video" width="320" height="180"></iframe>
<iframe id="evil" data-consent="marketing" data-src="javascript:parent.log.push('js')" title="Evil" width="100" height="50"></iframe>
</main></body></html>"""


def serve_test_page(shop, html: str = TEST_PAGE, path: str = "/blocking-test.html") -> list[str]:
    """Serve `html` at `path` and /blocked-ext.js on the gateway's origin; returns the list of the page's
    requests to the blocked resources (the external script, the embed), appended as they are made."""
    page = shop.page
    page.route(shop.base_url + path, lambda route: route.fulfill(body=html, content_type="text/html"))
    page.route(shop.base_url + "/blocked-ext.js", lambda route: route.fulfill(
        body="window.extRan = true; log.push('ext');", content_type="text/javascript"))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url.split("/")[-1])
            if r.url.endswith(("/blocked-ext.js", "/embed-demo.html")) else None)
    return requests


def log(shop) -> list[str]:
    return shop.page.evaluate("() => window.log")


def frame_src(shop, selector: str):
    return shop.page.evaluate("s => { const f = document.querySelector(s); return f && f.getAttribute('src'); }", selector)


def test_a_site_that_did_not_turn_it_on_leaves_every_blocked_element_inert(gateway_factory, tmp_path, page, recorder):
    configs = tmp_path / "configs"
    shutil.copytree(DEFAULT_CONFIG_DIR, configs)
    site = (configs / "site.yaml").read_text()
    assert "  auto_blocking: true\n" in site
    (configs / "site.yaml").write_text(site.replace("  auto_blocking: true\n", ""))
    shop = Shop(page, gateway_factory(configs).url, recorder)
    requests = serve_test_page(shop)
    shop.open("/blocking-test.html")
    accept_all(shop.page)
    shop.page.wait_for_timeout(500)
    # Not even `necessary` markup runs, no placeholder is drawn, nothing is fetched: markup a visitor could
    # have written into the page (a review) never becomes script on a store that does not use the feature.
    assert log(shop) == [] and requests == []
    expect(shop.page.locator(PLACEHOLDER)).to_have_count(0)
    assert frame_src(shop, "#video") is None


def test_before_a_choice_only_necessary_runs_and_after_accepting_each_script_runs_once_in_order(shop):
    warnings: list[str] = []
    shop.page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    requests = serve_test_page(shop)
    shop.open("/blocking-test.html")
    expect(shop.banner).to_be_visible()
    shop.page.wait_for_function("() => window.log.length > 0")
    shop.page.wait_for_timeout(300)
    assert log(shop) == ["n"]  # necessary at once; nothing else
    assert requests == []  # neither the external script nor the embed was fetched
    expect(shop.page.locator("iframe#video")).to_have_count(0)  # a placeholder stands in its place
    expect(shop.page.locator(PLACEHOLDER)).to_have_count(1)  # the javascript: one is left alone
    assert frame_src(shop, "#evil") is None

    accept_all(shop.page)
    shop.page.wait_for_function("() => window.log.length >= 4")
    expect(shop.page.locator("iframe#video")).to_have_attribute("src", shop.base_url + "/embed-demo.html")
    shop.page.wait_for_timeout(300)
    # Document order, the external one before the inline one after it, attributes kept, each once.
    assert log(shop) == ["n", "a1:kept", "ext", "m2:after-ext"]
    assert sorted(requests) == ["blocked-ext.js", "embed-demo.html"]  # each once; which goes first is the browser's business
    expect(shop.page.frame_locator("iframe#video").locator("#embed-demo")).to_contain_text("product video")
    expect(shop.page.locator(PLACEHOLDER)).to_have_count(0)

    # Deciding again (the same, then withdrawing and granting again) never runs a script a second time.
    shop.page.evaluate("() => tagGateway.save(['analytics', 'marketing'])")
    shop.page.evaluate("() => tagGateway.save([])")
    shop.page.evaluate("() => tagGateway.save(['analytics', 'marketing'])")
    shop.page.wait_for_function("() => tagGateway.consent.action === 'custom'")
    shop.page.wait_for_timeout(300)
    assert log(shop) == ["n", "a1:kept", "ext", "m2:after-ext"]
    # The unknown category never ran, and was named once in the console however often the page synced.
    assert "unknown" not in log(shop) and "js" not in log(shop)
    assert len([w for w in warnings if 'data-consent="nonsense"' in w]) == 1, warnings
    assert len([w for w in warnings if "data-src is not an http(s) URL" in w]) == 1, warnings
    assert frame_src(shop, "#evil") is None  # a javascript: data-src is never assigned

    # The next page with the stored choice: everything allowed runs at once, once.
    requests.clear()
    shop.reload()
    shop.page.wait_for_function("() => window.log.length >= 4")
    shop.page.wait_for_timeout(300)
    # Each once, the external script before the inline one after it. Whether `necessary` ran before the others
    # depends on whether the stored choice was known when /ui.js started (then all run in document order).
    assert log(shop) in (["n", "a1:kept", "ext", "m2:after-ext"], ["a1:kept", "ext", "m2:after-ext", "n"])
    assert sorted(requests) == ["blocked-ext.js", "embed-demo.html"]


def test_rejecting_runs_and_loads_nothing_and_one_category_runs_only_its_own(shop):
    requests = serve_test_page(shop)
    shop.open("/blocking-test.html")
    reject_all(shop.page)
    shop.page.wait_for_timeout(400)
    assert log(shop) == ["n"] and requests == []
    expect(shop.page.locator(PLACEHOLDER)).to_be_visible()
    expect(shop.page.locator("iframe#video")).to_have_count(0)

    shop.page.evaluate("() => tagGateway.save(['analytics'])")
    shop.page.wait_for_function("() => window.log.length >= 2")
    shop.page.wait_for_timeout(300)
    assert log(shop) == ["n", "a1:kept"] and requests == []  # marketing's script and embed still wait
    expect(shop.page.locator(PLACEHOLDER)).to_be_visible()


def test_the_example_store_media_page_waits_for_marketing(shop):
    requests = serve_test_page(shop, path="/unused.html")  # only to count the embed's requests
    shop.open("/media.html")
    placeholder = shop.page.locator(PLACEHOLDER)
    expect(placeholder).to_contain_text(MEDIA_TEXT)
    expect(placeholder.get_by_role("button", name="Allow and load")).to_be_visible()
    box = placeholder.bounding_box()
    assert (round(box["width"]), round(box["height"])) == (560, 315)  # the iframe's box (border-box in store.css)
    status = shop.page.locator("#marketing-script-status")
    shop.page.wait_for_timeout(300)
    expect(status).to_have_text("The marketing script has not run.")
    assert requests == []

    accept_all(shop.page)
    expect(status).to_have_text("The marketing script ran after your consent.")
    expect(shop.page.frame_locator("iframe[title='Canvas Tote product video']").locator("#embed-demo")).to_be_visible()
    assert requests == ["embed-demo.html"]


def test_the_placeholder_button_works_by_keyboard_and_is_logged_as_a_choice(shop, gateway):
    requests = serve_test_page(shop, path="/unused.html")
    page = shop.page
    shop.open("/media.html")
    reject_all(page)
    # Tab through the page to the placeholder's button, as a keyboard user does.
    for _ in range(15):
        page.keyboard.press("Tab")
        focused = page.evaluate("""() => {
            const host = document.activeElement;
            const el = host && host.shadowRoot && host.shadowRoot.activeElement;
            if (!el) return null;
            const style = getComputedStyle(el);
            return {text: el.textContent, outline: style.outlineStyle, width: parseFloat(style.outlineWidth)};
        }""")
        if focused and focused["text"] == "Allow and load":
            break
    else:
        raise AssertionError("Tab never reached the placeholder's button")
    assert focused["outline"] == "solid" and focused["width"] >= 2, focused  # focus is visible
    before = page.evaluate("() => window.__e2eConsentEvents")
    page.keyboard.press("Enter")
    shop.wait_for_new_choice(before)

    consent = shop.consent()
    # Marketing added to what was allowed (nothing): a choice of the visitor's, recorded as such.
    assert consent["categories"] == ["necessary", "marketing"] and consent["action"] == "custom"
    frame = page.locator("iframe[title='Canvas Tote product video']")
    expect(frame).to_have_attribute("src", shop.base_url + "/embed-demo.html")
    expect(page.frame_locator("iframe[title='Canvas Tote product video']").locator("#embed-demo")).to_be_visible()
    assert page.evaluate("() => document.activeElement.localName") == "iframe"  # focus stays where it was
    assert requests == ["embed-demo.html"]
    expect(page.locator("#marketing-script-status")).to_have_text("The marketing script ran after your consent.")

    exported = gateway.consents("export", "--format", "jsonl")
    records = {r["consent_id"]: r for r in map(json.loads, exported.stdout.splitlines())}
    assert records[consent["id"]]["action"] == "custom"
    assert records[consent["id"]]["categories"] == ["necessary", "marketing"]


def test_the_placeholder_adds_its_category_to_what_is_allowed(shop):
    serve_test_page(shop)
    shop.open("/blocking-test.html")
    shop.page.evaluate("() => tagGateway.save(['analytics'])")
    shop.page.wait_for_function("() => window.log.length >= 2")
    shop.page.locator(PLACEHOLDER).get_by_role("button", name="Allow and load").click()
    shop.page.wait_for_function("() => tagGateway.consent.categories.indexOf('marketing') >= 0")
    assert shop.consent()["categories"] == ["necessary", "analytics", "marketing"]
    expect(shop.page.locator("iframe#video")).to_have_attribute("src", shop.base_url + "/embed-demo.html")


def test_withdrawal_puts_the_placeholder_back_and_a_new_grant_loads_again(shop):
    requests = serve_test_page(shop, path="/unused.html")
    page = shop.page
    shop.open("/media.html")
    accept_all(page)
    frame = page.locator("iframe[title='Canvas Tote product video']")
    expect(frame).to_have_attribute("src", shop.base_url + "/embed-demo.html")

    withdraw(page, keep=["analytics"])  # through the preferences, as a visitor does
    expect(page.locator(PLACEHOLDER)).to_contain_text(MEDIA_TEXT)
    expect(frame).to_have_count(0)  # the iframe is out of the page: its document is gone
    assert page.evaluate("() => document.querySelectorAll('iframe[src]').length") == 0
    # A script cannot be un-run: its effect stays until the page reloads.
    expect(page.locator("#marketing-script-status")).to_have_text("The marketing script ran after your consent.")

    page.evaluate("() => tagGateway.save(['analytics', 'marketing'])")
    expect(frame).to_have_attribute("src", shop.base_url + "/embed-demo.html")
    page.evaluate("() => tagGateway.save(['analytics'])")  # the page's own API withdraws too
    expect(page.locator(PLACEHOLDER)).to_be_visible()
    expect(frame).to_have_count(0)
    assert requests == ["embed-demo.html", "embed-demo.html"]

    shop.reload()  # the next page starts with the placeholder and no request
    # With a stored choice the dialogs are not on the page: the label comes from GET /ui.
    expect(page.locator(PLACEHOLDER)).to_contain_text(MEDIA_TEXT)
    expect(page.locator("#marketing-script-status")).to_have_text("The marketing script has not run.")
    page.wait_for_timeout(300)
    assert requests == ["embed-demo.html", "embed-demo.html"]


ADD_LATER = """([consent, id]) => {
    const s = document.createElement('script');
    s.type = 'text/plain';
    s.setAttribute('data-consent', consent);
    s.text = "log.push('later-" + id + "')";
    document.querySelector('main').appendChild(s);
    const f = document.createElement('iframe');
    f.id = 'later-' + id;
    f.title = 'Later ' + id;
    f.setAttribute('data-consent', consent);
    f.setAttribute('data-src', '/embed-demo.html?' + id);
    document.querySelector('main').appendChild(f);
}"""


def test_elements_added_later_are_handled_too(shop):
    serve_test_page(shop)
    page = shop.page
    shop.open("/blocking-test.html")
    reject_all(page)
    page.evaluate(ADD_LATER, ["marketing", "1"])
    expect(page.locator(PLACEHOLDER)).to_have_count(2)
    expect(page.locator("#later-1")).to_have_count(0)
    page.wait_for_timeout(300)
    assert log(shop) == ["n"]

    page.evaluate("() => tagGateway.save(['marketing'])")
    expect(page.locator("#later-1")).to_have_attribute("src", shop.base_url + "/embed-demo.html?1")
    page.wait_for_function("() => window.log.indexOf('later-1') >= 0")
    # Added while allowed: at once, without a placeholder.
    page.evaluate(ADD_LATER, ["marketing", "2"])
    expect(page.locator("#later-2")).to_have_attribute("src", shop.base_url + "/embed-demo.html?2")
    page.wait_for_function("() => window.log.indexOf('later-2') >= 0")
    page.wait_for_timeout(300)
    assert log(shop) == ["n", "ext", "m2:after-ext", "later-1", "later-2"]
    expect(page.locator(PLACEHOLDER)).to_have_count(0)


def test_a_store_with_a_csp_nonce_runs_its_blocked_scripts_and_not_injected_ones(shop):
    nonce = "r4nd0mN0nce"
    html = f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>CSP</title>
<meta http-equiv="Content-Security-Policy" content="script-src 'nonce-{nonce}' 'self'">
<script nonce="{nonce}">window.log = [];</script>
<script nonce="{nonce}" src="/container.js" async></script></head>
<body><main><h1>CSP</h1>
<script type="text/plain" data-consent="marketing" nonce="{nonce}">log.push('with-nonce')</script>
<script type="text/plain" data-consent="marketing">log.push('without-nonce')</script>
</main></body></html>"""
    serve_test_page(shop, html, "/csp-test.html")
    shop.open("/csp-test.html")
    accept_all(shop.page)
    shop.page.wait_for_function("() => window.log.length >= 1")
    shop.page.wait_for_timeout(300)
    assert log(shop) == ["with-nonce"]  # the CSP still refuses a script the store did not sign


def test_the_placeholder_has_no_axe_violations(shop):
    shop.open("/media.html")
    reject_all(shop.page)
    expect(shop.page.locator(PLACEHOLDER)).to_contain_text(MEDIA_TEXT)
    results = Axe().run(shop.page, context={"include": [[PLACEHOLDER]]})
    violations = results.response["violations"]
    assert results.response["passes"], "axe checked nothing"
    assert not violations, json.dumps(violations, indent=1)[:3000]
    # The whole page too, with the placeholder and once the embed loaded.
    for when in ("placeholder", "loaded"):
        if when == "loaded":
            shop.page.locator(PLACEHOLDER).get_by_role("button", name="Allow and load").click()
            expect(shop.page.frame_locator("iframe[title='Canvas Tote product video']").locator("#embed-demo")).to_be_visible()
        violations = Axe().run(shop.page).response["violations"]
        assert not violations, (when, json.dumps(violations, indent=1)[:3000])


def test_in_an_opt_out_region_embeds_follow_the_defaults_and_an_opt_out_withdraws_them(shop, context):
    visit_as(context, region="US-CA")  # marketing is sale/sharing: allowed until the visitor opts out
    page = shop.page
    shop.open("/media.html")
    assert shop.state() == "undecided"  # no choice made: the region's defaults apply, as for tags
    expect(page.locator("#marketing-script-status")).to_have_text("The marketing script ran after your consent.")
    frame = page.locator("iframe[title='Canvas Tote product video']")
    expect(frame).to_have_attribute("src", shop.base_url + "/embed-demo.html")

    page.evaluate("() => tagGateway.optOut()")  # "Do Not Sell or Share"
    expect(page.locator(PLACEHOLDER)).to_contain_text(MEDIA_TEXT)
    expect(frame).to_have_count(0)


def test_store_css_cannot_hide_or_restyle_the_placeholder(shop):
    html = TEST_PAGE.replace("</title>", """</title><style>
span, div, p, button { display: none !important; visibility: hidden !important; width: 0 !important; height: 0 !important; }
* { color: transparent !important; font-size: 1px !important; }
</style>""")
    serve_test_page(shop, html, "/hostile-css.html")
    shop.open("/hostile-css.html")
    reject_all(shop.page)
    button = shop.page.locator(PLACEHOLDER).get_by_role("button", name="Allow and load")
    expect(button).to_be_visible()
    box = shop.page.locator(PLACEHOLDER).bounding_box()
    assert (round(box["width"]), round(box["height"])) == (324, 184)  # the iframe's border box
    assert button.evaluate("b => getComputedStyle(b).color") == "rgb(255, 255, 255)"
    button.click()
    expect(shop.page.locator("iframe#video")).to_have_attribute("src", shop.base_url + "/embed-demo.html")


# Layout shifts of the page from its start (as e2e/test_layouts.py records them), with their sources.
SHIFT_OBSERVER = """
window.__shifts = [];
new PerformanceObserver(list => { for (const e of list.getEntries()) window.__shifts.push({value: e.value,
  input: e.hadRecentInput, sources: e.sources.map(s => s.node ? s.node.nodeName : null)}); })
  .observe({type: 'layout-shift', buffered: true});
"""
RECT = "el => { const r = el.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; }"


def test_the_placeholder_and_the_loaded_embed_take_the_iframes_box_and_shift_nothing(shop):
    page = shop.page
    page.add_init_script(SHIFT_OBSERVER)
    shop.open("/media.html")
    placeholder, after = page.locator(PLACEHOLDER), page.get_by_role("heading", name="Hard-coded script")
    expect(placeholder).to_contain_text(MEDIA_TEXT)
    page.wait_for_timeout(300)  # shifts are reported with the next frames
    assert page.evaluate("() => window.__shifts") == []  # the placeholder took the empty iframe's place
    held, below = placeholder.evaluate(RECT), after.evaluate(RECT)

    # Allowed without a click (a call of the page's, as a store's own consent flow would make): a shift
    # then would count, not be excused as the answer to the visitor's input.
    page.evaluate("() => tagGateway.acceptAll()")
    frame = page.locator("iframe[title='Canvas Tote product video']")
    expect(frame).to_have_attribute("src", shop.base_url + "/embed-demo.html")
    page.wait_for_timeout(300)
    assert frame.evaluate(RECT) == held and after.evaluate(RECT) == below
    assert page.evaluate("() => window.__shifts") == []

    withdraw(page)  # and back to a placeholder, in the same box
    expect(placeholder).to_contain_text(MEDIA_TEXT)
    assert placeholder.evaluate(RECT) == held and after.evaluate(RECT) == below
