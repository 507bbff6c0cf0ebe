"""`gateway preview URL`: print a store page's preview link (gateway/preview.py).

Registered by gateway/cli.py (`add_commands`, `run`).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from urllib.parse import urlsplit

PREVIEW_HELP = """\
Print a link to URL (a page of the store, which includes the container) that opens the preview: a
panel on the real page that lists every trigger occurrence (page views, data-layer pushes, clicks,
submits, ...) and, for each tag of that trigger type, whether it fired and if not why (category not
allowed, trigger or condition with the values compared, already fired, setup tag, delay, stopped by
the consent firewall), kept across page loads in that tab until its close button. The link carries a
token signed with the gateway's secret (TAG_GATEWAY_SECRET, or the secret file in the working
directory: run it where `gateway serve` runs) for this site only, valid for --minutes. Visitors never
load the panel's code. Exit codes: 0 printed, 2 an error (one line on stderr)."""


def add_commands(commands) -> None:
    from gateway.preview import DEFAULT_MINUTES, MAX_MINUTES

    preview = commands.add_parser("preview", help="print a link that explains on the store's page why each tag "
                                                  "fired or not", description=PREVIEW_HELP,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    preview.add_argument("url", metavar="URL", help="a store page that includes the container, e.g. "
                                                    "https://shop.example/checkout")
    preview.add_argument("--config", default="tag_configs", metavar="DIR",
                         help="the config folder `gateway serve` uses (default: tag_configs), or a root of several "
                              "sites with --site")
    preview.add_argument("--site", metavar="NAME", help="with a root of several sites: the site of URL")
    preview.add_argument("--minutes", type=_minutes(MAX_MINUTES), default=DEFAULT_MINUTES, metavar="N",
                         help=f"how long the link works (default: {DEFAULT_MINUTES}, at most {MAX_MINUTES})")


def _minutes(maximum: int):
    def parse(text: str) -> int:
        if not text.isdigit() or not 1 <= int(text) <= maximum:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of minutes from 1 to {maximum}")
        return int(text)
    return parse


def _fail(message: str) -> int:
    print(f"tag-gateway: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    from gateway.config import load_config
    from gateway.errors import ConfigError
    from gateway.preview import PreviewTokens, preview_link
    from gateway.secret import SecretError, load_existing_secret
    from gateway.sites import detect_layout

    parts = urlsplit(args.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return _fail(f"URL {args.url!r} must be a store page's http(s) address, e.g. https://shop.example/")
    try:
        layout = detect_layout(args.config)
        if layout.single:
            if args.site is not None:
                return _fail(f"--site: {args.config} is one site, not a root of several; leave --site out")
            folder, label = layout.root, ""
        else:
            if args.site is None:
                return _fail(f"{args.config} holds several sites ({', '.join(layout.sites)}): say which with --site")
            if args.site not in layout.sites:
                return _fail(f"--site {args.site!r}: {args.config} has no such site ({', '.join(layout.sites)})")
            folder, label = layout.sites[args.site], f"site {args.site}, "
        config = load_config(folder)
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return _fail(f"{args.config} has problems; fix them first (gateway validate)")
    try:
        secret = load_existing_secret()  # never a new one
    except SecretError as error:
        return _fail(str(error))
    token = PreviewTokens(secret).issue(config.site, args.minutes)
    until = datetime.fromtimestamp(time.time() + args.minutes * 60, timezone.utc)
    print(preview_link(args.url, token))
    print(f"tag-gateway: preview of {label}{config.site.name}, valid for {args.minutes} minutes (until "
          f"{until:%Y-%m-%d %H:%M} UTC); open it in the browser to test with, the panel stays in that tab",
          file=sys.stderr)
    return 0
