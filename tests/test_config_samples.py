"""Every sample config under tests/samples/ behaves as its folder says.

valid/<name>/     must load without problems (and, with a warnings.txt, warn exactly its lines);
invalid/<name>/   must fail with exactly the lines in its expected.txt (FILE:LINE: key: message).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.errors import ConfigError

SAMPLES = Path(__file__).resolve().parent / "samples"
VALID = sorted(p for p in (SAMPLES / "valid").iterdir() if p.is_dir())
INVALID = sorted(p for p in (SAMPLES / "invalid").iterdir() if p.is_dir())


@pytest.mark.parametrize("sample", VALID, ids=[p.name for p in VALID])
def test_valid_sample_loads(sample: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(sample)
    config = load_config(".")
    assert config.site.name
    assert config.category_keys[0] == "necessary"
    if (sample / "warnings.txt").exists():
        assert [str(w) for w in config.warnings] == (sample / "warnings.txt").read_text().strip().splitlines()


@pytest.mark.parametrize("sample", INVALID, ids=[p.name for p in INVALID])
def test_invalid_sample_reports_every_problem(sample: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(sample)  # problems name files relative to the working directory
    expected = (sample / "expected.txt").read_text().strip().splitlines()
    with pytest.raises(ConfigError) as raised:
        load_config(".")
    assert [str(p) for p in raised.value.problems] == expected


def test_samples_exist() -> None:
    assert len(VALID) >= 3 and len(INVALID) >= 10


def test_example_store_config_is_valid() -> None:
    config = load_config(SAMPLES.parent.parent / "tag_configs")
    assert {t.kind for t in config.tags} >= {"ga4", "google_ads", "meta_pixel", "tiktok_pixel"}


def test_split_files_merge_in_file_name_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(SAMPLES / "valid" / "split_files")
    config = load_config(".")
    assert config.site.cookie_domain == "shop.example"
    assert config.banner["title"] == "Cookies?" and config.banner["accept_all"] == "Accept all"  # defaults fill the rest
    assert [t.id for t in config.tags] == ["ga4"]
    assert config.tags[0].compiled["params"]["page_title"] == {"$t": ["Shop: ", {"$": ["page", "title"]}]}


def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such directory"):
        load_config(tmp_path / "nope")
