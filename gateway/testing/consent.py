"""Consent helpers for any Playwright page of a store that includes the container.

The choices are made as a visitor makes them: through the banner's accessible roles (the dialog and
button names are the configuration's banner texts; pass `config=` when the store changed them). The
helpers read the language the dialogs are shown in (their `lang`), and use that language's texts: the
configuration's, or without `config=` the bundled ones (English, German, French, Spanish, Italian, Dutch). Each helper returns once the container recorded the new choice
(`tagGateway.state === 'decided'` after a `tag-gateway:consent` event).

Visiting as a region or with Global Privacy Control is a property of the browser context:
`visit_as(context, region="US-CA", gpc=True)` (or `context_options(...)` for `browser.new_context`).
The region headers (CF-IPCountry / CF-Region-Code) only count when the gateway trusts the test's peer
(`site.trusted_proxies`, loopback by default): a local or staging gateway, not production behind a CDN.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Iterable
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, Page

from gateway import i18n
from gateway.config import DEFAULT_BANNER, Config, load_config
from gateway.consent import COOKIE_NAME

GPC_INIT_SCRIPT = (
    "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: function () { return true; }});"
)

_COUNT_CHOICES = """() => {
  if (window.__tgKitChoices === undefined) {
    window.__tgKitChoices = 0;
    window.addEventListener('tag-gateway:consent', function () { window.__tgKitChoices += 1; });
  }
  return window.__tgKitChoices;
}"""
_NEW_CHOICE = "n => window.__tgKitChoices > n && window.tagGateway.state === 'decided'"


def region_headers(region: str) -> dict[str, str]:
    """'US-CA' -> {'CF-IPCountry': 'US', 'CF-Region-Code': 'CA'}; 'DE' -> {'CF-IPCountry': 'DE'}."""
    country, _, subdivision = region.upper().partition("-")
    headers = {"CF-IPCountry": country}
    if subdivision:
        headers["CF-Region-Code"] = subdivision
    return headers


def context_options(region: str | None = None, gpc: bool = False) -> dict:
    """Options for `browser.new_context(**...)` (or pytest-playwright's `browser_context_args`).
    GPC also needs `navigator.globalPrivacyControl`: add GPC_INIT_SCRIPT, or use visit_as()."""
    headers = region_headers(region) if region else {}
    if gpc:
        headers["Sec-GPC"] = "1"
    return {"extra_http_headers": headers} if headers else {}


def visit_as(context: BrowserContext, region: str | None = None, gpc: bool = False) -> BrowserContext:
    """Make every later request of this context come from `region` and/or carry Global Privacy Control."""
    headers = context_options(region, gpc).get("extra_http_headers")
    if headers:
        context.set_extra_http_headers(headers)
    if gpc:
        context.add_init_script(GPC_INIT_SCRIPT)
    return context


class Texts:
    """The banner's accessible names in `language` (default: the site's own default language), from a
    configuration (tag_configs/ folder or Config) or, without one, the bundled texts of that language."""

    def __init__(self, config: str | Path | Config | None = None, language: str | None = None):
        if config is not None and not isinstance(config, Config):
            config = load_config(Path(config))
        if config is not None:
            shown = config.offered(language) if language else config.language
            self.banner = {**config.banner, **config.texts.get(shown, {})}
            self.labels = {c.key: c.in_language(shown).label for c in config.categories}
        else:
            base = i18n.bundled_base(language or "en")
            self.banner = {**DEFAULT_BANNER, **(i18n.bundled(base)["banner"] if base else {})}
            self.labels = {}


# The language of the dialogs on the page (server-rendered with their `lang`; open shadow roots are
# searched by Playwright's CSS locators).
def _texts(page: Page, config: str | Path | Config | None, dialog: str) -> Texts:
    section = page.locator(dialog).first
    section.wait_for(state="visible")
    return Texts(config, section.get_attribute("lang"))


def wait_ready(page: Page, timeout_ms: float | None = None) -> None:
    """Wait until the container ran and finished checking a stored choice."""
    page.wait_for_function(
        "() => window.tagGateway && window.tagGateway.state && window.tagGateway.state !== 'loading'",
        timeout=timeout_ms,
    )


def _choose_with(page: Page, act) -> dict:
    wait_ready(page)
    before = page.evaluate(_COUNT_CHOICES)
    act()
    page.wait_for_function(_NEW_CHOICE, arg=before)
    return page.evaluate("() => window.tagGateway.consent")


def _button(dialog, name: str):
    return dialog.get_by_role("button", name=name, exact=True)


def accept_all(page: Page, config: str | Path | Config | None = None) -> dict:
    """Click the banner's "Accept all"; returns the stored choice (`tagGateway.consent`)."""
    wait_ready(page)
    texts = _texts(page, config, ".tg-banner")
    banner = page.get_by_role("dialog", name=texts.banner["title"])
    return _choose_with(page, lambda: _button(banner, texts.banner["accept_all"]).click())


def reject_all(page: Page, config: str | Path | Config | None = None) -> dict:
    """Click the banner's "Reject all"; returns the stored choice."""
    wait_ready(page)
    texts = _texts(page, config, ".tg-banner")
    banner = page.get_by_role("dialog", name=texts.banner["title"])
    return _choose_with(page, lambda: _button(banner, texts.banner["reject_all"]).click())


def _save_preferences(page: Page, config, categories: Iterable[str] | None) -> None:
    texts = _texts(page, config, ".tg-prefs")
    dialog = page.get_by_role("dialog", name=texts.banner["preferences_title"])
    dialog.wait_for(state="visible")
    wanted = set(categories or ())
    if categories is not None:
        for category in wanted:
            if category in texts.labels:  # by its label, as a visitor finds it
                box = dialog.get_by_role("checkbox", name=texts.labels[category], exact=True)
            else:  # no config given: labels are the store's own words, the key is what the test knows
                box = dialog.locator(f'input[type=checkbox][data-category="{category}"]')
            box.set_checked(True)
    boxes = dialog.locator("input[type=checkbox][data-category]")
    for i in range(boxes.count()):
        box = boxes.nth(i)
        if not box.is_disabled() and box.get_attribute("data-category") not in wanted:
            box.set_checked(False)  # `necessary` is disabled: always on
    _button(dialog, texts.banner["save"]).click()


def choose(page: Page, categories: Iterable[str], config: str | Path | Config | None = None) -> dict:
    """Allow exactly these categories (keys, e.g. ["analytics"]) through the banner's "Customize"; on a
    page where a choice was already made, through the preferences (as "Privacy settings" opens them)."""
    wanted = list(categories)

    def act() -> None:
        if page.evaluate("() => window.tagGateway.state") == "decided":
            page.evaluate("() => window.tagGateway.showPreferences()")
        else:
            texts = _texts(page, config, ".tg-banner")
            banner = page.get_by_role("dialog", name=texts.banner["title"])
            _button(banner, texts.banner["customize"]).click()
        _save_preferences(page, config, wanted)

    return _choose_with(page, act)


def withdraw(page: Page, config: str | Path | Config | None = None, keep: Iterable[str] | None = None) -> dict:
    """Withdraw every optional category (but those in `keep`, e.g. ["analytics"]) on a page where a choice
    was made: open the preferences (as the "Privacy settings" button does), switch them off, save."""
    kept = None if keep is None else list(keep)

    def act() -> None:
        page.evaluate("() => window.tagGateway.showPreferences()")
        _save_preferences(page, config, kept)

    return _choose_with(page, act)


# A store's own footer link (CPRA: "Do Not Sell or Share My Personal Information" or "Your Privacy Choices").
STORE_OPT_OUT_NAME = re.compile(r"do not sell or share|your privacy choices", re.I)


def opt_out(page: Page, sale: Iterable[str] | None = None, timeout_ms: float = 10_000) -> tuple[dict, str]:
    """Opt out of sale/sharing as a visitor in an opt-out region does; returns (tagGateway.consent, how).

    Uses, in this order, what is visible: the store's own "Do Not Sell or Share" / "Your Privacy Choices"
    link or button; the gateway notice's "Do Not Sell or Share" link; the notice's "Your Privacy Choices"
    link (`opt_out_link: privacy_choices`); else `tagGateway.optOut()`. A link that opens the preferences
    is answered there: the `sale` categories (the gateway's `sale` in GET /consent; default: every
    optional one) switched off, saved. `how` says which one was used.
    """
    wait_ready(page)
    before = page.evaluate(_COUNT_CHOICES)
    refused = None if sale is None else set(sale)
    store = page.locator("a:not([data-tg]), button:not([data-tg])").filter(has_text=STORE_OPT_OUT_NAME)
    ways = [
        (store, "the store's own opt-out link"),
        (page.locator(".tg-notice [data-tg=optout]"), 'the notice\'s "Do Not Sell or Share" link'),
        (page.locator(".tg-notice [data-tg=settings]"), 'the notice\'s "Your Privacy Choices" link'),
    ]
    how = "tagGateway.optOut() (no opt-out link on the page)"
    for control, name in ways:
        visible = [control.nth(i) for i in range(control.count()) if control.nth(i).is_visible()]
        if visible:
            visible[0].click()
            how = name
            break
    else:
        page.evaluate("() => { tagGateway.optOut(); }")
    deadline = time.monotonic() + timeout_ms / 1000
    while not page.evaluate(_NEW_CHOICE, before):
        save = page.locator(".tg-prefs [data-tg=save]")
        if save.count() and save.first.is_visible():  # a "Your Privacy Choices" link opened the preferences
            _refuse_and_save(page, refused)
            how += ", sale/sharing switched off in the preferences"
            page.wait_for_function(_NEW_CHOICE, arg=before, timeout=timeout_ms)
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"opting out with {how} recorded no choice within {timeout_ms / 1000:.0f} s")
        page.wait_for_timeout(50)
    return page.evaluate("() => window.tagGateway.consent"), how


def _refuse_and_save(page: Page, refused: set[str] | None) -> None:
    dialog = page.locator(".tg-prefs")
    boxes = dialog.locator("input[type=checkbox][data-category]")
    for i in range(boxes.count()):
        box = boxes.nth(i)
        if not box.is_disabled() and (refused is None or box.get_attribute("data-category") in refused):
            box.set_checked(False)
    dialog.locator("[data-tg=save]").click()


def earlier_choice(context: BrowserContext, store_url: str, categories: Iterable[str], *,
                   gateway_url: str | None = None, secret: str | None = None, days_ago: float = 0,
                   config: str | Path | Config | None = None) -> str:
    """Give this context a choice made on an earlier visit (the consent cookie: `tg_consent`, or the
    `site.cookie_name` of `config` when given); returns the token.

    Without `secret` the gateway signs it, as it signs a visitor's (POST /consent from the store's
    origin; `gateway_url` defaults to `store_url`). With the gateway's `secret` (TAG_GATEWAY_SECRET) and
    `config` (its tag_configs/), the token is made here, `days_ago` days old: an expired choice for
    `days_ago` beyond the configured lifetime. A token made here is not in the consent log.
    """
    wanted = ["necessary", *[c for c in categories if c != "necessary"]]
    if config is not None and not isinstance(config, Config):
        config = load_config(Path(config))
    if secret is None:
        if days_ago:
            raise ValueError("a choice from the past needs the gateway's secret (and its config)")
        parts = urlsplit(store_url)
        origin = f"{parts.scheme}://{parts.netloc}"
        answer = context.request.post((gateway_url or store_url).rstrip("/") + "/consent",
                                      data={"categories": wanted, "action": "custom"},
                                      headers={"Origin": origin, "Content-Type": "application/json"})
        if not answer.ok:
            raise RuntimeError(f"POST /consent answered {answer.status}: {answer.text()}")
        token = answer.json()["token"]
    else:
        from gateway.consent import ConsentSigner

        if config is None:
            raise ValueError("pass config= (the gateway's tag_configs/): a token records the categories offered")
        signer = ConsentSigner(secret)
        now = signer._signer.get_timestamp  # itsdangerous' clock, moved back by days_ago for this token
        signer._signer.get_timestamp = lambda: int(now() - days_ago * 86400)
        token = signer.issue(tuple(c for c in config.category_keys if c in wanted), config.site.policy_version,
                             offered=config.category_keys, site=config.site)[0]
    name = config.site.cookie_name if config is not None else COOKIE_NAME
    context.add_cookies([{"name": name, "value": token, "url": store_url}])
    return token
