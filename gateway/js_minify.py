"""Shrink the container: rename local JS names (calmjs.parse) and gzip with Zopfli.

Why this way (measured on the example store, 2 cores; `bench/container_bench.py` prints the current figures):

* The container must stay within 8 KiB (8,192 bytes) gzipped. rjsmin only strips whitespace and comments:
  24,365 bytes raw, 8,299 gzipped (gzip -9). Renaming local variables is what a real minifier adds.
* The container is built at run time from the YAML, so there is no Node in production. `calmjs.parse`
  (pure Python, ES5 parser + minifying printer with `obfuscate=True`) parses all of consent_ui/ as is and
  renames every local name: 21,295 bytes raw, 7,658 gzipped (-7.7%). terser would do ~3% better but needs
  Node at build time plus checked-in generated files that drift from their sources; not worth it.
* Only the static JS is parsed. The container is shaped as `(function(CONFIG){...static JS...})(<json>)`:
  the static part is mangled around a placeholder and cached per source text (so per set of tag kinds), and
  the JSON is spliced in as text. Parsing + printing costs 0.2-0.35 s once per set of kinds; a reload that keeps
  the kinds costs nothing extra, and the configuration (including the hostile strings a store owner may type)
  never goes through the mangler: it stays exactly `script_safe_json`'s output.
* Zopfli writes standard gzip (any browser inflates it) ~2.5% smaller than gzip -9 (7,658 -> 7,465 bytes).
  It runs once per configuration build (never per request): 30-70 ms with 5 iterations; the default 15
  iterations cost ~2x the time for 2 more bytes, so 5 it is.
* Output is deterministic: same input, same bytes, same ETag (no randomness or hash order in the renamer;
  the gzip header has mtime 0).

What the mangler cannot handle (all fail loudly with `JSMinifyError` at build time, never silently):
anything newer than ES5 (let/const, arrow functions, template literals, classes, method shorthand
`{m(){}}`, destructuring, default parameters, spread, for-of, async, `?.`, `??`, `0b`/`1_000` numbers) and a
line starting with `++`/`--` after an expression that relies on ASI. Getters/setters, reserved words as
property names and regex flags pass. Never use direct `eval` or `with` (strict mode forbids `with`): the
renamer cannot see names used through them.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache

import zopfli.gzip
from calmjs.parse import es5, rules
from calmjs.parse.exceptions import ECMASyntaxError, ProductionError
from calmjs.parse.handlers.obfuscation import ID_CHARS, NameGenerator, Obfuscator, token_handler_unobfuscate
from calmjs.parse.lexers.es5 import Lexer
from calmjs.parse.ruletypes import Resolve
from calmjs.parse.unparsers.es5 import Unparser

ZOPFLI_ITERATIONS = 5


class JSMinifyError(ValueError):
    """The JS could not be parsed as ES5 (the message says where)."""


class _Obfuscator(Obfuscator):
    """calmjs.parse's renamer, with the new names drawn from `charset` in that order."""

    def __init__(self, charset: str) -> None:
        super().__init__(obfuscate_globals=False, shadow_funcname=False, reserved_keywords=tuple(Lexer.keywords_dict))
        self.charset = charset

    def finalize(self) -> None:  # as Obfuscator.finalize (calmjs.parse 1.3.4), plus the charset
        self.global_scope.close()
        self.global_scope.build_remap_symbols(NameGenerator(skip=self.reserved_keywords, charset=self.charset),
                                              children_only=not self.obfuscate_globals)


def _print(tree, charset: str) -> str:
    def renaming():
        renamer = _Obfuscator(charset)
        return {"token_handler": token_handler_unobfuscate, "layout_handlers": {},
                "deferrable_handlers": {Resolve: renamer.resolve}, "prewalk_hooks": [renamer.prewalk_hook]}

    # minify_print(tree, obfuscate=True, drop_semi=True) with our renamer
    return "".join(chunk.text for chunk in Unparser(rules=(rules.minify(drop_semi=True), renaming))(tree))


def mangle(source: str) -> str:
    """Minify ES5 `source` and rename its local names; properties, strings and globals are kept.

    Names a function expression gives itself are never shadowed (Safari rejects that in strict mode).
    Like terser, the short names use the letters most frequent in the rest of the output first, which
    gzips better (~40 bytes on the example store).
    """
    try:
        tree = es5(source)
    except (ECMASyntaxError, ProductionError) as error:
        raise JSMinifyError(f"not ES5, cannot minify: {error}") from None
    first = _print(tree, ID_CHARS)
    frequency = Counter(char for char in first if char in ID_CHARS)
    return _print(tree, "".join(sorted(ID_CHARS, key=lambda char: (-frequency[char], ID_CHARS.index(char)))))


@lru_cache(maxsize=32)
def mangle_around(source: str, hole: str) -> tuple[str, str]:
    """Mangle `source`, in which the global identifier `hole` occurs exactly once, e.g. as an argument.

    Returns the minified text before and after it, so the caller splices a value (JSON) in between without
    the mangler ever parsing it. Cached on the source text: a second build with the same JS is a lookup.
    """
    if source.count(hole) != 1:
        raise JSMinifyError(f"{hole!r} must occur exactly once in the source")
    parts = mangle(source).split(hole)
    if len(parts) != 2:  # e.g. renamed: then it was not a global
        raise JSMinifyError(f"{hole!r} did not survive minification as one global name")
    return parts[0], parts[1]


def gzip_best(data: bytes) -> bytes:
    """Standard gzip (RFC 1952, mtime 0) compressed with Zopfli: smaller than gzip -9, deterministic."""
    return zopfli.gzip.compress(data, numiterations=ZOPFLI_ITERATIONS)
