"""Which tag of a configuration sent a decoded event, and which hosts no tag declares.

Matching is by vendor + account id + event name, as the container compiles each tag: GA4 measurement id
and `en`; Meta pixel id and `ev`; TikTok pixel code and event (`Pageview` for a page-view tag); Google Ads
conversion id and label (conversions) or event (remarketing); Pinterest tag id and `event`; Snap pixel id
and `ev`. An `image` tag's request is recognised by
its URL (host and path): an event of vendor `image` whose params are the query string. Hosts come from the same rules as the
consent firewall (gateway.firewall.tag_hosts: each tag kind's HOSTS, image/script URLs, `hosts:`).

When several tags match (two GA4 page-view tags of one measurement id, two image tags of one URL), what
differs between them decides: the fixed (placeholder-free) values of their `params`, which the event must
carry, and a page_view trigger's `paths`, which its page must match. If that leaves one tag, it is that
tag's; if not, the event is credited to the first of them in the configuration, as before, and
`event.candidates` names them all: the recorder then refuses to answer for the others (it cannot tell
whether they fired) and its report shows the event as "first (or other)".
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from gateway import triggers
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


def _fixed_params(tag: Tag) -> dict:
    """The tag's parameters whose value is fixed in the configuration (no placeholder)."""
    params = tag.compiled.get("params")
    return {k: v for k, v in params.items() if isinstance(v, (str, int, float, bool))} if isinstance(params, dict) else {}


def _same_value(fixed, sent) -> bool:
    if isinstance(fixed, bool):
        return str(sent).lower() in (str(fixed).lower(), str(int(fixed)))
    if str(fixed) == str(sent):
        return True
    try:
        return float(fixed) == float(sent)
    except (TypeError, ValueError):
        return False


def _could_send(tag: Tag, event: Event) -> bool:
    """Whether what the configuration fixes about the tag fits the event: its fixed params, its paths."""
    if not all(k in event.params and _same_value(v, event.params[k]) for k, v in _fixed_params(tag).items()):
        return False
    paths = tag.trigger.get("paths") if tag.trigger.get("type") == "page_view" else None
    page = urlsplit(event.page).path if paths and event.page else None
    return page is None or any(re.search(triggers._glob_to_regex(p), page) for p in paths)


def _one_of(tags: list[Tag], event: Event) -> str | None:
    """Which of the matching `tags` sent `event`: the only one, or the only one that could have; else
    the first that could, with all that could noted on the event."""
    if len(tags) <= 1:
        return tags[0].id if tags else None
    could = [t for t in tags if _could_send(t, event)] or tags
    if len(could) > 1:
        event.candidates = tuple(t.id for t in could)
    return could[0].id


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
        """The id of the tag that sent `event`; None when no tag did or when several could have (then
        `event.candidates` names them)."""
        if event.automatic or event.vendor not in _ACCOUNT_KEY:
            return event.tag_id
        found = []
        for tag in self.tags:
            if tag.kind != event.vendor or str(tag.compiled.get(_ACCOUNT_KEY[tag.kind], "")) != event.account:
                continue
            if tag.kind == "google_ads" and "send_to" in tag.compiled:
                if event.event == "conversion" and tag.compiled["send_to"].endswith("/" + (event.label or "")):
                    found.append(tag)
                continue
            if _tag_event(tag) == event.event:
                found.append(tag)
        return _one_of(found, event)

    def image_events(self, request: RecordedRequest) -> list[Event]:
        """The request as an event of the `image` tag whose URL (host and path) it was sent to, if any."""
        found = []
        for tag in self.tags:
            if tag.kind != "image":
                continue
            url = urlsplit(tag.compiled["url"])
            if (url.hostname or "").lower() == request.host and url.path == request.path:
                found.append(tag)
        if not found:
            return []
        event = Event("image", f"{request.host}{request.path}", "image", dict(request.params), Hit(request, request.params))
        event.tag_id = _one_of(found, event)
        return [event]

    def owners(self, url: str) -> list[str]:
        """Tag ids (or, without a configuration, vendor kinds) whose hosts cover this URL. As in the consent
        firewall the most specific rule decides: gtag.js?id=G-... belongs to the GA4 tags alone, although
        the Google Ads tags declare gtag.js too."""
        matches = {owner: _best_match(url, rules) for owner, rules in self._host_rules.items()}
        best = max((m for m in matches.values() if m is not None), default=None)
        return [owner for owner, match in matches.items() if best is not None and match == best]

    def is_declared(self, url: str) -> bool:
        return bool(self.owners(url))
