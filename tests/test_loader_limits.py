"""Config files built to hurt the loader are refused quickly, as FILE:LINE problems (issue 8).

Each case once took `gateway validate` down with a traceback, a MemoryError after a minute, or
grew a running server to gigabytes during a live reload. Now each is one problem naming the file
and the line, for `gateway validate`, for `gateway serve` and during a live reload.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent

# "Billion laughs": 9 levels of 9 aliases, 9**9 (387 million) values once expanded, in 342 bytes.
ALIAS_BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9) if prev else ', '.join(['lol'] * 9)}]\n"
    for prev, name in zip([None, *"abcdefgh"], "abcdefghi"))

HOSTILE = {
    "alias_bomb": (ALIAS_BOMB, "site.yaml:5: e: expands to more than 50,000 values through its aliases"),
    "self_alias": ("site: &a [1, *a]\n", "site.yaml:1: alias *a is inside its own anchor &a"),
    "deep_nesting": ("site: " + "[" * 10_000 + "\n", "site.yaml:1: nested more than 40 levels deep"),
    "deep_block_nesting": ("".join("  " * i + f"k{i}:\n" for i in range(200)),
                           "site.yaml:41: nested more than 40 levels deep"),
    "long_number": ("site:\n  policy_version: " + "9" * 5000 + "\n",
                    "site.yaml:2: site.policy_version: a number of 5,000 characters is too long to read"),
    "bad_date": ("site:\n  name: 2024-13-45\n", "site.yaml:2: site.name: cannot read '2024-13-45'"),
    "list_as_key": ("? [a, b]\n: 1\n", "site.yaml:1: keys must be text, not a list or mapping"),
    "huge_file": ("# " + "x" * 600_000 + "\n", "site.yaml: is larger than 512 KB"),
}


def write_config(folder: Path, text: str) -> Path:
    folder.mkdir()
    (folder / "site.yaml").write_text(text)
    return folder


def validate(folder: Path, capsys) -> tuple[int, str, float]:
    started = time.monotonic()
    code = main(["validate", str(folder)])
    elapsed = time.monotonic() - started
    captured = capsys.readouterr()
    return code, captured.out + captured.err, elapsed


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_validate_refuses_a_hostile_file_quickly_with_file_and_line(case, tmp_path, capsys, monkeypatch) -> None:
    text, expected = HOSTILE[case]
    monkeypatch.chdir(tmp_path)  # problems name files relative to the working directory
    folder = write_config(tmp_path / "cfg", text)
    code, output, elapsed = validate(folder, capsys)
    assert code == 1
    assert "cfg/" + expected in output, output
    assert "Traceback" not in output
    assert elapsed < 5, f"took {elapsed:.1f} s"


def test_the_alias_bomb_is_small_and_the_limit_says_what_is_allowed(tmp_path, monkeypatch) -> None:
    from gateway.config import load_config

    assert len(ALIAS_BOMB.encode()) < 600
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as raised:
        load_config(write_config(tmp_path / "cfg", ALIAS_BOMB))
    [problem] = raised.value.problems
    assert (problem.file, problem.line, problem.path) == ("cfg/site.yaml", 5, "e")
    assert "a tag config needs far fewer" in problem.message


def test_serve_does_not_start_on_an_alias_bomb(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    folder = write_config(tmp_path / "cfg", ALIAS_BOMB)
    started = time.monotonic()
    assert main(["serve", "--config", str(folder)]) == 1
    assert time.monotonic() - started < 5
    err = capsys.readouterr().err
    assert "not starting" in err and "cfg/site.yaml:5: e: expands to more than 50,000 values" in err


# ---------------------------------------------------------------- symbolic links


def example_config(tmp_path: Path) -> Path:
    folder = tmp_path / "cfg"
    shutil.copytree(ROOT / "tag_configs", folder)
    return folder


def test_a_link_out_of_the_folder_is_a_problem_naming_the_link_and_never_read(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    private = tmp_path / "private.yaml"
    private.write_text("password: hunter2-do-not-print\n")
    folder = example_config(tmp_path)
    (folder / "leak.yaml").symlink_to(private)
    (folder / "passwd.yaml").symlink_to("/etc/passwd")
    code, output, _ = validate(folder, capsys)
    assert code == 1
    assert "cfg/leak.yaml: is a symbolic link to a file outside the config folder and is not read" in output
    assert "cfg/passwd.yaml: is a symbolic link to a file outside the config folder" in output
    assert "hunter2" not in output and "root:" not in output and "private.yaml" not in output


def test_a_dangling_link_is_a_problem_not_silently_skipped(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    folder = example_config(tmp_path)
    (folder / "gone.yaml").symlink_to(tmp_path / "nothing-here.yaml")
    code, output, _ = validate(folder, capsys)
    assert code == 1 and "cfg/gone.yaml: is a symbolic link that leads nowhere" in output


def test_a_link_between_files_of_the_folder_is_read(tmp_path, capsys, monkeypatch) -> None:
    """Inside the folder a link is just another name for a file the owner put there."""
    monkeypatch.chdir(tmp_path)
    folder = example_config(tmp_path)
    (folder / "shared").mkdir()
    (folder / "tags.yaml").rename(folder / "shared" / "tags.yaml")
    (folder / "tags.yaml").symlink_to(Path("shared") / "tags.yaml")
    code, output, _ = validate(folder, capsys)
    assert code == 0 and "OK" in output and "10 tags" in output, output


# ---------------------------------------------------------------- live reload


def test_a_live_reload_of_an_alias_bomb_keeps_the_last_good_config(live, client, config_dir) -> None:
    good = client.get("/container.js")
    (config_dir / "zz-bomb.yaml").write_text(ALIAS_BOMB)
    started = time.monotonic()
    assert live.reload_if_changed() is False
    assert time.monotonic() - started < 5
    assert client.get("/healthz").json()["status"] == "degraded"
    assert [str(p).split("zz-bomb.yaml:")[1] for p in live.last_error.problems] == [
        "5: e: expands to more than 50,000 values through its aliases (*name); a tag config needs far fewer: "
        "repeat less through aliases"]
    again = client.get("/container.js")
    assert again.status_code == 200 and again.content == good.content


def test_any_failure_during_a_reload_is_recorded_and_reported_degraded(live, client, config_dir, monkeypatch) -> None:
    """An error nobody foresaw (here: building the container) must not leave /healthz saying "ok"."""
    import gateway.live_config

    def broken_build(config):
        raise RuntimeError("simulated bug in the container build")

    monkeypatch.setattr(gateway.live_config, "build_container", broken_build)
    good = client.get("/container.js")
    tags = config_dir / "tags.yaml"
    tags.write_text(tags.read_text() + "\n# an edit\n")
    assert live.reload_if_changed() is False
    assert client.get("/healthz").json()["status"] == "degraded"
    [problem] = live.last_error.problems
    assert problem.file.endswith("tag_configs") and "could not be built (RuntimeError)" in problem.message
    assert client.get("/container.js").content == good.content
