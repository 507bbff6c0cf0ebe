"""`gateway email token` and `gateway email stats`: the e-mail open pixel from the command line.

Registered by gateway/cli.py (`add_commands`, `run`); the pixel itself is gateway/email_pixel.py.
"""

from __future__ import annotations

import argparse
import json
import sys

EMAIL_HELP = """\
The e-mail open pixel: <img src="https://<gateway>/e/<campaign>.gif?t=<token>"> in each mail.
`token` mints a recipient's token, signed with the gateway's secret (TAG_GATEWAY_SECRET, or the
secret file in the working directory: run it where `gateway serve` runs); `stats` counts the opens;
`purge` deletes whole campaigns' opens when the analysis no longer needs them.
Only the recipients who agreed to open tracking are counted, by a pseudonym (an HMAC), never by
address. Reads DATABASE_URL like `gateway consents`. Exit codes: 0 done, 2 an error (one line on stderr)."""


def add_commands(commands) -> None:
    email = commands.add_parser("email", help="the e-mail open pixel: mint tokens, count opens",
                                description=EMAIL_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = email.add_subparsers(dest="email_command", required=True, metavar="ACTION")

    token = actions.add_parser("token", help="mint one recipient's pixel token",
                               description="Print the token of one recipient of a campaign (with --base-url, the "
                                           "pixel's whole URL). Say whether the recipient agreed to open tracking: "
                                           "only their opens are counted, and the mail of one who did not carries "
                                           "no identifier of them. A recipient who agreed is registered as tracked.")
    token.add_argument("--campaign", required=True, metavar="C", help="the campaign, e.g. spring-sale-2026 "
                       "(letters, digits, '.', '_', '-'; at most 64)")
    token.add_argument("--recipient", required=True, metavar="R",
                       help="the mailer's id of the recipient (e.g. the address or a customer number); only its "
                            "HMAC is kept")
    agreed = token.add_mutually_exclusive_group(required=True)
    agreed.add_argument("--opens-allowed", dest="opens_allowed", action="store_true",
                        help="the recipient agreed to open tracking")
    agreed.add_argument("--no-opens", dest="opens_allowed", action="store_false",
                        help="the recipient did not agree: the pixel still loads, nothing is counted")
    token.add_argument("--base-url", metavar="URL", help="the gateway's address, e.g. https://tags.shop.example: "
                       "print <URL>/e/<campaign>.gif?t=<token> instead of the token")

    stats = actions.add_parser("stats", help="recipients tracked, unique and total opens per campaign",
                               description="Per campaign: recipients tracked (tokens minted for recipients who "
                                           "agreed), unique opens (of them, those who opened), total opens (reloads "
                                           "included), first and last open (UTC).")
    stats.add_argument("--campaign", metavar="C", help="only this campaign")
    stats.add_argument("--format", choices=("text", "json"), default="text", help="default: text")

    purge = actions.add_parser("purge", help="delete the opens of whole campaigns (retention)",
                               description="Delete every row of a campaign, or of every campaign quiet (no token "
                                           "minted, no open) for more than N days: keep opens no longer than the "
                                           "analysis needs them. Whole campaigns only, so the open rates of what is "
                                           "left stay true.")
    which = purge.add_mutually_exclusive_group(required=True)
    which.add_argument("--campaign", metavar="C", help="this campaign")
    which.add_argument("--older-than", dest="older_than", type=int, metavar="DAYS",
                       help="every campaign whose last token or open is more than DAYS days old")


def run(args: argparse.Namespace) -> int:
    from gateway.store import ConsentLog, StoreError

    try:
        if args.email_command == "token":
            return _token(args)
        with ConsentLog.open(create=False) as log:
            return _purge(log, args) if args.email_command == "purge" else _stats(log, args)
    except StoreError as error:
        print(f"tag-gateway: {error}", file=sys.stderr)
        return 2


def _fail(message: str) -> int:
    print(f"tag-gateway: {message}", file=sys.stderr)
    return 2


def _token(args: argparse.Namespace) -> int:
    from gateway.email_pixel import CAMPAIGN, MAX_RECIPIENT_ID, EmailTokens, pixel_path, valid_campaign
    from gateway.secret import SecretError, load_existing_secret
    from gateway.store import ConsentLog
    from gateway.store import email_opens

    if not valid_campaign(args.campaign):
        return _fail(f"--campaign {args.campaign!r} must match {CAMPAIGN.pattern}")
    if not args.recipient.strip() or len(args.recipient) > MAX_RECIPIENT_ID:
        return _fail(f"--recipient must be a non-empty id of at most {MAX_RECIPIENT_ID} characters")
    base = args.base_url
    if base is not None and not (base.startswith(("http://", "https://")) and len(base) > 8):
        return _fail(f"--base-url {base!r} must be the gateway's http(s) address, e.g. https://tags.shop.example")
    try:
        secret = load_existing_secret()  # never a new one
    except SecretError as error:
        return _fail(str(error))
    token, pseudonym = EmailTokens(secret).issue(args.campaign, args.recipient, args.opens_allowed)
    if pseudonym is not None:
        with ConsentLog.open() as log:
            email_opens.register(log.engine, args.campaign, [pseudonym])
    path = pixel_path(args.campaign, token)
    print(base.rstrip("/") + path if base else token)
    return 0


def _purge(log, args: argparse.Namespace) -> int:
    from gateway.email_pixel import CAMPAIGN, valid_campaign
    from gateway.store import email_opens

    if args.campaign is not None and not valid_campaign(args.campaign):
        return _fail(f"--campaign {args.campaign!r} must match {CAMPAIGN.pattern}")
    if args.older_than is not None and args.older_than < 0:
        return _fail("--older-than must be 0 or more days")
    done = email_opens.purge(log.engine, args.campaign, args.older_than)
    if not done.campaigns:
        print("nothing to purge")
    else:
        print(f"purged {done.recipients} recipients of {len(done.campaigns)} campaigns: {', '.join(done.campaigns)}")
    return 0


def _stats(log, args: argparse.Namespace) -> int:
    from gateway.email_pixel import CAMPAIGN, valid_campaign
    from gateway.store import email_opens

    if args.campaign is not None and not valid_campaign(args.campaign):
        return _fail(f"--campaign {args.campaign!r} must match {CAMPAIGN.pattern}")
    found = email_opens.stats(log.engine, args.campaign)
    if args.format == "json":
        print(json.dumps({"campaigns": [c.as_json() for c in found]}, indent=2))
        return 0
    if not found:
        print(f"no e-mail opens tracked{f' for campaign {args.campaign}' if args.campaign else ''}")
        return 0
    header = ["campaign", "tracked", "opened", "open rate", "opens", "first open (UTC)", "last open (UTC)"]

    def when(moment) -> str:
        return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M}"

    rows = [[c.campaign, str(c.recipients_tracked), str(c.unique_opens),
             f"{c.unique_opens / c.recipients_tracked * 100:.1f}%" if c.recipients_tracked else "-",
             str(c.total_opens), when(c.first_open), when(c.last_open)] for c in found]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(cell.ljust(w) if i in (0, 5, 6) else cell.rjust(w)
                        for i, (cell, w) in enumerate(zip(row, widths))).rstrip())
    return 0
