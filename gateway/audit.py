"""`gateway audit URL`: crawl a store in headless Chromium per region and judge what leaves its pages.

For every region asked for (none: whatever the gateway decides for this machine) the audit crawls the same
same-site pages three times, each in a fresh browser context: without a choice, after a refusal ("Reject
all" in opt-in regions; in opt-out regions the kit's opt_out(): the store's own "Do Not Sell or Share" /
"Your Privacy Choices" link, else the notice's link, else `tagGateway.optOut()`, noted in the report) and
after "Accept all". It uses the testing kit: the kit's Chromium (every host but the store's and the
gateway's resolves to NOTFOUND), the kit's recorder (every third-party request is intercepted, answered
locally by the vendor stand-ins and decoded; nothing leaves the machine) and the kit's consent helpers.

What counts as a violation follows the rule the gateway decided (its GET /consent answer, `region.rule`):
  opt_in:  any third-party request before a choice or after "Reject all" (tags of `necessary` excepted
           with --config);
  opt_out: any request of a sale/sharing category after the opt-out link, or with --gpc before a choice
           (tags with `after_opt_out: restricted` excepted with --config; without it, events that carry
           the vendor's restricted-mode signal, Meta LDU `dpo` or Google `rdp`).
Without --config requests are classified by the kit's known vendor hosts (Google Analytics: analytics;
Google Ads, Meta, TikTok and any unknown host: sale/sharing); with --config by the store's tag ids and
categories, and a host no tag declares is an unknown third party (always counted). Hosts given with
--allow-host (a font CDN, the store's image CDN) and their subdomains are harmless: never a violation.

Playwright is imported only inside run_audit(): this module's reports work without the testing extra.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit
from xml.sax.saxutils import escape, quoteattr

EXIT_CLEAN = 0
EXIT_VIOLATIONS = 1
EXIT_ERROR = 2          # Playwright or Chromium missing, a bad --config, the audit could not make a choice
EXIT_UNREACHABLE = 3    # the store's URL did not answer (or answered an error)
EXIT_NO_CONTAINER = 4   # a store page does not include the container (and nothing worse was found)

PHASES = ("no_choice", "reject", "accept")
PHASE_TITLES = {"no_choice": "without a choice", "reject": "after refusing", "accept": "after Accept all"}
OPT_IN, OPT_OUT = "opt_in", "opt_out"

# Without --config: which vendor kinds share or sell personal data (ga4 is analytics).
SALE_VENDORS = {"google_ads", "meta_pixel", "tiktok_pixel"}
SKIPPED_LINKS = re.compile(r"\.(css|js|mjs|png|jpe?g|gif|svg|webp|ico|pdf|zip|xml|json|txt|woff2?|mp4|mp3)$", re.I)
CONTAINER_SRC = re.compile(r"<script[^>]+src=[\"']([^\"']*container\.js[^\"']*)[\"']", re.I)
DEFAULT_WAIT_MS = 3200  # past the stand-ins' automatic hits (GA4 scroll 2.5 s, TikTok Metadata 1 s)


class AuditError(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Violation:
    page: str
    phase: str
    region: str          # as asked ("-": no region headers)
    decided: str         # the gateway's region code and rule, e.g. "DE (opt_in)"
    method: str
    url: str
    vendor: str          # decoded vendor kind, or "unknown"
    event: str           # decoded event name ("" for libraries and unknown requests)
    tag: str             # tag id (with --config) or owners, "" if none
    why: str


@dataclass
class PhaseResult:
    region: str
    phase: str
    code: str | None = None      # the region the gateway decided
    rule: str | None = None
    pages: list[str] = field(default_factory=list)
    requests: int = 0
    violations: list[Violation] = field(default_factory=list)
    fired: list[dict[str, Any]] = field(default_factory=list)       # accept: decoded events
    cookies: list[dict[str, str]] = field(default_factory=list)     # no_choice: written before a choice
    storage: list[dict[str, str]] = field(default_factory=list)     # no_choice: localStorage/sessionStorage keys
    notes: list[str] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)                # requests to --allow-host hosts

    @property
    def name(self) -> str:
        return f"{self.region}: {PHASE_TITLES[self.phase]}"


@dataclass
class AuditResult:
    url: str
    gpc: bool
    pages_asked: int
    allow_hosts: list[str] = field(default_factory=list)
    phases: list[PhaseResult] = field(default_factory=list)
    without_container: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def violations(self) -> list[Violation]:
        return [v for p in self.phases for v in p.violations]

    @property
    def exit_code(self) -> int:
        if self.violations:
            return EXIT_VIOLATIONS
        if self.errors:
            return EXIT_ERROR
        if self.without_container:
            return EXIT_NO_CONTAINER
        return EXIT_CLEAN

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "gpc": self.gpc, "pages": self.pages_asked, "allow_hosts": self.allow_hosts,
                "exit_code": self.exit_code,
                "violations": [asdict(v) for v in self.violations],
                "pages_without_container": self.without_container, "errors": self.errors,
                "phases": [{**asdict(p), "name": p.name} for p in self.phases]}


# ----------------------------------------------------------------------------------------- reachability


def fetch(url: str, timeout: float = 10.0) -> str:
    """The start page's HTML; AuditError(EXIT_UNREACHABLE) when it does not answer or answers an error."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise AuditError(EXIT_ERROR, f"{url}: not an http(s) URL")
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"User-Agent": "tag-gateway-audit"}),
                                    timeout=timeout) as response:
            return response.read(2_000_000).decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        raise AuditError(EXIT_UNREACHABLE, f"store unreachable: {url} answered HTTP {error.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise AuditError(EXIT_UNREACHABLE, f"store unreachable: {url}: {reason}") from None


def _strip_fragment(url: str) -> str:
    """The URL without its fragment; `/dir/index.html` is `/dir/` (the same page)."""
    parts = urlsplit(url)
    path = parts.path or "/"
    if path.endswith("/index.html"):
        path = path[: -len("index.html")]
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def allowed_host(host: str, allow_hosts) -> bool:
    """`fonts.example.com` allows itself and its subdomains (as the firewall's host rules do)."""
    host = host.lower()
    return any(host == h or host.endswith("." + h) for h in allow_hosts)


def _same_site(url: str, start: str) -> bool:
    a, b = urlsplit(url), urlsplit(start)
    return a.scheme in ("http", "https") and a.netloc == b.netloc and not SKIPPED_LINKS.search(a.path)


# ----------------------------------------------------------------------------------------- classification


class Classifier:
    """Which tags (or vendor kinds) a request belongs to, and whether they are sale/sharing."""

    def __init__(self, tag_map, config):
        self.tag_map = tag_map
        self.config = config
        self.tags = {t.id: t for t in tag_map.tags}
        self.sale = set(config.sale_categories) if config is not None else set()

    def owners(self, request, events) -> list[str]:
        if self.config is not None:
            named = [e.tag_id for e in events if e.tag_id]
            if named:
                return sorted(set(named))
        elif events:
            return sorted({e.vendor for e in events})
        owners = self.tag_map.owners(request.url)
        gtag_id = request.params.get("id", "") if request.path == "/gtag/js" else ""
        if gtag_id and owners:  # gtag.js serves GA4 and Google Ads: the id says which
            kind = "ga4" if gtag_id.startswith("G-") else "google_ads" if gtag_id.startswith("AW-") else None
            if self.config is None:
                owners = [o for o in owners if o == kind] or owners
            else:
                owners = [o for o in owners if self.tags[o].kind == kind] or owners
        return owners

    def is_sale(self, owners: list[str]) -> bool:
        if not owners:
            return True  # an unknown third party counts as sale/sharing
        if self.config is None:
            return any(o in SALE_VENDORS for o in owners) and all(o in SALE_VENDORS for o in owners)
        return all(self.tags[o].category in self.sale for o in owners)

    def is_necessary(self, owners: list[str]) -> bool:
        return self.config is not None and bool(owners) and all(self.tags[o].category == "necessary" for o in owners)

    def is_restricted(self, owners: list[str], events) -> bool:
        if self.config is not None:
            return bool(owners) and all(self.tags[o].restricted for o in owners)
        return bool(events) and all("dpo" in e.signals or e.signals.get("rdp") == "1" for e in events)


def judge(rule: str, phase: str, gpc: bool, classifier: Classifier, request, events) -> str | None:
    """Why this request is a violation under `rule` in `phase` (None: it is not)."""
    owners = classifier.owners(request, events)
    if rule == OPT_IN:
        if phase == "accept" or classifier.is_necessary(owners):
            return None
        unknown = "" if owners else " (a host no tag declares)"
        return ("third-party request before a choice" if phase == "no_choice"
                else "third-party request after Reject all") + unknown
    if phase == "accept" or (phase == "no_choice" and not gpc):
        return None
    if not classifier.is_sale(owners) or (phase == "reject" and classifier.is_restricted(owners, events)):
        return None
    return ("sale/sharing request with Global Privacy Control" if phase == "no_choice"
            else "sale/sharing request after the opt-out")


# ----------------------------------------------------------------------------------------- the crawl


def run_audit(url: str, pages: int = 5, regions: list[str] | None = None, gpc: bool = False,
              config: str | Path | None = None, wait_ms: int = DEFAULT_WAIT_MS,
              timeout_ms: int = 10_000, allow_hosts: list[str] | None = None) -> AuditResult:
    """Crawl and judge; raises AuditError for an unreachable store, a missing Playwright or Chromium."""
    allowed = sorted({h.strip().lower().strip(".") for h in (allow_hosts or []) if h.strip(". ")})
    bad = [h for h in allowed if "/" in h or ":" in h]
    if bad:
        raise AuditError(EXIT_ERROR, f"--allow-host takes a host name (e.g. fonts.example.com), not {bad[0]!r}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise AuditError(EXIT_ERROR, "gateway audit needs Playwright, which comes with the testing extra: "
                                     "pip install \"tag-gateway[testing]\"") from None
    from gateway.config import load_config
    from gateway.errors import ConfigError
    from gateway.testing.browser import CHROMIUM_ARGS, ChromiumNotFound, launch_chromium
    from gateway.testing.recorder import LOCAL_HOSTS
    from gateway.testing.tags import TagMap

    loaded = None
    if config is not None:
        try:
            loaded = load_config(Path(config))
        except ConfigError as error:
            raise AuditError(EXIT_ERROR, f"--config {config}: " + "; ".join(map(str, error.problems))) from None
    classifier = Classifier(TagMap(loaded), loaded)

    html = fetch(url)
    start = _strip_fragment(url)
    first_party = {urlsplit(start).hostname or ""}
    for src in CONTAINER_SRC.findall(html):
        first_party.add(urlsplit(urljoin(start, src)).hostname or "")
    first_party -= {""}
    remote = sorted(first_party - LOCAL_HOSTS)
    resolver = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost" + "".join(
        f", EXCLUDE {host}" for host in remote)
    assert CHROMIUM_ARGS[-1].startswith("--host-resolver-rules=")

    result = AuditResult(url=start, gpc=gpc, pages_asked=pages, allow_hosts=allowed)
    with sync_playwright() as playwright:
        try:
            browser = launch_chromium(playwright, offline=False, args=[resolver])
        except ChromiumNotFound as error:
            raise AuditError(EXIT_ERROR, str(error)) from None
        try:
            for region in (regions or [None]):
                crawl = _RegionAudit(browser, start, pages, region, gpc, loaded, classifier, first_party,
                                     wait_ms, timeout_ms, result)
                crawl.run()
        finally:
            browser.close()
    return result


class _RegionAudit:
    def __init__(self, browser, start, pages, region, gpc, config, classifier, first_party, wait_ms, timeout_ms,
                 result: AuditResult):
        self.browser, self.start, self.max_pages = browser, start, pages
        self.region, self.gpc, self.config, self.classifier = region, gpc, config, classifier
        self.first_party, self.wait_ms, self.timeout_ms, self.result = first_party, wait_ms, timeout_ms, result
        self.urls: list[str] = []
        from gateway.testing.tags import TagMap

        self.vendor_hosts = TagMap(None)  # the kit's known vendor hosts, to name a request's vendor

    def _context(self):
        from gateway.testing.browser import VIEWPORT
        from gateway.testing.consent import visit_as
        from gateway.testing.recorder import VendorRecorder

        first_party = self.first_party

        class AuditRecorder(VendorRecorder):
            def is_local(self, url: str) -> bool:  # the store's and the gateway's own hosts are not third parties
                return VendorRecorder.is_local(url) or (urlsplit(url).hostname or "") in first_party

        context = self.browser.new_context(viewport=VIEWPORT)
        recorder = AuditRecorder(config=self.config).attach(context)
        visit_as(context, region=self.region, gpc=self.gpc)
        answers: list = []
        context.on("response", lambda r: answers.append(r) if (
            r.request.method == "GET" and urlsplit(r.url).path.endswith("/consent")) else None)
        page = context.new_page()
        page.set_default_timeout(self.timeout_ms)
        return context, recorder, page, answers

    def _visit(self, page, recorder, url: str) -> bool:
        """Open `url`, wait for the container and past the vendors' automatic hits; False: no container."""
        try:
            response = page.goto(url, wait_until="load", timeout=self.timeout_ms * 2)
        except Exception as error:  # noqa: BLE001 - a page Chromium could not open
            if url == self.start:
                raise AuditError(EXIT_UNREACHABLE, f"store unreachable: {url}: {str(error).splitlines()[0]}") from None
            self.result.errors.append(f"{url}: could not open: {str(error).splitlines()[0]}")
            return False
        if response is not None and response.status >= 400 and url == self.start:
            raise AuditError(EXIT_UNREACHABLE, f"store unreachable: {url} answered HTTP {response.status}")
        has_container = True
        try:
            page.wait_for_function("() => !!(window.tagGateway && window.tagGateway.version)",
                                   timeout=min(3000, self.timeout_ms))
            page.wait_for_function("() => window.tagGateway.state !== 'loading'", timeout=self.timeout_ms)
        except Exception:  # noqa: BLE001
            has_container = False
            if url not in self.result.without_container:
                self.result.without_container.append(url)
        self._settle(page, recorder)
        return has_container

    def _settle(self, page, recorder) -> None:
        if self.wait_ms:
            page.wait_for_timeout(self.wait_ms)
        recorder.settle(page, quiet_ms=300, timeout_ms=self.timeout_ms)

    def _links(self, page) -> list[str]:
        try:
            hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
        except Exception:  # noqa: BLE001
            return []
        return [_strip_fragment(h) for h in hrefs if isinstance(h, str) and _same_site(h, self.start)]

    def _decided(self, phase: PhaseResult, answers: list) -> None:
        for response in answers:
            try:
                answer = response.json()
            except Exception:  # noqa: BLE001
                continue
            region = answer.get("region") or {}
            phase.code, phase.rule = region.get("code"), region.get("rule")
            break
        asked = self.region
        if phase.rule is None:
            phase.rule = OPT_IN
            phase.notes.append("no GET /consent answer seen; judged by the strictest rule (opt_in)")
        elif asked and (phase.code or "").upper() != asked.upper():
            phase.notes.append(
                f"asked for {asked}, but the gateway decided {phase.code or 'an unknown place'} ({phase.rule}): it "
                f"does not trust this machine's region headers (site.trusted_proxies), or maps {asked} elsewhere; "
                f"judged by the rule the gateway decided")

    def _judge(self, phase: PhaseResult, recorder, spans: list[tuple[int, int, str]]) -> None:
        from gateway.testing.decode import decode

        for first, last, page_url in spans:
            for request in recorder.requests[first:last]:
                if allowed_host(request.host, self.result.allow_hosts):
                    if request.host not in phase.allowed:
                        phase.allowed.append(request.host)
                    continue
                events = decode([request])
                for event in events:
                    event.tag_id = recorder.tag_map.tag_for(event)
                why = judge(phase.rule, phase.phase, self.gpc, self.classifier, request, events)
                if why is None:
                    continue
                owners = self.classifier.owners(request, events)
                head = events[0] if events else None
                vendor = head.vendor if head else next(iter(self.vendor_hosts.owners(request.url)), "unknown")
                phase.violations.append(Violation(
                    page=page_url, phase=phase.phase, region=self.region or "-",
                    decided=f"{phase.code or '?'} ({phase.rule})", method=request.method, url=request.url,
                    vendor=vendor, event=", ".join(e.event for e in events), tag=", ".join(owners), why=why))

    def run(self) -> None:
        for name in PHASES:
            phase = PhaseResult(region=self.region or "-", phase=name)
            self.result.phases.append(phase)
            context, recorder, page, answers = self._context()
            try:
                self._run_phase(phase, context, recorder, page, answers)
            finally:
                context.close()

    def _run_phase(self, phase: PhaseResult, context, recorder, page, answers) -> None:
        spans: list[tuple[int, int, str]] = []
        if phase.phase == "no_choice":  # discovers the pages
            queue, seen = [self.start], {self.start}
            while queue and len(self.urls) < self.max_pages:
                url = queue.pop(0)
                self.urls.append(url)
                first = len(recorder.requests)
                self._visit(page, recorder, url)
                spans.append((first, len(recorder.requests), url))
                self._storage(phase, page, url)
                for link in self._links(page):
                    if link not in seen:
                        seen.add(link)
                        queue.append(link)
            self._decided(phase, answers)
            phase.pages = list(self.urls)
            for cookie in context.cookies():
                phase.cookies.append({"name": cookie["name"], "domain": cookie["domain"],
                                      "expires": "session" if cookie.get("expires", -1) < 0 else "persistent"})
            phase.requests = len(recorder.requests)
            self._judge(phase, recorder, spans)
            return

        chosen_on = None
        for url in self.urls:
            if self._visit(page, recorder, url):
                chosen_on = url
                break
        self._decided(phase, answers)
        if chosen_on is None:
            phase.notes.append("no page with the container: no choice could be made")
            return
        try:
            self._choose(phase, page, answers)
        except Exception as error:  # noqa: BLE001
            self.result.errors.append(f"{phase.name}: could not make the choice on {chosen_on}: "
                                      f"{str(error).splitlines()[0]}")
            return
        cut = len(recorder.requests)
        self._settle(page, recorder)
        spans.append((cut, len(recorder.requests), chosen_on))
        for url in self.urls:
            first = len(recorder.requests)
            self._visit(page, recorder, url)
            spans.append((first, len(recorder.requests), url))
        phase.pages = list(self.urls)
        phase.requests = len(recorder.requests) - cut
        self._judge(phase, recorder, spans)
        if phase.phase == "accept":
            from gateway.testing.decode import decode

            for first, last, page_url in spans:
                for event in decode(recorder.requests[first:last]):
                    tag = recorder.tag_map.tag_for(event)
                    phase.fired.append({"page": page_url, "vendor": event.vendor, "tag": tag or "",
                                        "account": event.account, "event": event.event,
                                        "automatic": event.automatic, "params": _plain(event.params),
                                        "signals": event.signals})

    def _choose(self, phase: PhaseResult, page, answers: list) -> None:
        from gateway.testing import consent as kit

        config = self.config
        if phase.rule == OPT_IN:
            (kit.reject_all if phase.phase == "reject" else kit.accept_all)(page, config)
            return
        if phase.phase == "accept":  # no banner in opt-out regions: the API's "Accept all"
            kit._choose_with(page, lambda: page.evaluate("() => { tagGateway.acceptAll(); }"))
            return
        _, how = kit.opt_out(page, sale=self._sale(answers), timeout_ms=self.timeout_ms)
        phase.notes.append(f"opted out with {how}")

    @staticmethod
    def _sale(answers: list) -> list[str] | None:
        """The sale/sharing categories the gateway named in its GET /consent answer (None: not seen)."""
        for response in answers:
            try:
                sale = response.json().get("sale")
            except Exception:  # noqa: BLE001
                continue
            if isinstance(sale, list):
                return sale
        return None

    def _storage(self, phase: PhaseResult, page, url: str) -> None:
        try:
            keys = page.evaluate("() => [Object.keys(localStorage), Object.keys(sessionStorage)]")
        except Exception:  # noqa: BLE001
            return
        known = {(s["kind"], s["key"]) for s in phase.storage}
        for kind, names in zip(("localStorage", "sessionStorage"), keys):
            for key in names:
                if (kind, key) not in known:
                    phase.storage.append({"kind": kind, "key": key, "page": url})


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


# ----------------------------------------------------------------------------------------- output


def _path(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + ("?" + parts.query if parts.query else "")


def _short(url: str, limit: int = 110) -> str:
    return url if len(url) <= limit else url[: limit - 3] + "..."


def violation_line(v: Violation) -> str:
    decoded = v.vendor + (f" {v.event}" if v.event else "") + (f" [{v.tag}]" if v.tag else "")
    return (f"{_path(v.page)}  {PHASE_TITLES[v.phase]}  region {v.region} -> {v.decided}  "
            f"{v.method} {_short(v.url)}  {decoded}: {v.why}")


def render_text(result: AuditResult) -> str:
    lines = [f"gateway audit {result.url}" + (" (with Global Privacy Control)" if result.gpc else "")]
    for phase in result.phases:
        head = f"{phase.name} -> gateway decided {phase.code or '?'} ({phase.rule})"
        status = f"{len(phase.violations)} violation(s)" if phase.violations else "OK"
        lines.append(f"\n{head}: {len(phase.pages)} page(s), {phase.requests} third-party request(s): {status}")
        lines += [f"  note: {note}" for note in phase.notes]
        if phase.allowed:
            lines.append(f"  allowed hosts seen (--allow-host): {', '.join(phase.allowed)}")
        lines += [f"  VIOLATION {violation_line(v)}" for v in phase.violations]
        if phase.phase == "no_choice":
            lines += ["  " + line for line in written_before_choice(phase)]
        if phase.phase == "accept":
            lines.append(f"  fired after accepting: {len(phase.fired)} event(s)")
            for e in phase.fired:
                shown = " ".join(f"{k}={e['params'][k]!r}" for k in ("value", "currency", "transaction_id", "event_id")
                                 if e["params"].get(k) not in (None, ""))
                lines.append(f"    {_path(e['page'])}  {e['vendor']}  {e['tag'] or '-'}  {e['event']}"
                             + (" (automatic)" if e["automatic"] else "") + (f"  {shown}" if shown else ""))
    if result.without_container:
        lines.append("\nPages WITHOUT the container (add <script src=\".../container.js\" async></script>):")
        lines += [f"  {u}" for u in result.without_container]
    lines += [f"\nERROR {e}" for e in result.errors]
    count = len(result.violations)
    lines.append(f"\n{count} violation(s); exit {result.exit_code}" if count else
                 f"\nno violations; exit {result.exit_code}")
    return "\n".join(lines)


def written_before_choice(phase: PhaseResult) -> list[str]:
    """The cookies and storage keys a visit wrote before any choice, one line each kind."""
    cookies = ", ".join(f"{c['name']} ({c['domain']}, {c['expires']})" for c in phase.cookies) or "none"
    storage = ", ".join(f"{s['kind']}:{s['key']}" for s in phase.storage) or "none"
    return [f"cookies before a choice: {cookies}", f"storage keys before a choice: {storage}"]


def render_json(result: AuditResult) -> str:
    return json.dumps(result.to_dict(), indent=2)


def render_junit(result: AuditResult) -> str:
    cases = []
    for phase in result.phases:
        body = ""
        if phase.violations:
            text = "\n".join(violation_line(v) for v in phase.violations)
            body = (f"<failure message={quoteattr(f'{len(phase.violations)} request(s) against the {phase.rule} rule')} "
                    f"type=\"violation\">{escape(text)}</failure>")
        out = "\n".join(phase.notes + (written_before_choice(phase) if phase.phase == "no_choice" else [])
                        + ([f"allowed hosts seen (--allow-host): {', '.join(phase.allowed)}"] if phase.allowed else []))
        if out:
            body += f"<system-out>{escape(out)}</system-out>"
        cases.append(f"  <testcase classname={quoteattr('gateway.audit.' + phase.region)} "
                     f"name={quoteattr(phase.name)}>{body}</testcase>")
    problems = [f"no container: {u}" for u in result.without_container] + result.errors
    body = (f"<failure message={quoteattr(f'{len(problems)} problem(s)')} type=\"container\">"
            f"{escape(chr(10).join(problems))}</failure>") if problems else ""
    cases.append(f"  <testcase classname=\"gateway.audit\" name=\"every page includes the container\">{body}</testcase>")
    failures = sum(1 for p in result.phases if p.violations) + (1 if problems else 0)
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            f"<testsuites><testsuite name={quoteattr('gateway audit ' + result.url)} tests=\"{len(cases)}\" "
            f"failures=\"{failures}\" errors=\"0\">\n" + "\n".join(cases) + "\n</testsuite></testsuites>")


RENDERERS = {"text": render_text, "json": render_json, "junit": render_junit}
