"""The container's trace in a store's tests: why each tag fired or not, without the preview panel.

``trace_tags(context)`` turns the trace on for every page of a Playwright context (an empty
``tg_preview`` in the tab's sessionStorage: the container records, and loads no preview.js);
``trace(page)`` returns what the container recorded on the current page, as plain dicts:

* ``{"kind": "occurrence", "n": 1, "type": "page_view", "name": "page_view", "path": "/", "url": ...}``
* ``{"kind": "fired", "n": 1, "tag": "ga4"}``
* ``{"kind": "skipped", "n": 1, "tag": "meta-pageview", "why": "consent", "what": "marketing"}``; ``why`` is
  ``consent`` (``what``: the category), ``trigger``, ``setup`` (``what``: the setup tag), ``delay``, or a rule's
  own text: ``condition false: "/cart" pre "/checkout"``, ``blocked by: ...``, ``already fired for this key``
* ``{"kind": "stopped", "how": "img", "url": ..., "tags": [2]}``: the consent firewall stopped a request
  (``tags``: indices of the enabled tags in config order; ``trace(page, config="tag_configs")`` names them)

``n`` numbers the occurrences of the page; a held occurrence gets ``skipped`` (consent) first and, once the
visitor allows the category, ``fired``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

TRACE_INIT_SCRIPT = """
try { if (window.sessionStorage.getItem('tg_preview') === null) window.sessionStorage.setItem('tg_preview', ''); }
catch (e) { /* about:blank, or storage off */ }
"""

_READ = """() => {
  var api = window.tagGateway, t = api && typeof api.trace === 'function' && api.trace(), seen = [];
  if (!t) return null;
  function text(v) { return v == null || v === false ? null : String(v); }
  return [].map.call(t, function (e) {
    if (typeof e[0] === 'string') return {kind: 'stopped', how: e[0], url: e[1], tags: [].slice.call(e[2] || [])};
    var o = e[0], n = seen.indexOf(o);
    if (n < 0) { seen.push(o); n = seen.length - 1; }
    if (e.length === 1) return {kind: 'occurrence', n: n + 1, type: o.type, name: text(o.name),
                                path: o.page && o.page.path, url: o.page && o.page.url};
    if (e.length === 2) return {kind: 'fired', n: n + 1, tag: e[1].id};
    return {kind: 'skipped', n: n + 1, tag: e[1].id, why: text(e[2]), what: text(e[3])};
  });
}"""


def trace_tags(context) -> None:
    """Record the trace on every page this Playwright context opens from now on."""
    context.add_init_script(TRACE_INIT_SCRIPT)


def trace(page, config: str | Path | None = None) -> list[dict[str, Any]]:
    """The current page's trace as plain dicts (see the module); [] before the container ran. With `config`
    (the tag_configs/ folder), a stopped request's `tags` are tag ids instead of indices."""
    entries = page.evaluate(_READ)
    if entries is None:
        raise AssertionError("the container records no trace on this page: call trace_tags(context) before opening "
                             "it, or open it with a preview link (gateway preview)")
    if config is not None:
        from gateway.config import load_config

        ids = [tag.id for tag in load_config(config).tags if tag.enabled]
        for entry in entries:
            if entry["kind"] == "stopped":
                entry["tags"] = [ids[i] if 0 <= i < len(ids) else i for i in entry["tags"]]
    return entries
