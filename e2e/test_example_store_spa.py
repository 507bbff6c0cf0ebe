"""The example store's single-page help centre and its newsletter form, with the tags tag_configs/ gives them.

help.html is a small single-page app: its topics change the address with history.pushState, back/forward
come back through popstate, and #anchors move inside a topic. `ga4-virtual-pageview` (trigger
history_change) sends GA4 a page_view for each new address, with page_location / page_referrer from the
trigger's event. The home page's newsletter form is a plain GET to the same page with a required e-mail
field; `meta-newsletter-lead` (form_submit on #newsletter-form) sends Meta a Lead with the form's data-list.

Every count is exact, decoded from the vendor requests the recorder saw. GA4 page views of both GA4 page-view
tags have the same measurement id and event name, so the recorder names them all `ga4`: these tests tell
the virtual ones apart by their page_location (dl) and page_referrer (dr).
"""

from __future__ import annotations

from playwright.sync_api import expect

from gateway.testing import accept_all, reject_all
from gateway.testing.trace import trace, trace_tags

from .support import DEFAULT_CONFIG_DIR, GA4_ID, META_PIXEL_ID, Shop

LEAD = {"content_name": "monthly-newsletter", "content_category": "newsletter"}


def ga4_page_views(recorder) -> list:
    return [e for e in recorder.events() if e.vendor == "ga4" and e.event == "page_view"]


def lead_events(recorder) -> list:
    return recorder.events("meta-newsletter-lead")


def topic_link(shop: Shop, name: str):
    return shop.page.get_by_role("navigation", name="Help topics").get_by_role("link", name=name, exact=True)


def accept_and_wait_for_the_page_view(shop: Shop, recorder) -> None:
    accept_all(shop.page)
    recorder.wait_for(shop.page, lambda: ga4_page_views(recorder))
    # GA4's stand-in queues an automatic scroll event when it starts; it would share a batch (and its
    # page location) with the next page view. Past it, every page view below goes out in a batch of its own.
    recorder.wait_past_automatic_hits(shop.page)


def test_each_navigation_in_the_help_centre_is_one_virtual_page_view(shop: Shop, recorder):
    base = shop.base_url
    shop.open("/help.html")
    accept_and_wait_for_the_page_view(shop, recorder)
    [load] = ga4_page_views(recorder)
    assert (load.account, load.page) == (GA4_ID, base + "/help.html")

    expected = [base + "/help.html"]

    def navigated(how, to: str, heading: str) -> None:
        before = expected[-1]
        how()
        expected.append(base + to)
        views = recorder.wait_for(shop.page, lambda: ga4_page_views(recorder), count=len(expected))
        assert shop.page.url == base + to
        expect(shop.page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        view = views[-1]
        assert (view.account, view.page, view.hit.params["dr"]) == (GA4_ID, base + to, before), recorder.report()
        # The title the store set for that address, also on back/forward, whose popstate the store handles
        # after the container's listener (the trigger waits a task).
        assert view.hit.params["dt"] == shop.page.title(), recorder.report()

    navigated(lambda: topic_link(shop, "Returns").click(), "/help.html?topic=returns", "Returns")       # pushState
    # The store sets the title before pushState, so the page view has the new one.
    assert ga4_page_views(recorder)[-1].hit.params["dt"] == "Returns \u2013 Help \u2013 Canvas & Co."
    navigated(lambda: topic_link(shop, "Product care").click(), "/help.html?topic=care", "Product care")
    navigated(lambda: shop.page.click("#washing-link"), "/help.html?topic=care#washing", "Washing")     # #hash
    navigated(shop.page.go_back, "/help.html?topic=care", "Product care")                               # popstate
    navigated(shop.page.go_back, "/help.html?topic=returns", "Returns")
    navigated(shop.page.go_forward, "/help.html?topic=care", "Product care")
    topic_link(shop, "Product care").click()  # already there: the store pushes nothing, nothing is sent

    recorder.settle(shop.page)
    assert [v.page for v in ga4_page_views(recorder)] == expected, recorder.report()
    # No other tag reacts to the navigation: Meta's and TikTok's page views stay at the one of the load (the
    # Meta library's own PageView on pushState is off), and no form or purchase tag fired.
    recorder.assert_fired("meta-pageview", once=True)
    recorder.assert_fired("tiktok-pageview", once=True)
    assert {e.tag_id for e in recorder.events() if e.tag_id} == {"ga4", "meta-pageview", "tiktok-pageview"}
    # What no tag sent: GA4's enhanced-measurement scroll (the stand-in's timed one) and TikTok's own events.
    assert {(e.vendor, e.event) for e in recorder.events() if not e.tag_id and not e.automatic} == {("ga4", "scroll")}


def test_a_topic_opened_by_its_address_is_one_page_view_not_a_history_change(shop: Shop, recorder):
    shop.open("/help.html?topic=returns#top")
    expect(shop.page.get_by_role("heading", name="Returns", exact=True)).to_be_visible()
    accept_all(shop.page)
    recorder.assert_fired("ga4", once=True)
    assert [v.page for v in ga4_page_views(recorder)] == [shop.base_url + "/help.html?topic=returns#top"]


def test_navigation_before_a_choice_sends_nothing_then_one_page_view_each_after_accept(shop: Shop, recorder):
    trace_tags(shop.page.context)
    shop.open("/help.html")
    expect(shop.banner).to_be_visible()
    topic_link(shop, "Returns").click()
    topic_link(shop, "Product care").click()
    shop.page.click("#washing-link")
    expect(shop.page).to_have_url(shop.base_url + "/help.html?topic=care#washing")
    recorder.assert_silent()

    accept_all(shop.page)
    # The load's page view and the three held navigations, each once, each for the address and with the
    # title where it happened, though all are sent after the choice, on the last address.
    recorder.wait_for(shop.page, lambda: ga4_page_views(recorder), count=4)
    recorder.settle(shop.page)
    views = ga4_page_views(recorder)
    base = shop.base_url + "/help.html"
    assert [(v.page, v.hit.params["dr"]) for v in views] == [
        (base, ""), (base + "?topic=returns", base), (base + "?topic=care", base + "?topic=returns"),
        (base + "?topic=care#washing", base + "?topic=care")], recorder.report()
    assert [v.hit.params["dt"].split(" \u2013 ")[0] for v in views] == ["Shipping", "Returns", "Product care", "Product care"]
    recorder.assert_fired("meta-pageview", once=True)
    # The container's trace says the same.
    entries = trace(shop.page)
    urls = {e["n"]: e["url"] for e in entries if e["kind"] == "occurrence"}
    fired = [urls[e["n"]] for e in entries if e["kind"] == "fired" and e["tag"] == "ga4-virtual-pageview"]
    assert fired == [base + "?topic=returns", base + "?topic=care", base + "?topic=care#washing"]


def test_after_reject_neither_navigation_nor_the_form_sends_anything(shop: Shop, recorder):
    shop.open("/help.html")
    reject_all(shop.page)
    topic_link(shop, "Returns").click()
    topic_link(shop, "Product care").click()
    shop.page.click("#leather-link")
    shop.page.go_back()
    expect(shop.page).to_have_url(shop.base_url + "/help.html?topic=care")

    shop.open("/")
    shop.page.fill("#newsletter-email", "ada@example.com")
    shop.page.get_by_role("button", name="Subscribe").click()
    expect(shop.page.locator(".newsletter-message")).to_contain_text("Thanks for subscribing")
    recorder.assert_silent()


def test_the_newsletter_by_click_and_by_enter_each_sends_one_lead(shop: Shop, recorder):
    base, thanks = shop.base_url, shop.base_url + "/index.html?subscribed=1#newsletter"

    def page_views_sent(count: int) -> None:
        # A visitor reads before subscribing: the load's page views are out before the form is sent.
        recorder.wait_for(shop.page, lambda: ga4_page_views(recorder), count=count)
        recorder.wait_for(shop.page, lambda: recorder.events("meta-pageview"), count=count)

    shop.open("/")
    accept_all(shop.page)
    page_views_sent(1)
    shop.page.fill("#newsletter-email", "ada@example.com")
    shop.page.get_by_role("button", name="Subscribe").click()
    expect(shop.page).to_have_url(thanks)  # a GET to the same page: the static server answers it
    expect(shop.page.locator(".newsletter-message")).to_contain_text("Thanks for subscribing")
    [lead] = recorder.assert_fired("meta-newsletter-lead", once=True, **LEAD)
    assert (lead.account, lead.event, lead.page) == (META_PIXEL_ID, "Lead", base + "/")

    page_views_sent(2)
    shop.open("/")
    page_views_sent(3)
    shop.page.fill("#newsletter-email", "grace@example.com")
    shop.page.press("#newsletter-email", "Enter")
    expect(shop.page).to_have_url(thanks)
    page_views_sent(4)
    leads = recorder.assert_fired("meta-newsletter-lead", times=2, **LEAD)
    assert [e.page for e in leads] == [base + "/", base + "/"]
    # Each submit loaded a new page: a page view each, never a history change.
    assert [v.page for v in ga4_page_views(recorder)] == [base + "/", thanks, base + "/", thanks]
    # The demo form never puts the address in a URL (where every page-view tag would report it).
    assert not any("example.com" in r.url or "example.com" in (r.post_data or "") for r in recorder.requests)


def test_a_newsletter_submit_the_browser_refuses_sends_nothing(shop: Shop, recorder):
    shop.open("/")
    accept_all(shop.page)
    recorder.assert_fired("meta-pageview", once=True)
    recorder.wait_past_automatic_hits(shop.page)
    recorder.clear()

    subscribe = shop.page.get_by_role("button", name="Subscribe")
    subscribe.click()                                          # empty: the field is required
    shop.page.fill("#newsletter-email", "not-an-e-mail")
    subscribe.click()                                          # not an e-mail address
    shop.page.press("#newsletter-email", "Enter")
    assert shop.page.evaluate("() => document.getElementById('newsletter-email').validity.typeMismatch") is True
    recorder.wait_past_automatic_hits(shop.page)
    assert shop.page.url == shop.base_url + "/", "the browser's validation should have stopped the submit"
    # Nothing a tag sends (TikTok's library reports clicks on buttons by itself: not a tag's event).
    assert [e for e in recorder.events() if not e.automatic] == [], recorder.report()


def test_a_submit_before_a_choice_is_dropped_with_its_page(shop: Shop, recorder):
    shop.open("/")
    expect(shop.banner).to_be_visible()
    shop.page.fill("#newsletter-email", "ada@example.com")
    shop.page.press("#newsletter-email", "Enter")
    expect(shop.page).to_have_url(shop.base_url + "/index.html?subscribed=1#newsletter")
    shop.wait_ready()
    recorder.assert_silent()
    # The submit was held on the page it happened on; accepting on the next page sends its page view only.
    accept_all(shop.page)
    recorder.assert_fired("meta-pageview", once=True)
    recorder.assert_fired("ga4", once=True)
    assert lead_events(recorder) == [], recorder.report()


def test_the_example_config_uses_the_two_triggers_as_documented():
    from gateway.config import load_config

    tags = {t.id: t for t in load_config(DEFAULT_CONFIG_DIR).tags}
    assert (tags["ga4-virtual-pageview"].kind, tags["ga4-virtual-pageview"].trigger) == ("ga4", {"type": "history_change"})
    assert tags["meta-newsletter-lead"].trigger == {"type": "form_submit", "selector": "#newsletter-form"}
