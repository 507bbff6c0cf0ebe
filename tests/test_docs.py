"""The README says what the code does: commands, options, the container size figure."""

from __future__ import annotations

import re
from pathlib import Path

from gateway.cli import build_parser
from gateway.config import load_config
from gateway.container import build_container

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_readme_opens_with_the_two_commands() -> None:
    first_block = README.split("```bash", 1)[1].split("```", 1)[0]
    assert "./dev serve" in first_block and "./dev test" in first_block
    assert "./dev test" in (ROOT / ".ci" / "run").read_text()
    dev = (ROOT / "dev").read_text()
    assert "serve)" in dev and "test)" in dev


def test_readme_documents_every_serve_option() -> None:
    serve = build_parser()._subparsers._group_actions[0].choices["serve"]
    options = {s for action in serve._actions for s in action.option_strings if s.startswith("--") and s != "--help"}
    documented = set(re.findall(r"^\| `(--[a-z-]+)", README, re.M))
    assert documented == options


def test_readme_size_figure_matches_the_built_container() -> None:
    built = build_container(load_config(ROOT / "tag_configs"))
    gz, raw = re.search(r"\*\*([0-9.]+) KB gzipped\*\* \(([0-9.]+) KB uncompressed\)", README).groups()
    assert abs(float(gz) - len(built.gzipped) / 1024) <= 0.3, f"README says {gz} KB, built {len(built.gzipped) / 1024:.1f} KB"
    assert abs(float(raw) - len(built.body) / 1024) <= 1.0


def test_readme_lists_every_tag_kind_and_trigger() -> None:
    from gateway.config import TRIGGER_KEYS
    from gateway.tags import KINDS

    for kind in KINDS:
        assert f"| `{kind}` |" in README
    for trigger in TRIGGER_KEYS:
        assert f"| `{trigger}` |" in README


def test_schema_and_registry_agree_on_tag_kinds() -> None:
    from gateway.schema import load_schema
    from gateway.tags import KINDS

    schema = load_schema()
    tag_properties = set(schema["$defs"]["tag"]["properties"])
    assert set(KINDS) <= tag_properties and set(KINDS) <= set(schema["$defs"])
    for kind in KINDS:
        assert (ROOT / "consent_ui" / "tags" / f"{kind}.js").read_text().count(f"KINDS.{kind} =") == 1
