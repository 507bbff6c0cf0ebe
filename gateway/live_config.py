"""The configuration the server is serving right now, and how it changes.

A `Snapshot` bundles everything derived from one valid configuration (the built
container, the origin matcher), so a request sees one consistent version. The
watcher polls the config directory and swaps in a new snapshot only when the
new files are valid: a broken edit is logged and the last good config keeps
serving, so a typo can never take a store's tracking (or its consent banner) down.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gateway.config import Config, config_files, load_config
from gateway.container import Container, build_container, render_dialogs, render_notice
from gateway.errors import ConfigError, Problem, display_path
from gateway.origins import OriginMatcher
from gateway.policy_state import policy_since
from gateway.regions import TrustedProxies

log = logging.getLogger("tag_gateway")


@dataclass(frozen=True)
class Snapshot:
    config: Config
    container: Container
    origins: OriginMatcher
    proxies: TrustedProxies
    # Per offered language (rendered once per configuration, so serving a language is a lookup):
    dialogs_by_language: dict[str, str]               # banner + preferences markup (see render_dialogs)
    notices_by_language: dict[str, tuple[str, str]]   # the opt-out notice before and after an opt-out
    policy_since: int = 0      # tokens signed before this Unix time are outdated (gateway.policy_state)

    @classmethod
    def build(cls, config: Config, policy_since: int = 0) -> "Snapshot":
        languages = config.languages or (config.language,)
        return cls(config, build_container(config), OriginMatcher(config.site.allowed_origins),
                   TrustedProxies(config.site.trusted_proxies),
                   {tag: render_dialogs(config, tag) for tag in languages},
                   {tag: (render_notice(config, False, tag), render_notice(config, True, tag)) for tag in languages},
                   policy_since)

    def dialogs(self, language: str | None = None) -> str:
        """The dialogs in `language` if offered, else in the default language."""
        return self.dialogs_by_language[self.config.offered(language)]

    def notices(self, language: str | None = None) -> tuple[str, str]:
        return self.notices_by_language[self.config.offered(language)]


def _fingerprint(directory: Path) -> tuple:
    """Names, mtimes and sizes of the files load_config reads (and of the links to them): cheap to poll."""
    def stamp(path: Path) -> tuple:
        link = path.lstat()
        try:
            target = path.stat()
        except OSError:  # a dangling link: its own stamp still changes when it is fixed
            return (path.name, link.st_mtime_ns, link.st_size)
        return (path.name, link.st_mtime_ns, target.st_mtime_ns, target.st_size)

    try:
        return tuple(stamp(p) for p in config_files(directory))
    except OSError:
        return ()


def _build(directory: Path, previous: Snapshot | None = None) -> Snapshot:
    """A snapshot of the config in `directory`; every failure, foreseen or not, is a ConfigError."""
    try:
        config = load_config(directory)
        version = config.site.policy_version
        since = policy_since(directory, version)
        if previous is not None and previous.config.site.policy_version != version:
            since = max(since, int(time.time()))  # a live change counts from now even without a state file
        return Snapshot.build(config, since)
    except ConfigError:
        raise
    except Exception as exc:  # MemoryError and RecursionError included: the server must stay up
        log.exception("building the config in %s failed", directory)
        raise ConfigError([Problem(display_path(directory), 0, "",
                                   f"could not be built ({type(exc).__name__}); the log has the details")]) from exc


@dataclass
class LiveConfig:
    directory: Path
    current: Snapshot
    last_error: ConfigError | None = None
    _seen: tuple = field(default=())
    # Checks a new snapshot against the rest of the gateway before it goes live (gateway.sites: two
    # sites of one root must not share consent tokens); its problems count like the config's own.
    guard: Callable[[Snapshot], list[Problem]] | None = None

    @classmethod
    def load(cls, directory: str | Path) -> "LiveConfig":
        directory = Path(directory)
        live = cls(directory, _build(directory))
        live._seen = _fingerprint(directory)
        return live

    def reload_if_changed(self) -> bool:
        """Rebuild when the files changed; returns True when a new snapshot is live."""
        seen = _fingerprint(self.directory)
        if seen == self._seen:
            return False
        self._seen = seen
        try:
            snapshot = _build(self.directory, self.current)
            problems = self.guard(snapshot) if self.guard is not None else []
            if problems:
                raise ConfigError(problems)
        except ConfigError as error:
            self.last_error = error
            log.error("config in %s is invalid; still serving the previous version:\n%s", self.directory, error)
            return False
        self.current, self.last_error = snapshot, None
        log.info("config reloaded: %d tags, container %s", len(snapshot.config.tags), snapshot.container.etag)
        return True

    async def watch(self, interval: float = 1.0) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(self.reload_if_changed)
            except Exception:  # a watcher that dies silently would freeze the config
                log.exception("config reload failed; still serving the previous version")
