"""`gateway validate` and `gateway serve` as a store owner runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from gateway.cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent
INVALID = ROOT / "tests" / "samples" / "invalid"


def test_validate_ok(capsys) -> None:
    assert main(["validate", str(ROOT / "tag_configs")]) == 0
    assert "OK (2 files, 10 tags, categories: necessary, analytics, marketing)" in capsys.readouterr().out


def test_validate_prints_every_problem_and_exits_1(capsys, monkeypatch) -> None:
    monkeypatch.chdir(INVALID / "many_errors")
    assert main(["validate", "."]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[:-1] == (INVALID / "many_errors" / "expected.txt").read_text().strip().splitlines()
    assert err[-1] == "10 problems found; nothing was changed."


def test_serve_refuses_an_invalid_config_with_the_same_messages(tmp_path) -> None:
    env = {**os.environ, "TAG_GATEWAY_SECRET": "0123456789abcdef" * 3}
    result = subprocess.run([sys.executable, "-m", "gateway", "serve", "--config", ".", "--port", "9"],
                            cwd=INVALID / "undeclared_category", env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "not starting" in result.stderr
    assert (INVALID / "undeclared_category" / "expected.txt").read_text().strip() in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_refuses_a_short_secret() -> None:
    env = {**os.environ, "TAG_GATEWAY_SECRET": "short"}
    result = subprocess.run([sys.executable, "-m", "gateway", "serve", "--config", str(ROOT / "tag_configs"), "--port", "9"],
                            env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1 and "at least 32 characters" in result.stderr


def test_local_secret_is_generated_once_into_an_untracked_file(tmp_path, monkeypatch) -> None:
    from gateway import secret

    monkeypatch.delenv(secret.ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    first = secret.load_secret()
    assert (tmp_path / ".tag-gateway-secret").stat().st_mode & 0o077 == 0
    assert secret.load_secret() == first and len(first) == 1 and len(first[0]) >= 32
    assert ".tag-gateway-secret" in (ROOT / ".gitignore").read_text()


def test_help_lists_the_documented_options() -> None:
    serve_help = build_parser()._subparsers._group_actions[0].choices["serve"].format_help()
    for option in ("--config", "--host", "--port", "--store", "--no-watch"):
        assert option in serve_help


def test_schema_prints_the_schema_validate_uses_and_the_example_store_meets_it(capsys) -> None:
    import jsonschema
    import yaml

    from gateway.schema import load_schema

    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == load_schema()  # vendor templates included: what validate checks each file against
    assert {"meta_pixel", "tiktok_pixel", "ga4"} <= set(printed["$defs"]["tag"]["properties"])
    checker = jsonschema.Draft202012Validator(printed)
    for path in sorted((ROOT / "tag_configs").glob("*.yaml")):
        assert not list(checker.iter_errors(yaml.safe_load(path.read_text()))), path
    typo = {"tags": [{"id": "x", "category": "analytics", "trigger": {"type": "page_view"}, "selectr": "#buy"}]}
    assert any("selectr" in error.message for error in checker.iter_errors(typo))
