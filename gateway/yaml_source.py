"""Load one YAML file and remember the line of every key and list item.

PyYAML's constructed dicts forget where a value came from; error messages must
name the line, so we walk the composed node tree ourselves. The walk also
rejects duplicate keys, which PyYAML would silently overwrite (a pasted block
that redefines `pixel_id` must not pass unnoticed).

A config file is written by a person, so it is small; anything far beyond that
is refused with a problem instead of being loaded: a file larger than
MAX_FILE_BYTES, nesting deeper than MAX_DEPTH, more than MAX_VALUES values once
aliases are expanded (a "billion laughs" file of a few hundred bytes expands to
billions), an alias inside its own anchor, a number too long to convert.
Every way a file can fail to load ends as a `Problem`, never as an exception.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gateway.errors import Problem, display_path

MAX_FILE_BYTES = 512 * 1024  # the example store's largest file is about 5 KB
MAX_DEPTH = 40               # levels of lists and mappings; a tag config needs about 6
MAX_VALUES = 50_000          # keys, values and list items, aliases expanded; 50 tags need about 1,500

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
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return None, [Problem(name, 0, "", f"cannot be read ({exc.strerror or exc})")]
    if len(raw) > MAX_FILE_BYTES:
        return None, [Problem(name, 0, "", f"is larger than {MAX_FILE_BYTES // 1024} KB; a tag config is far smaller, "
                                           "split it into several files if it really is this large")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [Problem(name, 0, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})")]
    try:
        loader = _Loader(text)  # checks the characters first
    except yaml.reader.ReaderError as exc:
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        return None, [Problem(name, text.count("\n", 0, exc.position) + 1, "",
                              f"character U+{code:04X} is not allowed in YAML; remove it or write it escaped "
                              "in a double-quoted string")]
    try:
        node = loader.get_single_node()
        problems: list[Problem] = []
        source = YamlSource(path, None)
        if node is not None:
            source.data = _Walk(loader, source, problems).value(node, ())
        return source, problems
    except _TooMuch as exc:
        return None, [Problem(name, exc.line, format_path(exc.path), exc.message)]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        message = f"YAML syntax error: {exc.problem or exc}"
        if exc.context and exc.context_mark and exc.context_mark.line + 1 != line:
            message += f" ({exc.context.removeprefix('while ')} that starts on line {exc.context_mark.line + 1})"
        return None, [Problem(name, line, "", message)]
    except yaml.YAMLError as exc:
        return None, [Problem(name, 0, "", f"YAML error: {exc}")]
    except RecursionError:  # a backstop: the limits above stop every nesting we know of first
        return None, [Problem(name, 0, "", f"nested too deeply to read; at most {MAX_DEPTH} levels are allowed")]
    finally:
        loader.dispose()


class _TooMuch(Exception):
    """A file beyond what a config needs (or a value that cannot be read): refused where it was found."""

    def __init__(self, line: int, message: str, path: JsonPath = ()):
        super().__init__(message)
        self.line, self.message, self.path = line, message, path


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with a depth limit and no self-referencing aliases.

    PyYAML composes nested collections recursively, so 10,000 `[` end in a RecursionError, and it
    accepts `&a [*a]`, a value that contains itself. Both are stopped here, where the line is known.
    """

    def __init__(self, text: str):
        super().__init__(text)
        self._depth = 0
        self._open_anchors: set[str] = set()

    def compose_node(self, parent, index):
        event = self.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent) and event.anchor in self._open_anchors:
            raise _TooMuch(line, f"alias *{event.anchor} is inside its own anchor &{event.anchor}: "
                                 "a value cannot contain itself")
        if not isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            return super().compose_node(parent, index)
        if self._depth >= MAX_DEPTH:
            raise _TooMuch(line, f"nested more than {MAX_DEPTH} levels deep; a tag config needs far fewer")
        anchor = event.anchor
        self._depth += 1
        if anchor is not None:
            self._open_anchors.add(anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1
            self._open_anchors.discard(anchor)


class _Walk:
    """Builds the data and the line map from the composed nodes, counting every value it builds.

    An alias is a reference in the node tree, but each use becomes a full copy here; counting
    the copies is what stops an alias bomb before it takes the memory.
    """

    def __init__(self, loader: _Loader, source: YamlSource, problems: list[Problem]):
        self.loader, self.source, self.problems = loader, source, problems
        self.budget = MAX_VALUES

    def value(self, node: yaml.Node, path: JsonPath) -> Any:
        line = node.start_mark.line + 1
        self.budget -= 1
        if self.budget < 0:
            # Named by the top-level key being expanded: deeper paths run through the aliases' anchors.
            raise _TooMuch(self.source.line_of(path[:1]), f"expands to more than {MAX_VALUES:,} values through its "
                           "aliases (*name); a tag config needs far fewer: repeat less through aliases", path[:1])
        if len(path) > MAX_DEPTH:
            raise _TooMuch(line, f"nested more than {MAX_DEPTH} levels deep once its aliases (*name) are expanded", path)
        self.source.lines.setdefault(path, line)
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.value(item, path + (i,)) for i, item in enumerate(node.value)]
        return self.scalar(node, path)

    def mapping(self, node: yaml.MappingNode, path: JsonPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        name = self.source.name
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):  # never built: a list key may be an alias bomb
                self.problems.append(Problem(name, line, format_path(path), "keys must be text, not a list or mapping"))
                continue
            key = self.scalar(key_node, path)
            if not isinstance(key, str):
                self.problems.append(Problem(name, line, format_path(path), f"keys must be text, got {key!r}"))
                key = str(key)
            if key in result:
                first = self.source.lines.get(path + (key,), 0)
                self.problems.append(Problem(name, line, format_path(path + (key,)),
                                             f"duplicate key (first defined on line {first}); remove one of them"))
                continue
            self.source.lines[path + (key,)] = line
            result[key] = self.value(value_node, path + (key,))
        return result

    def scalar(self, node: yaml.Node, path: JsonPath) -> Any:
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError:
            raise
        except (ValueError, OverflowError, TypeError) as exc:
            line = node.start_mark.line + 1
            if node.tag == "tag:yaml.org,2002:int":
                raise _TooMuch(line, f"a number of {len(node.value):,} characters is too long to read; "
                                     "put it in quotes if it is an id", path) from None
            raise _TooMuch(line, f"cannot read {node.value[:40]!r}: {exc}; put it in quotes if it is text", path) from None
