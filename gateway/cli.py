"""`gateway serve` and `gateway validate`. The only place a ConfigError becomes an exit code."""

from __future__ import annotations

import argparse
import logging
import sys
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
    serve.add_argument("--config", default=DEFAULT_CONFIG, metavar="DIR", help=f"folder of *.yaml tag files (default: {DEFAULT_CONFIG})")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    serve.add_argument("--store", metavar="DIR", help="also serve these static store pages at / (e.g. example_store)")
    serve.add_argument("--no-watch", action="store_true", help="do not reload the config when its files change")

    validate = commands.add_parser("validate", help="check a config folder and print every problem",
                                   description="Check every *.yaml file in DIR; print FILE:LINE: key: problem for each "
                                               "mistake and exit 1, or print a summary and exit 0.")
    validate.add_argument("config", nargs="?", default=DEFAULT_CONFIG, metavar="DIR", help=f"default: {DEFAULT_CONFIG}")
    return parser


def _report(error: ConfigError) -> None:
    for problem in error.problems:
        print(problem, file=sys.stderr)
    count = len(error.problems)
    print(f"{count} problem{'s' if count != 1 else ''} found; nothing was changed.", file=sys.stderr)


def cmd_validate(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as error:
        _report(error)
        return 1
    print(f"{args.config}: OK ({len(config.files)} files, {len(config.tags)} tags, "
          f"categories: {', '.join(config.category_keys)})")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from gateway.app import create_app
    from gateway.live_config import LiveConfig

    try:
        live = LiveConfig.load(args.config)
    except ConfigError as error:
        print("tag-gateway: not starting, the config has problems:", file=sys.stderr)
        _report(error)
        return 1
    try:
        secret = load_secret()
    except SecretError as error:
        print(f"tag-gateway: {error}", file=sys.stderr)
        return 1
    store = Path(args.store) if args.store else None
    if store is not None and not store.is_dir():
        print(f"tag-gateway: --store {store}: no such directory", file=sys.stderr)
        return 1
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    app = create_app(live, secret, store_dir=store, watch=not args.no_watch)
    base = f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '::') else args.host}:{args.port}"
    size = len(live.current.container.gzipped)
    print(f"tag-gateway: {len(live.current.config.tags)} tags, container {size / 1024:.1f} KB gzipped", file=sys.stderr)
    print(f"tag-gateway: add to your store: <script src=\"{base}/container.js\" async></script>", file=sys.stderr)
    if store is not None:
        print(f"tag-gateway: example store at {base}/", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return {"serve": cmd_serve, "validate": cmd_validate}[args.command](args)
