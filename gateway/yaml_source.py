"""Load one YAML file and remember the line of every key and list item.

PyYAML's constructed dicts forget where a value came from; error messages must
name the line, so we walk the composed node tree ourselves. The walk also
rejects duplicate keys, which PyYAML would silently overwrite (a pasted block
that redefines `pixel_id` must not pass unnoticed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gateway.errors import Problem, display_path

JsonPath = tuple[str | int, ...]


@dataclass
class YamlSource:
    path: Path
    data: Any
    lines: dict[JsonPath, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return display_path(self.path)

    def line_of(self, path: JsonPath) -> int:
        """Line of `path`, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)


def format_path(path: JsonPath) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.replace("_", "a").isalnum() and not part[:1].isdigit():
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out


def load_yaml(path: Path) -> tuple[YamlSource | None, list[Problem]]:
    name = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return None, [Problem(name, 0, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})")]
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        problems: list[Problem] = []
        source = YamlSource(path, None)
        source.data = _construct(loader, node, (), source, problems) if node is not None else None
        return source, problems
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        message = f"YAML syntax error: {exc.problem or exc}"
        if exc.context and exc.context_mark and exc.context_mark.line + 1 != line:
            message += f" ({exc.context.removeprefix('while ')} that starts on line {exc.context_mark.line + 1})"
        return None, [Problem(name, line, "", message)]
    except yaml.YAMLError as exc:
        return None, [Problem(name, 0, "", f"YAML error: {exc}")]
    finally:
        loader.dispose()


def _construct(loader: yaml.SafeLoader, node: yaml.Node, path: JsonPath, source: YamlSource, problems: list[Problem]) -> Any:
    source.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if not isinstance(key, str):
                problems.append(Problem(source.name, line, format_path(path), f"keys must be text, got {key!r}"))
                key = str(key)
            if key in result:
                first = source.lines.get(path + (key,), 0)
                problems.append(Problem(source.name, line, format_path(path + (key,)),
                                        f"duplicate key (first defined on line {first}); remove one of them"))
                continue
            source.lines[path + (key,)] = line
            result[key] = _construct(loader, value_node, path + (key,), source, problems)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(loader, item, path + (i,), source, problems) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)
