"""Which tag of a configuration sent a decoded event, and which hosts no tag declares.

Matching is by vendor + account id + event name, as the container compiles each tag: GA4 measurement id
and `en`; Meta pixel id and `ev`; TikTok pixel code and event (`Pageview` for a page-view tag); Google Ads
conversion id and label (conversions) or event (remarketing); Pinterest tag id and `event`; Snap pixel id
and `ev`. An `image` tag's request is recognised by
its URL (host and path): an event of vendor `image` whose params are the query string. Hosts come from the same rules as the
consent firewall (gateway.firewall.tag_hosts: each tag kind's HOSTS, image/script URLs, `hosts:`).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from gateway.config import Config, Tag, load_config
from gateway.firewall import split_rule, tag_hosts
from gateway.tags import KINDS
from gateway.vendors import VENDORS

from gateway.testing.decode import Event, Hit, RecordedRequest

VENDOR_KINDS = tuple(VENDORS)  # every vendor unit (gateway/vendors/)
_ACCOUNT_KEY = {key: vendor.account_key for key, vendor in VENDORS.items()}


def _rules(hosts) -> list[tuple[str, str]]:
    return [split_rule(h) for h in hosts if h]


def _best_match(url: str, rules: list[tuple[str, str]]) -> tuple[int, int] | None:
    """How specific the most specific of `rules` matching `url` is (path length, host length), as the
    consent firewall ranks them; None when none matches."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    target = parts.path + ("?" + parts.query if parts.query else "")
    found = [(len(path), len(h)) for h, path in rules
             if (host == h or host.endswith("." + h)) and target.startswith(path)]
    return max(found) if found else None


def _tag_event(tag: Tag) -> str | None:
    compiled = tag.compiled
    if tag.kind == "tiktok_pixel" and compiled.get("page"):
        return "Pageview"
    return compiled.get("event")


class TagMap:
    """A loaded configuration, asked which tag sent an event and whether a URL belongs to a tag."""

    def __init__(self, config: Config | None):
        self.config = config
        self.tags = [t for t in config.tags if t.enabled] if config else []
        if config is not None:
            self._host_rules = {t.id: _rules(tag_hosts(t)) for t in self.tags}
        else:  # without a configuration: every vendor the gateway knows
            self._host_rules = {kind: _rules(getattr(KINDS[kind], "HOSTS", ())) for kind in VENDOR_KINDS}

    @classmethod
    def load(cls, config: str | Path | Config | None) -> "TagMap":
        if config is None or isinstance(config, Config):
            return cls(config)
        return cls(load_config(Path(config)))

    def tag_for(self, event: Event) -> str | None:
        if event.automatic or event.vendor not in _ACCOUNT_KEY:
            return event.tag_id
        for tag in self.tags:
            if tag.kind != event.vendor or str(tag.compiled.get(_ACCOUNT_KEY[tag.kind], "")) != event.account:
                continue
            if tag.kind == "google_ads" and "send_to" in tag.compiled:
                if event.event == "conversion" and tag.compiled["send_to"].endswith("/" + (event.label or "")):
                    return tag.id
                continue
            if _tag_event(tag) == event.event:
                return tag.id
        return None

    def image_events(self, request: RecordedRequest) -> list[Event]:
        """The request as an event of the `image` tag whose URL (host and path) it was sent to, if any."""
        for tag in self.tags:
            if tag.kind != "image":
                continue
            url = urlsplit(tag.compiled["url"])
            if (url.hostname or "").lower() == request.host and url.path == request.path:
                account = f"{request.host}{request.path}"
                return [Event("image", account, "image", dict(request.params), Hit(request, request.params),
                              tag_id=tag.id)]
        return []

    def owners(self, url: str) -> list[str]:
        """Tag ids (or, without a configuration, vendor kinds) whose hosts cover this URL. As in the consent
        firewall the most specific rule decides: gtag.js?id=G-... belongs to the GA4 tags alone, although
        the Google Ads tags declare gtag.js too."""
        matches = {owner: _best_match(url, rules) for owner, rules in self._host_rules.items()}
        best = max((m for m in matches.values() if m is not None), default=None)
        return [owner for owner, match in matches.items() if best is not None and match == best]

    def is_declared(self, url: str) -> bool:
        return bool(self.owners(url))
