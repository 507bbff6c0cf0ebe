"""`gateway serve`, `gateway validate`, `gateway consents ...`, `gateway events ...` and `gateway audit`. The only place a ConfigError or a
consent log error becomes an exit code."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime, time, timezone
from pathlib import Path

from gateway import __version__
from gateway.config import load_config
from gateway.errors import ConfigError
from gateway.secret import SecretError, load_secret

DEFAULT_CONFIG = "tag_configs"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description="Self-hosted tag manager and consent gateway.")
    parser.add_argument("--version", action="version", version=f"tag-gateway {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve /container.js and the consent endpoints",
                                description="Serve /container.js, POST/GET /consent and /healthz. Refuses to start on an "
                                            "invalid config; while running, edits are picked up and a broken edit keeps "
                                            "the last good config live.")
    serve.add_argument("--config", default=DEFAULT_CONFIG, metavar="DIR",
                       help=f"folder of *.yaml tag files (default: {DEFAULT_CONFIG}), or a root of several sites: one "
                            "sub-folder of *.yaml per site, each served at /c/<folder>.js")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    serve.add_argument("--store", metavar="DIR", help="also serve these static store pages at / (e.g. example_store)")
    serve.add_argument("--no-watch", action="store_true", help="do not reload the config when its files change")
    serve.add_argument("--workers", type=_whole_number("worker processes", 1), default=None, metavar="N",
                       help="worker processes (default: the number of CPUs this process may use)")
    serve.add_argument("--store-url", action="append", default=[], metavar="URL",
                       help="a page of the store using this gateway: warn at start if site.allowed_origins "
                            "would refuse its visitors' choices (repeatable)")
    serve.add_argument("--header-timeout", type=_whole_number("seconds", 1, 60), default=10, metavar="S",
                       help="close a connection whose request headers take longer than this (default: 10)")
    serve.add_argument("--no-access-log", action="store_true",
                       help="do not write one line per request to stderr (the access log)")

    validate = commands.add_parser("validate", help="check a config folder and print every problem",
                                   description="Check every *.yaml file in DIR (or, for a root of several sites, in "
                                               "each site's sub-folder); print FILE:LINE: key: problem for each "
                                               "mistake and exit 1, or print a summary (per site) and exit 0.")
    validate.add_argument("config", nargs="?", default=DEFAULT_CONFIG, metavar="DIR", help=f"default: {DEFAULT_CONFIG}")

    commands.add_parser("schema", help="print the JSON Schema of a config file (for an editor's YAML support)",
                        description="Print the JSON Schema every YAML file under the config folder is checked "
                                    "against, vendor templates included, for an editor: save it and point the "
                                    "YAML language server at it. `gateway validate` checks more than the schema "
                                    "can say (references between files, the law): run it before serving.")

    _add_consents(commands)
    _add_events(commands)
    _add_audit(commands)
    from gateway import email_cli

    email_cli.add_commands(commands)  # gateway email token|stats (the e-mail open pixel)
    from gateway import preview_cli

    preview_cli.add_commands(commands)  # gateway preview URL (the owner's explaining panel)
    return parser


AUDIT_HELP = """\
Crawl a store (same-site links from URL, up to N pages) in headless Chromium, three times per
region: without a choice, after refusing ("Reject all"; in opt-out regions the "Do Not Sell or
Share" link) and after "Accept all". Every third-party request is intercepted, answered locally
and decoded (nothing leaves the machine); each is judged by the rule the gateway decided for the
visit. Needs the testing extra: pip install "tag-gateway[testing]".
Exit codes: 0 clean, 1 a violation, 2 an error (no Playwright or Chromium, a bad --config, a choice
that could not be made), 3 the store is unreachable, 4 a store page without the container."""


def _add_audit(commands) -> None:
    audit = commands.add_parser("audit", help="crawl a store per region and report what leaves before/after consent",
                                description=AUDIT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    audit.add_argument("url", metavar="URL", help="a store page that includes the container, e.g. http://127.0.0.1:8000/")
    audit.add_argument("--pages", type=_positive_pages, default=5, metavar="N",
                       help="visit up to N same-site pages (default: 5)")
    audit.add_argument("--region", action="append", metavar="CODE",
                       help="visit as this region (CF-IPCountry / CF-Region-Code, e.g. DE or US-CA); repeatable; "
                            "default: no region headers, whatever the gateway decides")
    audit.add_argument("--gpc", action="store_true", help="every visit sends Global Privacy Control")
    audit.add_argument("--format", choices=("text", "json", "junit"), default="text", help="default: text")
    audit.add_argument("--config", metavar="DIR",
                       help="the store's tag_configs/ folder: name tags and judge by their categories "
                            "(default: classify by the known vendor hosts)")
    audit.add_argument("--wait", type=_non_negative_ms, default=3200, metavar="MS",
                       help="wait this long on every page for timed hits (default: 3200)")
    audit.add_argument("--allow-host", action="append", metavar="HOST", default=[],
                       help="a harmless third party (e.g. a font CDN): requests to it and its subdomains are "
                            "never a violation; repeatable")


def _whole_number(unit: str, minimum: int, maximum: int | None = None):
    """An argparse type: a whole number of `unit` in [minimum, maximum], or a one-line usage error."""
    def parse(text: str) -> int:
        if not text.isdigit() or int(text) < minimum or (maximum is not None and int(text) > maximum):
            bounds = f", {minimum} to {maximum}" if maximum is not None else f", {minimum} or more" if minimum else ""
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of {unit}{bounds}")
        return int(text)
    return parse


_positive_pages, _non_negative_ms = _whole_number("pages", 1), _whole_number("milliseconds", 0)
_positive, _non_negative = _whole_number("days", 1), _whole_number("days", 0)


CONSENTS_HELP = """\
The consent log: every decision the gateway acknowledged, in a hash chain.
Reads DATABASE_URL (a SQLAlchemy URL; postgres:// and postgresql:// work as hosting
platforms hand them out; default: the SQLite file tag-gateway.sqlite3 in the working
directory). Exit codes: 0 done, 1 verify found a broken chain, 2 an error (one line on stderr)."""

RETENTION_HELP = """\
Delete the records decided more than DAYS days ago (default {days}, i.e. 3 years: a
choice lasts at most 13 months, and a record must outlive it long enough to answer a
regulator or a claim, while keeping personal data no longer than needed). The chain
stays verifiable: the last deleted record's hash becomes its anchor. Refuses to purge
a chain that does not verify."""


SITE_FILTER_HELP = ("only the records of this site: its folder name in a root of several sites, else its site.id, "
                    "else 'default'")


def _add_consents(commands) -> None:
    from gateway.store import DEFAULT_RETENTION_DAYS

    consents = commands.add_parser("consents", help="read, verify, purge and erase the consent log",
                                   description=CONSENTS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = consents.add_subparsers(dest="consents_command", required=True, metavar="ACTION")

    export = actions.add_parser("export", help="every record, oldest first, to stdout",
                                description="Write every field of every record to stdout, oldest first. Banner texts "
                                            "are resolved: each row has the exact texts shown (banner_texts) and their "
                                            "hash (banner_texts_hash). CSV: categories space-separated, texts as JSON.")
    export.add_argument("--since", type=_since, metavar="DATE",
                        help="only records decided at or after DATE (YYYY-MM-DD or an ISO time; UTC unless it says)")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl", help="default: jsonl")
    export.add_argument("--site", metavar="NAME", help=SITE_FILTER_HELP)

    show = actions.add_parser("show", help="every record of one consent id, readable",
                              description="Print every record of consent id ID (the id a visitor sees in the "
                                          "preferences dialog), with the site and the banner texts they were shown.")
    show.add_argument("id", metavar="ID")

    stats = actions.add_parser("stats", help="decisions and opt-in rate per category per day",
                               description="Print a table per site of decisions and opt-in rates per category per "
                                           "day (UTC): the share of decisions that offered a category and left it "
                                           "allowed.")
    stats.add_argument("--days", type=_positive, default=30, metavar="N", help="the last N days, today included "
                                                                               "(default: 30)")
    stats.add_argument("--site", metavar="NAME", help=SITE_FILTER_HELP)

    purge = actions.add_parser("purge", help=f"delete records older than DAYS (default {DEFAULT_RETENTION_DAYS})",
                               description=RETENTION_HELP.format(days=DEFAULT_RETENTION_DAYS),
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    purge.add_argument("--older-than", type=_non_negative, default=DEFAULT_RETENTION_DAYS, metavar="DAYS",
                       help=f"retention in days (default: {DEFAULT_RETENTION_DAYS})")

    erase = actions.add_parser("erase", help="erase one consent id's IP prefix and user agent",
                               description="Answer a data subject's erasure request: remove the IP prefix and user "
                                           "agent of every record of consent id ID. The records stay (marked erased) "
                                           "as proof of the choice, and the chain still verifies.")
    erase.add_argument("id", metavar="ID")

    actions.add_parser("verify", help="check the hash chain; exit 1 naming the first broken record",
                       description="Walk the chain from its start (or purge anchor) to its head. Exit 0 and print the "
                                   "head hash when intact (keep that hash elsewhere: it pins every record up to now); "
                                   "exit 1 naming the first record that was edited, deleted or inserted.")


def _add_events(commands) -> None:
    events = commands.add_parser("events", help="server-side events: counts, and the dead letters",
                                 description="The outbox of server-side events (tags with server_side), in the "
                                             "consent log's database (DATABASE_URL).")
    actions = events.add_subparsers(dest="events_command", required=True, metavar="ACTION")
    stats = actions.add_parser("stats", help="accepted, dropped, delivered, retrying and dead, per vendor and day",
                               description="Per UTC day and vendor: events accepted, dropped (by reason: consent, "
                                           "no_credential, no_adapter), delivered, queued, retrying and dead.")
    stats.add_argument("--days", type=_positive, default=7, metavar="N", help="the last N days, today included "
                                                                              "(default: 7)")
    stats.add_argument("--site", metavar="NAME", help=SITE_FILTER_HELP)
    stats.add_argument("--json", action="store_true", help="print JSON instead of a table")
    retry = actions.add_parser("retry-dead", help="deliver the dead events again",
                               description="Make every dead event (or one vendor's) due now, with a fresh count of "
                                           "attempts; fix the cause first (a credential, a pixel id).")
    retry.add_argument("--vendor", metavar="V", help="only this vendor's (meta_pixel, tiktok_pixel, ga4)")


def _since(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD) or an ISO time") from None
    if len(text) == 10:
        moment = datetime.combine(moment.date(), time(0))
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def _report(error: ConfigError) -> None:
    for problem in error.problems:
        print(problem, file=sys.stderr)
    count = len(error.problems)
    print(f"{count} problem{'s' if count != 1 else ''} found; nothing was changed.", file=sys.stderr)


def _summary(config) -> str:
    return (f"OK ({len(config.files)} files, {len(config.tags)} tags, "
            f"categories: {', '.join(config.category_keys)})")


def cmd_schema(args: argparse.Namespace) -> int:
    from gateway.schema import load_schema

    try:
        print(json.dumps(load_schema(), indent=2, ensure_ascii=False))
        sys.stdout.flush()
    except BrokenPipeError:  # `gateway schema | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from gateway.sites import check_sites, detect_layout

    try:
        layout = detect_layout(args.config)
        if layout.single:
            config = load_config(args.config)
    except ConfigError as error:
        _report(error)
        return 1
    if layout.single:
        for warning in config.warnings:
            print(warning, file=sys.stderr)
        print(f"{args.config}: {_summary(config)}")
        return 0
    return _validate_sites(layout, check_sites(layout))


def _validate_sites(layout, results: dict) -> int:
    """Every site of a root: its OK line on stdout or its problems on stderr (paths name the site)."""
    from gateway.errors import display_path

    broken = {name: result for name, result in results.items() if isinstance(result, ConfigError)}
    for name, result in results.items():
        if name in broken:
            for problem in result.problems:
                print(problem, file=sys.stderr)
        else:
            for warning in result.warnings:
                print(warning, file=sys.stderr)
            print(f"{display_path(layout.sites[name])}: {_summary(result)}")
    if not broken:
        print(f"{display_path(layout.root)}: {len(results)} site{'s' if len(results) != 1 else ''} OK")
        return 0
    count = sum(len(error.problems) for error in broken.values())
    print(f"{count} problem{'s' if count != 1 else ''} found in {len(broken)} of {len(results)} sites "
          f"({', '.join(broken)}); nothing was changed.", file=sys.stderr)
    return 1


def cmd_serve(args: argparse.Namespace) -> int:
    from gateway.serving import server
    from gateway.sites import LiveSites

    try:
        live = LiveSites.load(args.config)  # one site, or a root of several (gateway/sites.py)
    except ConfigError as error:
        print("tag-gateway: not starting, the config has problems:", file=sys.stderr)
        _report(error)
        return 1
    try:
        load_secret()  # created here, once, before any worker exists: workers only read it
    except SecretError as error:
        print(f"tag-gateway: {error}", file=sys.stderr)
        return 1
    store = Path(args.store) if args.store else None
    if store is not None and not store.is_dir():
        print(f"tag-gateway: --store {store}: no such directory", file=sys.stderr)
        return 1
    from gateway.static_files import store_is_safe
    if store is not None and not store_is_safe(store):  # holds the secret or the consent log: says which
        return 1
    from gateway.store import ConsentLog, LogUnavailable

    try:
        consent_log = ConsentLog.open()  # DATABASE_URL, else ./tag-gateway.sqlite3; creates or migrates the schema
    except LogUnavailable as error:
        print(f"tag-gateway: not starting, the consent log is unavailable: {error}", file=sys.stderr)
        return 1
    log_url = consent_log.url
    consent_log.close()  # each worker opens its own: connections must not cross a fork
    workers = args.workers or server.default_workers()
    base = f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '::') else args.host}:{args.port}"
    for name, site in live.all():
        size = len(site.current.container.gzipped)
        label, path = ("", "/container.js") if name is None else (f"site {name}: ", f"/c/{name}.js")
        print(f"tag-gateway: {label}{len(site.current.config.tags)} tags, container {size / 1024:.1f} KB gzipped",
              file=sys.stderr)
        print(f"tag-gateway: {label}add to your store: <script src=\"{base}{path}\" async></script>", file=sys.stderr)
    print(f"tag-gateway: consent log: {log_url}", file=sys.stderr)
    if store is not None:
        print(f"tag-gateway: example store at {base}/", file=sys.stderr)
    from gateway.serving.origin_check import origin_warnings, sites_origin_warnings

    warnings = origin_warnings(live.default.current.config.site.allowed_origins, args.store_url, args.host) \
        if live.default is not None else \
        sites_origin_warnings({n: s.current.config.site.allowed_origins for n, s in live.sites.items()},
                              args.store_url, args.host)
    for warning in warnings:
        print(f"tag-gateway: WARNING: {warning}", file=sys.stderr)
    configs = [live.default] if live.default is not None else list(live.sites.values())
    for problem in (w for site in configs for w in site.current.config.warnings):
        print(f"tag-gateway: {problem}", file=sys.stderr)
    from gateway.sites import shared_cookies

    for _, problem in shared_cookies({n: s.current.config for n, s in live.sites.items()}):
        print(f"tag-gateway: {problem}", file=sys.stderr)
    print(f"tag-gateway: {workers} worker{'s' if workers != 1 else ''} on {base}", file=sys.stderr)
    settings = server.ServeSettings(config=str(Path(args.config).resolve()), store=str(store.resolve()) if store else None,
                                    watch=not args.no_watch, access_log=not args.no_access_log)
    return server.run(settings, live, args.host, args.port, workers, header_timeout=args.header_timeout)


def _outbox(log):
    from gateway.forwarding.outbox import Outbox

    return Outbox(log.engine)  # its commit thread starts only when something is queued: none here


def cmd_events(args: argparse.Namespace) -> int:
    from gateway.forwarding import report
    from gateway.store import ConsentLog, StoreError
    from gateway.store.stats import window_start

    try:
        with ConsentLog.open(create=False) as log:
            outbox = _outbox(log)
            if args.events_command == "stats":
                start = window_start(args.days)
                entries = report.tally(outbox.counts(start, args.site), outbox.drops(report.since_day(start), args.site))
                print(report.render(entries, args.days, args.json, args.site))
                return 0
            count = outbox.retry_dead(args.vendor)
            which = f" of {args.vendor}" if args.vendor else ""
            print(f"{count} dead event{'s' if count != 1 else ''}{which} will be delivered again")
            return 0
    except StoreError as error:
        print(f"tag-gateway: {error}", file=sys.stderr)
        return 2


def cmd_consents(args: argparse.Namespace) -> int:
    from gateway.forwarding import report
    from gateway.store import ConsentLog, StoreError
    from gateway.store import export, show, stats

    try:
        with ConsentLog.open(create=False) as log:
            action = args.consents_command
            if action == "export":
                try:
                    export.write(log, sys.stdout, args.format, args.since, args.site)
                    sys.stdout.flush()
                except BrokenPipeError:  # `gateway consents export | head`
                    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                return 0
            if action == "show":
                print(show.render(args.id, log.show(args.id), log.banner_text_versions()))
                events = _outbox(log).rows(consent_id=args.id)
                if events:
                    print(report.render_for_consent(events))
                return 0
            if action == "stats":
                per_site = stats.per_site(log.records(since=stats.window_start(args.days), site=args.site))
                print(stats.report(per_site, args.days, args.site))
                return 0
            if action == "purge":
                done = log.purge(args.older_than)
                events = _outbox(log).delete_before(done.cutoff)  # the events go with the records
                print(f"purged {done.deleted} record{'s' if done.deleted != 1 else ''} decided before "
                      f"{done.cutoff:%Y-%m-%d %H:%M} UTC; the chain now starts after record {done.anchor_seq}")
                if events:
                    print(f"deleted {events} server-side event{'s' if events != 1 else ''} accepted before then")
                return 0
            if action == "erase":
                # The events hold the visitor's IP, user agent and e-mail: they go entirely, not marked.
                events = _outbox(log).delete_consent(args.id)
                if events:
                    print(f"deleted {events} server-side event{'s' if events != 1 else ''} of {args.id}")
                erased = log.erase(args.id)
                print(f"erased the IP prefix and user agent of {erased} record{'s' if erased != 1 else ''} of "
                      f"{args.id}" if erased else f"{args.id}: already erased")
                return 0
            result = log.verify()
            print(result.describe(), file=sys.stdout if result.ok else sys.stderr)
            return 0 if result.ok else 1
    except StoreError as error:
        print(f"tag-gateway: {error}", file=sys.stderr)
        return 2


def cmd_audit(args: argparse.Namespace) -> int:
    from gateway import audit

    try:
        result = audit.run_audit(args.url, pages=args.pages, regions=args.region, gpc=args.gpc,
                                 config=args.config, wait_ms=args.wait, allow_hosts=args.allow_host)
    except audit.AuditError as error:
        print(f"gateway audit: {error.message}", file=sys.stderr)
        return error.code
    print(audit.RENDERERS[args.format](result))
    if args.format != "text" and result.exit_code != 0:
        print(f"gateway audit: {len(result.violations)} violation(s), "
              f"{len(result.without_container)} page(s) without the container; exit {result.exit_code}",
              file=sys.stderr)
    return result.exit_code


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return {"serve": cmd_serve, "validate": cmd_validate, "schema": cmd_schema, "consents": cmd_consents,
            "events": cmd_events,
            "audit": cmd_audit, "email": cmd_email, "preview": cmd_preview}[args.command](args)


def cmd_email(args: argparse.Namespace) -> int:
    from gateway import email_cli

    return email_cli.run(args)


def cmd_preview(args: argparse.Namespace) -> int:
    from gateway import preview_cli

    return preview_cli.run(args)
