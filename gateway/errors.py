"""The one error type for a configuration a store owner must fix.

Every check collects `Problem`s instead of stopping at the first one, so an
owner sees all mistakes of an edit at once. Only the CLI turns a `ConfigError`
into an exit code; the server turns it into "keep serving the last good config".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(Exception):
    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def display_path(path: Path) -> str:
    """Paths relative to the working directory when possible: shorter, and clickable in editors.

    A symbolic link is named as itself: resolving it would show where it points, and a link out of
    the config folder must not reveal that in a message.
    """
    try:
        return str((path.parent.resolve() / path.name).relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
