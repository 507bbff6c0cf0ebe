"""Variables declared under `variables:` and used as `{{ var.<name> }}` in any tag field or condition.

Three forms, each with an optional `default` (used when there is no value):
  constant: EUR                                   a fixed value
  value: "{{ dataLayer.user.tier }}"              placeholder text, read when the tag fires
  lookup: "{{ url.query.country }}"  + table: {de: Germany, fr: France}
                                                  the looked-up value mapped through a table

Compiled into data for the runtime (`{c: ...}`, `{v: ...}`, `{lk: ..., t: {...}}`, plus `d`);
a variable may use other variables, but not itself through any chain (checked here).
"""

from __future__ import annotations

from typing import Any

from gateway.placeholders import PlaceholderError, compile_value

FORMS = ("constant", "value", "lookup")

Problems = list[tuple[tuple, str]]  # (path under variables.<name>, message)


def check(name: str, spec: dict) -> Problems:
    forms = [f for f in FORMS if f in spec]
    if len(forms) != 1:
        found = f"found {', '.join(forms)}" if forms else "found none"
        return [((), f"give a variable exactly one of constant, value, lookup ({found})")]
    if ("table" in spec) != (forms[0] == "lookup"):
        return [(("table",) if "table" in spec else (), "`lookup` and `table` go together: lookup: \"{{ url.query.country }}\" "
                 "with table: {de: Germany}")]
    if forms[0] == "constant":
        return []
    try:
        compile_value(spec[forms[0]])
    except PlaceholderError as error:
        return [((forms[0],), str(error))]
    return []


def compile_variable(spec: dict) -> dict[str, Any]:
    if "constant" in spec:
        return {"c": spec["constant"]}
    out: dict[str, Any] = ({"v": compile_value(spec["value"])} if "value" in spec
                           else {"lk": compile_value(spec["lookup"]), "t": dict(spec["table"])})
    if "default" in spec:
        out["d"] = spec["default"]
    return out


def used_names(value: Any) -> set[str]:
    """The variables a compiled value refers to."""
    if isinstance(value, dict):
        if "$" in value:
            path = value["$"]
            return {path[1]} if path[0] == "var" and len(path) > 1 else set()
        return set().union(*(used_names(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(used_names(v) for v in value)) if value else set()
    return set()


def cycle(compiled: dict[str, dict]) -> list[str] | None:
    """A chain of variables that leads back to its start, if there is one."""
    uses = {name: used_names(spec) for name, spec in compiled.items()}

    def walk(name: str, chain: list[str]) -> list[str] | None:
        if name in chain:
            return chain[chain.index(name):] + [name]
        for other in sorted(uses.get(name, ())):
            found = walk(other, chain + [name])
            if found:
                return found
        return None

    for start in sorted(uses):
        found = walk(start, [])
        if found:
            return found
    return None
