"""gateway/js_minify.py: local names renamed, nothing else; deterministic; the config never parsed.

That the mangled container still *runs* the same is proven by the browser suite (e2e/), which
drives the real container; these tests pin what the minifier may and may not touch.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import rjsmin

from gateway.config import load_config
from gateway.container import CONFIG_HOLE, build_container, render_fab, runtime_config, script_safe_json, static_source
from gateway.js_minify import JSMinifyError, gzip_best, mangle, mangle_around
from gateway.tags import KINDS

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "tag_configs"


def test_local_names_are_renamed_but_properties_strings_and_globals_are_not() -> None:
    source = """(function (longParameter) {
      'use strict';
      var longVariable = {longVariable: 'longVariable', 'quoted-key': longParameter,
                          get longGetter() { return longVariable; }};
      function longHelper(another) { return another.longVariable + window.longGlobal + longParameter; }
      longVariable.longProperty = longHelper(longVariable);
      longVariable['longVariable'] = 'longParameter';
      return longVariable;
    })(someGlobal);"""
    out = mangle(source)
    assert not re.search(r"\b(longParameter|longHelper|another)\b", out.replace("'longParameter'", ""))
    assert "var longVariable" not in out and "(someGlobal)" in out  # locals renamed, globals kept
    for kept in ("longVariable:'longVariable'", "'quoted-key':", "get longGetter()", ".longVariable+",
                 "window.longGlobal", ".longProperty=", "['longVariable']='longParameter'"):
        assert kept in out, kept
    assert re.match(r"\(function\(\w\)\{'use strict';", out)  # strict mode stays a directive


def test_our_renamer_is_calmjs_own_but_for_the_order_of_letters() -> None:
    # _Obfuscator copies Obfuscator.finalize of the pinned calmjs.parse: an upgrade that changes it fails here.
    from calmjs.parse import es5
    from calmjs.parse.unparsers.es5 import minify_print

    from gateway.js_minify import ID_CHARS, _print

    source = static_source(tuple(sorted(KINDS)))
    tree = es5(source)
    assert _print(tree, ID_CHARS) == minify_print(es5(source), obfuscate=True, drop_semi=True)
    assert len(gzip.compress(mangle(source).encode(), 9)) < len(gzip.compress(_print(tree, ID_CHARS).encode(), 9))


def test_function_expression_names_are_not_shadowed() -> None:
    # Safari rejects a strict-mode function whose locals shadow its own name.
    out = mangle("(function(){'use strict';return function named(x){var y=x;return named(y);};})();")
    name = re.search(r"function (\w+)\((\w+)\)", out)
    assert name and name[1] != name[2] and f"var {name[1]}=" not in out


def test_catch_parameters_and_globals_used_inside_are_kept_apart() -> None:
    out = mangle("(function(){var longA=1,longB=2;try{longA()}catch(err){return err+longB+a+b;}})();")
    assert out.endswith("+a+b}})()")
    assert not re.search(r"var (a|b)[=,]|catch\((a|b)\)", out)  # never shadows the globals a and b


@pytest.mark.parametrize("source", ["let x = 1;", "var f = () => 1;", "var s = `t`;", "var o = {m() {}};"])
def test_anything_newer_than_es5_fails_loudly(source: str) -> None:
    with pytest.raises(JSMinifyError, match="not ES5"):
        mangle(source)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_tag_kind_minifies(kind: str) -> None:
    head, tail = mangle_around(static_source((kind,)), CONFIG_HOLE)
    assert head.startswith("(function(") and tail == ")"


def test_mangle_around_needs_exactly_one_global_hole() -> None:
    with pytest.raises(JSMinifyError):
        mangle_around("(function(){})(HOLE, HOLE);", "HOLE")
    with pytest.raises(JSMinifyError):
        mangle_around("(function(HOLE){})(1);", "HOLE")  # a parameter is renamed: not a hole


def test_the_static_part_is_mangled_once_per_set_of_kinds() -> None:
    mangle_around.cache_clear()
    config = load_config(EXAMPLE)
    first = build_container(config)
    assert mangle_around.cache_info().misses == 1
    again = build_container(config)
    assert mangle_around.cache_info().misses == 1 and mangle_around.cache_info().hits >= 1
    assert again == first


def test_mangling_makes_the_example_container_smaller_than_rjsmin_alone() -> None:
    config = load_config(EXAMPLE)
    built = build_container(config)
    kinds = tuple(sorted({tag.kind for tag in config.tags if tag.enabled}))
    config_json = script_safe_json(runtime_config(config, render_fab(config)))
    plain = rjsmin.jsmin(static_source(kinds).replace(CONFIG_HOLE, config_json)).encode()
    plain_gzip = gzip.compress(plain, compresslevel=9, mtime=0)
    assert len(built.body) < len(plain) - 2000
    assert len(built.gzipped) < len(plain_gzip) - 400


def test_the_config_is_spliced_in_verbatim_and_stays_script_safe() -> None:
    config = load_config(EXAMPLE)
    body = build_container(config).body.decode()
    config_json = script_safe_json(runtime_config(config, render_fab(config)))
    assert body.endswith("})(" + config_json + ");")  # never parsed or reprinted by the mangler
    assert body.startswith("/*! tag-gateway ") and "*/\n(function(" in body
    assert "</script" not in body.lower() and "<!--" not in body
    assert json.loads(config_json)["tags"]


def test_gzip_body_is_standard_gzip_no_larger_than_gzip_9_and_deterministic() -> None:
    body = build_container(load_config(EXAMPLE)).body
    packed = gzip_best(body)
    assert gzip.decompress(packed) == body
    assert packed[:4] == b"\x1f\x8b\x08\x00" and packed[4:8] == b"\0\0\0\0"  # no file name, mtime 0
    assert len(packed) <= len(gzip.compress(body, compresslevel=9, mtime=0))
    assert gzip_best(body) == packed


def test_same_config_same_bytes_and_etag_in_another_process() -> None:
    # Another hash seed changes the order of every set and dict of str: the output must not move.
    script = ("import hashlib,sys; from gateway.config import load_config; from gateway.container import build_container;"
              "b=build_container(load_config(sys.argv[1])); print(b.etag, hashlib.sha256(b.gzipped).hexdigest())")
    runs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", script, str(EXAMPLE)], capture_output=True, text=True,
                             env=env, cwd=ROOT, check=True).stdout
        runs.add(out)
    built = build_container(load_config(EXAMPLE))
    assert len(runs) == 1 and runs.pop().split()[0] == built.etag
