"""Property-based: whatever a config folder holds, loading it ends in a Config or in problems (issue 8).

Never an exception of another kind, and every problem names a file of the folder (or the folder
itself) and a line within the file. Three sources of input: YAML-ish text, random structures
dumped to YAML, and the example store's config with one value replaced by a random one (which
reaches the cross-checks behind the schema). Bounded: a few hundred examples, no deadline (a
shared 2-core machine has slow moments), no example database written into the repository.
"""

from __future__ import annotations

import copy
import re
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.config import Config, load_config
from gateway.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = {name: yaml.safe_load((ROOT / "tag_configs" / name).read_text()) for name in ("site.yaml", "tags.yaml")}

BOUNDED = settings(max_examples=100, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.too_slow])


def load_folder(files: dict[str, str | bytes]) -> tuple[Config | None, list, dict[str, int]]:
    """Load a fresh folder holding `files`; returns the config or its problems, and each file's line count."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "cfg"
        folder.mkdir()
        lines = {}
        for name, content in files.items():
            data = content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
            (folder / name).write_bytes(data)
            lines[str(folder / name)] = yaml_line_count(data)
        try:
            return load_config(folder), [], lines
        except ConfigError as error:
            assert error.problems, "a ConfigError must say what is wrong"
            return None, error.problems, {**lines, str(folder): 0}


def yaml_line_count(data: bytes) -> int:
    """Lines as YAML (and an editor) counts them: a lone CR ends a line too, as do NEL, LS and PS."""
    return len(re.split("\r\n|[\r\n\x85\u2028\u2029]", data.decode("utf-8", "replace")))


def assert_explained(files: dict[str, str | bytes]) -> None:
    config, problems, lines = load_folder(files)
    if config is not None:
        return
    for problem in problems:
        assert problem.file in lines, problem
        assert 0 <= problem.line <= lines[problem.file], problem
        assert problem.message.strip(), problem
        # The loader's last resort for failures nobody foresaw must not be what explains a config.
        assert "could not be checked" not in problem.message, problem


YAMLISH = st.lists(st.sampled_from(list("ab09:-[]{}&*!|>'\"#?,%@`~. \t\n\ue000") + ["site", "tags", "  ", "\n  ", "9" * 5000]),
                   max_size=60).map("".join)


@BOUNDED
@given(YAMLISH)
def test_yaml_ish_text_is_loaded_or_explained(text: str) -> None:
    assert_explained({"site.yaml": text})


def test_a_problem_after_a_lone_carriage_return_is_on_the_second_line() -> None:
    # Found by the property below: an unterminated string after an old-Mac line break.
    _, problems, _ = load_folder({"site.yaml": b'\r"'})
    assert [problem.line for problem in problems] == [2]


@BOUNDED
@given(st.binary(max_size=80))
def test_any_bytes_are_loaded_or_explained(raw: bytes) -> None:
    assert_explained({"site.yaml": raw})


SCALARS = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | st.sampled_from(["necessary", "page_view", "G-ABC123", "1.5"]))
STRUCTURES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(st.text(max_size=12) | st.sampled_from(list(EXAMPLE["site.yaml"])),
                                            inner, max_size=4),
                          max_leaves=25)


@BOUNDED
@given(STRUCTURES)
def test_random_structures_are_loaded_or_explained(data) -> None:
    assert_explained({"site.yaml": yaml.safe_dump(data, allow_unicode=True)})


def paths_of(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths_of(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths_of(item, prefix + (index,))


EXAMPLE_PATHS = [(name, path) for name, data in EXAMPLE.items() for path in paths_of(data) if path]


@BOUNDED
@given(st.sampled_from(EXAMPLE_PATHS), STRUCTURES)
def test_the_example_with_one_value_replaced_is_loaded_or_explained(where, value) -> None:
    name, path = where
    files = copy.deepcopy(EXAMPLE)
    parent = files[name]
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    assert_explained({file: yaml.safe_dump(data, allow_unicode=True, sort_keys=False) for file, data in files.items()})
