"""The README says what the code does: commands, options, the container size figure."""

from __future__ import annotations

import os
import re
import subprocess
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


def test_dev_test_runs_the_whole_suite_or_only_the_files_it_is_given() -> None:
    def collected(*args: str) -> set[str]:
        done = subprocess.run(["./dev", "test", *args, "--collect-only", "-q"], cwd=ROOT, capture_output=True,
                              text=True, timeout=600, env=dict(os.environ, TEST_WORKERS="0"))
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        return {line.split("::")[0] for line in done.stdout.splitlines() if "::" in line}

    assert collected("tests/test_turns.py") == {"tests/test_turns.py"}
    assert collected("tests/test_turns.py::test_no_path_means_no_turns") == {"tests/test_turns.py"}
    whole = collected("-k", "turn or accept")  # an option's value is not taken for a file
    assert "tests/test_turns.py" in whole and any(name.startswith("e2e/") for name in whole)


def test_readme_documents_every_serve_option() -> None:
    serve = build_parser()._subparsers._group_actions[0].choices["serve"]
    options = {s for action in serve._actions for s in action.option_strings if s.startswith("--") and s != "--help"}
    documented = set(re.findall(r"^\| `(--[a-z-]+)", README, re.M))
    assert documented == options


BUDGET = 8 * 1024  # bytes gzipped, for the example store's container


def _bytes(figure: str) -> int:
    return int(figure.replace(",", ""))


def test_readme_size_figure_matches_the_built_container() -> None:
    built = build_container(load_config(ROOT / "tag_configs"))
    match = re.search(r"\*\*([0-9,]+) bytes gzipped\*\* \(([0-9.]+) KiB; ([0-9,]+) bytes uncompressed\)", README)
    assert match, "README's ## Size states no figure in bytes"
    gz, kib, raw = _bytes(match[1]), float(match[2]), _bytes(match[3])
    # Within a tolerance: the JS keeps changing; update the figure when it moves further.
    assert abs(gz - len(built.gzipped)) <= 150, f"README says {gz:,} bytes gzipped, built {len(built.gzipped):,}"
    assert abs(kib - gz / 1024) <= 0.05, f"README's {kib} KiB is not {gz:,} bytes"
    assert abs(raw - len(built.body)) <= 600, f"README says {raw:,} bytes uncompressed, built {len(built.body):,}"
    assert f"budget is **8 KiB ({BUDGET:,} bytes) gzipped**" in README.replace("\n", " ")


def test_example_container_is_within_its_gzip_budget() -> None:
    built = build_container(load_config(ROOT / "tag_configs"))
    assert len(built.gzipped) <= BUDGET, (
        f"the example store's container is {len(built.gzipped):,} bytes gzipped, over its {BUDGET:,}-byte budget")


def test_readme_lists_every_tag_kind_and_trigger() -> None:
    from gateway.config import TRIGGER_KEYS
    from gateway.tags import KINDS

    for kind in KINDS:
        assert f"| `{kind}` |" in README
    for trigger in TRIGGER_KEYS:
        assert f"| `{trigger}` |" in README


def test_schema_and_registry_agree_on_tag_kinds() -> None:
    from gateway.schema import load_schema
    from gateway.tags import KINDS, kind_js

    schema = load_schema()
    tag_properties = set(schema["$defs"]["tag"]["properties"])
    assert set(KINDS) <= tag_properties and set(KINDS) <= set(schema["$defs"])
    for kind in KINDS:
        assert kind_js(kind).count(f"KINDS.{kind} =") == 1
