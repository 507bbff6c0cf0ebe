"""Several stores from one gateway: the layout of a config folder, and the live configs it holds.

A config folder is either **one site** (it holds `*.yaml` directly: `tag_configs/`, served at
/container.js, /consent and /ui as always) or a **root of several sites** (no YAML of its own, but
sub-folders that hold some: `stores/shoes/site.yaml`, `stores/hats/site.yaml`). Each site of a root
is named after its folder and served under `/c/<name>`: /c/<name>.js, /c/<name>/consent,
/c/<name>/ui, with its own allowed origins, categories, banner, consent cookie (path /c/<name>),
rate limit and policy state. A folder with both is refused: which layout was meant is unclear.

Each site is a LiveConfig of its own, so a broken edit of one site keeps that site's last good
config and never touches another. Two sites of one root must not read each other's consent
tokens: their `site_claim`s (site.id, else cookie_domain, else allowed_origins) must differ, at
start and at every reload.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from gateway.config import Config, config_files, load_config
from gateway.consent import site_claim
from gateway.errors import ConfigError, Problem, display_path
from gateway.live_config import LiveConfig, Snapshot
from gateway.serving.container_answers import AnswersCache

log = logging.getLogger("tag_gateway")

SITE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
SITE_NAME_RULE = "lower-case letters, digits, - and _ (starting with a letter or digit, at most 64)"
ONE_SITE_NAME = "default"  # the consent log's name of a one-site folder without site.id


def log_name(name: str | None, site) -> str:
    """A site's name in the consent log (each record's `site`; `gateway consents ... --site`).

    In a root of several sites: its folder name, as in its URL (/c/<name>.js), whatever its site.id.
    A one-site folder (`name` None, served at /container.js): its `site.id` when set, else
    ONE_SITE_NAME; the folder's own name is not used, since moving or renaming the folder would
    then split one store's records. Both kinds are at most 64 characters (SITE_NAME, the schema's
    site.id), the log's column size. Moving a one-site folder into a root changes the name its
    new records get unless its site.id is the folder name it gets there.
    """
    return name or site.id or ONE_SITE_NAME


@dataclass(frozen=True)
class Layout:
    root: Path
    sites: dict[str, Path]  # name -> folder; empty for the one-site layout

    @property
    def single(self) -> bool:
        return not self.sites


def _has_yaml(folder: Path) -> bool:
    try:
        return bool(config_files(folder))
    except OSError:
        return False


def _site_folders(root: Path) -> list[Path]:
    try:
        return sorted(p for p in root.iterdir() if not p.name.startswith(".") and p.is_dir() and _has_yaml(p))
    except OSError:
        return []


def detect_layout(root: str | Path) -> Layout:
    """Which layout `root` has. A folder with *.yaml files of its own is one site, as it always was:
    its sub-folders are not sites (an owner may keep shared or archived YAML there, or link files in
    from one), so upgrading never turns a working folder into an error. A folder without YAML and
    without site folders also counts as one (empty) site, so load_config reports it as it always did.
    ConfigError for site folders whose names cannot be a URL."""
    root = Path(root)
    if not root.is_dir() or _has_yaml(root):
        return Layout(root, {})
    folders = _site_folders(root)
    problems = []
    sites: dict[str, Path] = {}
    for folder in folders:
        if folder.is_symlink():
            problems.append(Problem(display_path(folder), 0, "", "is a symbolic link; a site folder must be a folder "
                                                                 "inside the config root"))
        elif not SITE_NAME.fullmatch(folder.name):
            problems.append(Problem(display_path(folder), 0, "", f"site folder name {folder.name[:80]!r} is not "
                                    f"{SITE_NAME_RULE}: it is the site's URL (/c/<name>.js)"))
        else:
            sites[folder.name] = folder
    if problems:
        raise ConfigError(problems)
    return Layout(root, sites)


def shared_claims(configs: dict[str, Config]) -> list[tuple[str, Problem]]:
    """Sites of one root whose consent tokens would be interchangeable (the same site_claim):
    (the later site's name, its problem)."""
    found, first = [], {}
    for name, config in sorted(configs.items()):
        claim = site_claim(config.site)
        if claim in first:
            found.append((name, _claim_problem(config, first[claim])))
        else:
            first[claim] = name
    return found


def _claim_problem(config: Config, other: str) -> Problem:
    where = config.files[0] if config.files else config.directory
    return Problem(display_path(where), 0, "site.id", f"this site and site '{other}' would read each other's consent "
                   "choices (the same site.id, or no id and the same cookie_domain / allowed_origins): give each "
                   "site its own site.id")


def shared_cookies(configs: dict[str, Config]) -> list[tuple[str, Problem]]:
    """Sites of one root whose consent cookies have one name where a page could see both (the later site's name,
    a warning). Each site reads the other's token as no choice, so its visitors are asked again and again. A
    warning, not a refusal: a root that ran before site.cookie_name existed keeps running after an upgrade."""
    found, seen = [], []
    for name, config in sorted(configs.items()):
        for other, other_config in seen:
            if config.site.cookie_name == other_config.site.cookie_name and _scopes_meet(config, other_config):
                where = config.files[0] if config.files else config.directory
                found.append((name, Problem(
                    display_path(where), 0, "site.cookie_name",
                    f"warning: this site and site '{other}' write their consent choices to one cookie "
                    f"('{config.site.cookie_name}') where a page can see both (the same cookie_domain, or hosts one "
                    "of them covers), so each asks the other's visitors again: give each site its own "
                    "site.cookie_name")))
                break
        seen.append((name, config))
    return found


def _cookie_scopes(config: Config) -> list[tuple[str, bool]]:
    """Where the consent cookie lives on the store's side: (domain, with its subdomains). cookie_domain, else the
    hosts of allowed_origins (the container writes a host-only cookie there; `*.` covers the subdomains)."""
    if config.site.cookie_domain:
        return [(config.site.cookie_domain.lower(), True)]
    scopes = []
    for origin in config.site.allowed_origins:  # scheme://host[:port], the host a name (the schema's pattern)
        host = origin.split("://", 1)[-1].split(":", 1)[0].lower()
        scopes.append((host[2:], True) if host.startswith("*.") else (host, False))
    return scopes


def _scopes_meet(one: Config, other: Config) -> bool:
    """Whether a page could see both sites' consent cookies (a cookie of a domain is sent to its subdomains)."""
    for domain, below in _cookie_scopes(one):
        for other_domain, other_below in _cookie_scopes(other):
            if domain == other_domain or (below and other_domain.endswith("." + domain)) or (
                    other_below and domain.endswith("." + other_domain)):
                return True
    return False


def check_sites(layout: Layout) -> dict[str, Config | ConfigError]:
    """Load every site of a root, each on its own (`gateway validate`)."""
    results: dict[str, Config | ConfigError] = {}
    for name, folder in layout.sites.items():
        try:
            results[name] = load_config(folder)
        except ConfigError as error:
            results[name] = error
    for name, problem in shared_claims({n: c for n, c in results.items() if isinstance(c, Config)}):
        results[name] = ConfigError([problem])
    for name, warning in shared_cookies({n: c for n, c in results.items() if isinstance(c, Config)}):
        results[name] = replace(results[name], warnings=(*results[name].warnings, warning))
    return results


@dataclass
class LiveSites:
    """What `gateway serve` serves: one site (`default`) or several (`sites`), each a LiveConfig."""
    root: Path
    default: LiveConfig | None = None                       # the one-site layout
    sites: dict[str, LiveConfig] = field(default_factory=dict)  # the multi-site layout, by name
    answers: dict[str, AnswersCache] = field(default_factory=dict)  # each site's precomputed container answers

    @classmethod
    def load(cls, root: str | Path) -> "LiveSites":
        """Every site or none: a ConfigError lists every problem of every site."""
        layout = detect_layout(root)
        if layout.single:
            return cls(layout.root, default=LiveConfig.load(layout.root))
        problems: list[Problem] = []
        sites: dict[str, LiveConfig] = {}
        for name, folder in layout.sites.items():
            try:
                sites[name] = LiveConfig.load(folder)
            except ConfigError as error:
                problems.extend(error.problems)
        problems.extend(p for _, p in shared_claims({n: s.current.config for n, s in sites.items()}))
        if problems:
            raise ConfigError(problems)
        live = cls(layout.root, sites=sites, answers={name: AnswersCache() for name in sites})
        for name, site in sites.items():
            site.guard = live._guard(name)
        return live

    @classmethod
    def of(cls, live: "LiveConfig | LiveSites") -> "LiveSites":
        """A LiveConfig (tests, the benchmark) is the one-site layout."""
        return live if isinstance(live, LiveSites) else cls(live.directory, default=live)

    @property
    def single(self) -> bool:
        return self.default is not None

    def all(self) -> list[tuple[str | None, LiveConfig]]:
        """(name, live config) of every site; the one-site layout's name is None."""
        return [(None, self.default)] if self.default is not None else list(self.sites.items())

    def _guard(self, name: str):
        def guard(snapshot: Snapshot) -> list[Problem]:
            claim = site_claim(snapshot.config.site)
            for other, live in sorted(self.sites.items()):
                if other != name and site_claim(live.current.config.site) == claim:
                    return [_claim_problem(snapshot.config, other)]
            return []
        return guard

    def reload_if_changed(self) -> bool:
        """Each site on its own: one that fails (even unexpectedly) never stops the others'."""
        changed = False
        for name, live in self.all():
            try:
                changed = live.reload_if_changed() or changed
            except Exception:
                log.exception("config reload of %s failed; still serving its previous version", name or live.directory)
        return changed

    async def watch(self, interval: float = 1.0) -> None:
        if self.default is not None:
            return await self.default.watch(interval)
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(self.reload_if_changed)
            except Exception:
                log.exception("config reload failed; still serving the previous versions")
