"""The consent firewall's rules: which URLs belong to which consent categories.

Every tag kind declares the hosts (and path prefixes) its library and beacons use (a vendor template
in its gateway/vendors/<key>/vendor.yaml); `image` and
`script` tags add their URL's host, and any tag may list more under `hosts`. Here they become
one list the container checks every outgoing request against (see consent_ui/firewall.js):

    [host, path_prefix, [indices of the tags that declare it]]   most specific first

A URL is claimed by the most specific rule it matches (a longer path beats a shorter one, then a
longer host: `www.google.com/pagead/` before `doubleclick.net`; a host also matches its subdomains) and may leave the page only if one of that rule's categories is
allowed (the categories are those of the rule's tags, whose ids also name the rule in debug
logs). Where several tags declare the very same host and path, their categories are merged:
gtag.js loads for GA4 (analytics) and for Google Ads (marketing), so the shared
`/gtag/js` rule opens with either, while `/gtag/js?id=AW-` needs marketing.
A URL no rule matches is not a tracker this configuration knows of and is left alone.
"""

from __future__ import annotations

from typing import Any

from gateway.config import Config, Tag
from gateway.tags import KINDS

def tag_hosts(tag: Tag) -> tuple[str, ...]:
    module = KINDS[tag.kind]
    declared = module.hosts(tag.compiled) if hasattr(module, "hosts") else getattr(module, "HOSTS", ())
    return tuple(h for h in (*declared, *tag.hosts) if h)


def split_rule(rule: str) -> tuple[str, str]:
    """`*.host/path` or `host/path` -> (host, path). A host always covers its subdomains: what a
    tracker serves from a subdomain is the tracker's too; `*.` only says so explicitly."""
    host, slash, path = rule.partition("/")
    return host.lower().removeprefix("*."), slash + path


def _specificity(rule: list[Any]) -> tuple[int, int]:
    host, path = rule[0], rule[1]
    return len(path), len(host)


def firewall_rules(config: Config) -> list[list[Any]]:
    """The rules for the container; tag indices count the enabled tags, as CONFIG.tags does."""
    merged: dict[tuple[str, str], list[int]] = {}
    enabled = [tag for tag in config.tags if tag.enabled]
    for index, tag in enumerate(enabled):
        for rule in tag_hosts(tag):
            merged.setdefault(split_rule(rule), []).append(index)
    rules = [[host, path, indices] for (host, path), indices in merged.items()]
    # Stable: equally specific rules keep config order.
    return sorted(rules, key=_specificity, reverse=True)
