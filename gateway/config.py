"""Load a tag_configs/ directory into one validated `Config`.

Steps, each collecting every problem before failing: parse each YAML file
(with line numbers), validate it against the JSON Schema, merge the files, then
run the checks a schema cannot express (categories that exist, unique ids,
trigger keys that fit the trigger type, placeholders that make sense).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gateway.consent import COOKIE_NAME as CONSENT_COOKIE
from gateway.errors import ConfigError, Problem, display_path
from gateway.forwarding import credentials, settings as forwarding_settings
from gateway.forwarding.settings import Forwarding
from gateway.placeholders import compile_value, placeholder_errors
from gateway.regions import DEFAULT_TRUSTED_PROXIES, RegionRules, invalid_networks, overlapping_codes
from gateway.schema import validate_source
from gateway.tags import GENERIC, KINDS
from gateway.vendors import VENDORS
from gateway import i18n, lint, triggers, variables as declared_variables
from gateway.yaml_source import YamlSource, format_path, load_yaml

NECESSARY = "necessary"
DEFAULT_MAX_AGE_DAYS = 180  # six months, the re-ask interval most EU regulators recommend
# POST /consent per client address: a visitor sends one or two; room for a few behind one NAT.
DEFAULT_CONSENT_RATE_LIMIT = (60, 60)  # (requests, per_seconds)

# The default language's texts are English unless the site says otherwise; every language's come from
# gateway/languages/<code>.yaml (gateway/i18n.py) and the owner's overrides.
DEFAULT_BANNER = {
    **i18n.bundled("en")["banner"],
    "floating_button": True,
    "accent_color": "#1f4fd1",
    "layout": "modal",          # the look (consent_ui/banner.css): today's centred card
    "theme": "light",           # not the OS's: a light store gets a light banner unless it says auto
    "fab_position": "bottom-left",
    "language": "en",  # the default language: the dialogs' lang attribute, and what the consent log records
}
NECESSARY_DEFAULT = dict(i18n.bundled("en")["necessary"])

# Google Consent Mode v2: the consent types gtag knows, and which categories grant each by default
# (only the declared ones count). Storage needed for the store itself to work is `necessary`.
GOOGLE_CONSENT_DEFAULTS = {
    "ad_storage": ("marketing",),
    "analytics_storage": ("analytics",),
    "ad_user_data": ("marketing",),
    "ad_personalization": ("marketing",),
    "functionality_storage": (NECESSARY,),
    "personalization_storage": (),
    "security_storage": (NECESSARY,),
}

# Tag kinds with a restricted mode for visitors who opted out of sale/sharing (`after_opt_out: restricted`).
RESTRICTED_MODES = {"meta_pixel": "Limited Data Use", "google_ads": "restricted data processing"}
GENERIC_KINDS = tuple(GENERIC)  # the gateway's own kinds (image, script), not vendor templates

# Which optional trigger keys each trigger type accepts (gateway/triggers.py).
TRIGGER_KEYS = triggers.TRIGGER_KEYS


@dataclass(frozen=True)
class Category:
    key: str
    label: str         # in the site's default language
    description: str
    sale_or_sharing: bool = False
    # Every offered language's texts (language -> text); the default language's are label/description.
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    descriptions: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    def in_language(self, language: str) -> "Category":
        """This category as a visitor reading `language` sees it (the dialogs, the consent record)."""
        return Category(self.key, self.labels.get(language, self.label),
                        self.descriptions.get(language, self.description), self.sale_or_sharing)


@dataclass(frozen=True)
class Tag:
    id: str
    name: str
    category: str
    trigger: dict[str, Any]
    kind: str
    compiled: dict[str, Any]
    enabled: bool = True
    hosts: tuple[str, ...] = ()  # extra hosts (and path prefixes) the consent firewall keeps for this tag
    restricted: bool = False     # after an opt-out (opt-out regions): keeps firing in the vendor's restricted mode
    firing: dict[str, Any] = field(default_factory=dict)  # fire / delay_ms as the runtime reads them (triggers.py)
    setup: str | None = None     # id of a tag to fire first, once per page
    vendor: dict[str, Any] | None = None  # image/script: the owner's disclosure (privacy_policy, cookies)
    server_side: str | None = None  # "also" / "only": its events also (or only) go through POST /collect (gateway/forwarding)
    user_data: dict[str, Any] | None = None  # compiled email/phone placeholders, sent only to /collect (server_side)

    @property
    def vendor_key(self) -> str:
        """Whom the tag's data goes to, as the preferences list it and per-vendor choices name it: a vendor
        template's key (`meta_pixel`), or `tag-<id>` for an image or script tag (a template's key never has
        a `-`, so the two never clash)."""
        return f"tag-{self.id}" if self.kind in GENERIC_KINDS else self.kind


@dataclass(frozen=True)
class Site:
    name: str
    allowed_origins: tuple[str, ...]
    policy_version: int
    privacy_policy_url: str
    cookie_domain: str | None = None
    cookie_name: str = CONSENT_COOKIE  # the consent cookie's name: tg_consent unless the site names another
    consent_max_age_days: int = DEFAULT_MAX_AGE_DAYS
    consent_firewall: bool = True
    # Off unless the owner turns it on: it makes inert markup run, so a store whose pages could carry
    # visitor-written HTML must not get it by default (README "Auto-blocking in the store's own HTML").
    auto_blocking: bool = False
    # Off unless the owner turns it on: one switch per vendor inside each category (gateway/vendor_choice.py).
    vendor_choice: bool = False
    acceptance_max_age_days: int | None = None  # None: consent_max_age_days
    refusal_max_age_days: int | None = None
    trusted_proxies: tuple[str, ...] = DEFAULT_TRUSTED_PROXIES
    id: str | None = None  # names the site in its consent tokens (gateway.consent.site_claim)
    consent_rate_limit: tuple[int, int] | None = DEFAULT_CONSENT_RATE_LIMIT  # None: off

    @property
    def consent_max_age_seconds(self) -> int:
        """The longest a choice of either kind may live (the cookie's lifetime)."""
        return max(self.acceptance_max_age_seconds, self.refusal_max_age_seconds)

    @property
    def acceptance_max_age_seconds(self) -> int:
        return (self.acceptance_max_age_days or self.consent_max_age_days) * 86400

    @property
    def refusal_max_age_seconds(self) -> int:
        return (self.refusal_max_age_days or self.consent_max_age_days) * 86400


@dataclass(frozen=True)
class Config:
    directory: Path
    site: Site
    categories: tuple[Category, ...]
    banner: dict[str, Any]
    tags: tuple[Tag, ...]
    files: tuple[Path, ...] = field(default=())
    # Google Consent Mode: consent type -> categories that grant it, plus the two `set` options.
    google_consent: dict[str, Any] = field(default_factory=dict)
    regions: RegionRules = field(default_factory=RegionRules)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> compiled (variables.py)
    # What is valid but cannot work as written (e.g. {{ event.x }} that a trigger's events never hold).
    warnings: tuple[Problem, ...] = ()
    # The languages the site offers, its default (banner["language"]) first, and every text of each,
    # complete (gateway/i18n.py TEXT_KEYS). Empty only for a Config made by hand: banner holds the texts.
    languages: tuple[str, ...] = ()
    texts: dict[str, dict[str, str]] = field(default_factory=dict)
    forwarding: Forwarding = field(default_factory=Forwarding)  # the `forwarding:` block (server-side events)

    @property
    def language(self) -> str:
        return str(self.banner["language"])

    def offered(self, language: str | None) -> str:
        """`language` if the site offers it, else the default: what is rendered and recorded."""
        return language if language in self.texts else self.language

    def banner_in(self, language: str | None) -> dict[str, Any]:
        """The banner settings with the texts of `language` (the default when it is not offered)."""
        language = self.offered(language)
        return {**self.banner, **self.texts.get(language, {}), "language": language}

    def categories_in(self, language: str | None) -> tuple[Category, ...]:
        language = self.offered(language)
        return tuple(c.in_language(language) for c in self.categories)

    @property
    def sale_categories(self) -> tuple[str, ...]:
        return tuple(c.key for c in self.categories if c.sale_or_sharing)

    @property
    def category_keys(self) -> tuple[str, ...]:
        return tuple(c.key for c in self.categories)


def config_files(directory: Path) -> list[Path]:
    """The *.yaml files of the folder, symbolic links included so that a bad one is reported, not skipped."""
    return sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and (p.is_symlink() or p.is_file()))


def _link_problem(directory: Path, path: Path) -> Problem | None:
    """A link is read only when it leads to a file inside the config folder.

    A link out (`leak.yaml -> /etc/passwd`) would put another file's contents into error messages and
    logs; the problem names the link, never its target. Links between files of the folder are fine.
    """
    if not path.is_symlink():
        return None
    name = display_path(path)
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return Problem(name, 0, "", "is a symbolic link that leads nowhere (missing target or a loop); remove it")
    if not target.is_relative_to(directory.resolve()):
        return Problem(name, 0, "", "is a symbolic link to a file outside the config folder and is not read; "
                                    "copy that file into the folder instead")
    if not target.is_file():
        return Problem(name, 0, "", "is a symbolic link to something that is not a file; remove it")
    return None


def _unexpected(where: str, exc: BaseException) -> Problem:
    """A failure nobody foresaw still reaches the owner as a problem, never as a traceback."""
    detail = f"{type(exc).__name__}: {exc}"
    return Problem(where, 0, "", f"could not be checked ({detail[:200]}); please report this to the gateway's developers")


def load_config(directory: str | Path) -> Config:
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError([Problem(display_path(directory), 0, "", "no such directory; pass the folder that holds your *.yaml tag files")])
    files = config_files(directory)
    if not files:
        raise ConfigError([Problem(display_path(directory), 0, "", "no *.yaml files here; start from the example in tag_configs/")])

    problems: list[Problem] = []
    sources: list[YamlSource] = []
    broken: dict[Path, set[tuple]] = {}
    unparsable = False
    for path in files:
        link_problem = _link_problem(directory, path)
        if link_problem is not None:
            problems.append(link_problem)
            unparsable = True
            continue
        try:
            source, parse_problems = load_yaml(path)
            problems.extend(parse_problems)
            unparsable = unparsable or source is None
            if source is None or source.data is None:  # unparsable, or empty / comment-only
                continue
            schema_problems, bad_paths = validate_source(source)
        except Exception as exc:  # MemoryError and RecursionError included
            problems.append(_unexpected(display_path(path), exc))
            unparsable = True
            continue
        problems.extend(schema_problems)
        if () in bad_paths:
            continue  # not even a mapping of the known top-level keys
        sources.append(source)
        broken[path] = bad_paths
    try:
        return _merge(directory, files, sources, broken, problems, unparsable)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError([*problems, _unexpected(display_path(directory), exc)]) from exc


def _merge(directory: Path, files: list[Path], sources: list[YamlSource],
           broken: dict[Path, set[tuple]], problems: list[Problem], unparsable: bool) -> Config:
    """Merge the files and run the cross-checks on every part the schema accepted."""

    def is_broken(source: YamlSource, path: tuple) -> bool:
        return any(bad[:len(path)] == path for bad in broken[source.path])

    def report(source: YamlSource, path: tuple, message: str) -> None:
        problems.append(Problem(source.name, source.line_of(path), format_path(path), message))

    site_sources = [s for s in sources if "site" in s.data]
    for extra in site_sources[1:]:
        first = site_sources[0]
        report(extra, ("site",), f"`site` is already defined in {first.name}:{first.line_of(('site',))}; define it once")
    for source in site_sources[:1]:
        proxies = source.data["site"].get("trusted_proxies") if isinstance(source.data["site"], dict) else None
        for index, bad in enumerate(proxies if isinstance(proxies, list) else ()):
            if isinstance(bad, str) and bad in invalid_networks([bad]):
                report(source, ("site", "trusted_proxies", index), f"{bad!r} is not an IP address or network (like 127.0.0.1, ::1 or 10.0.0.0/8)")
    if not site_sources and not unparsable:  # a file we could not read may well hold the site
        problems.append(Problem(display_path(directory), 0, "", "no file defines `site:` (name, allowed_origins, policy_version, privacy_policy_url)"))

    categories: dict[str, Category] = {NECESSARY: Category(NECESSARY, **NECESSARY_DEFAULT)}
    category_where: dict[str, str] = {}
    category_specs: dict[str, tuple[YamlSource, dict]] = {}
    banner = dict(DEFAULT_BANNER)
    banner_where: dict[str, str] = {}
    banner_sources: dict[str, YamlSource] = {}
    for source in sources:
        declared = {} if ("categories",) in broken[source.path] else source.data.get("categories", {})
        for key, spec in declared.items():
            if is_broken(source, ("categories", key)):
                continue
            if key in category_where:
                report(source, ("categories", key), f"category '{key}' is already declared in {category_where[key]}")
                continue
            category_where[key] = f"{source.name}:{source.line_of(('categories', key))}"
            category_specs[key] = (source, spec)
            categories[key] = Category(key, "", "", spec.get("sale_or_sharing", False))  # texts: _languages
        for key, value in ({} if ("banner",) in broken[source.path] else source.data.get("banner", {})).items():
            if is_broken(source, ("banner", key)):
                continue  # reported by the schema; the defaults stand in while the other checks run
            if key in banner_where:
                report(source, ("banner", key), f"banner.{key} is already set in {banner_where[key]}")
                continue
            banner_where[key] = f"{source.name}:{source.line_of(('banner', key))}"
            banner_sources[key] = source
            banner[key] = value

    google_consent = _google_consent(sources, broken, categories, report)
    regions = _regions(sources, broken, report)
    language_warnings: list[Problem] = []
    # The placeholder texts of blocked embeds matter only where auto-blocking is on.
    embeds = bool(site_sources and isinstance(site_sources[0].data.get("site"), dict)
                  and site_sources[0].data["site"].get("auto_blocking") is True)
    languages, texts = _languages(banner, banner_sources, categories, category_specs, regions, embeds, report,
                                  lambda s, path, message: language_warnings.append(
                                      Problem(s.name, s.line_of(path), format_path(path), f"warning: {message}")))

    tags: list[Tag] = []
    tag_where: dict[str, str] = {}
    tag_sources: dict[str, tuple[YamlSource, tuple]] = {}
    all_ids: set[str] = set()  # every tag id in the files, valid or not
    for source in sources:
        listed = [] if ("tags",) in broken[source.path] else source.data.get("tags", [])
        for index, spec in enumerate(listed):
            if isinstance(spec, dict) and isinstance(spec.get("id"), str):
                all_ids.add(spec["id"])
            if is_broken(source, ("tags", index)):
                continue
            tag = _check_tag(source, ("tags", index), spec, categories, report)
            if tag is None:
                continue
            if tag.id in tag_where:
                report(source, ("tags", index, "id"), f"tag id '{tag.id}' is already used in {tag_where[tag.id]}; ids must be unique")
                continue
            tag_where[tag.id] = f"{source.name}:{source.line_of(('tags', index, 'id'))}"
            tags.append(tag)
            tag_sources[tag.id] = (source, ("tags", index))

    _check_setups(tags, tag_sources, all_ids, report)
    compiled_variables = _variables(sources, broken, report)
    _check_variable_uses(tags, compiled_variables, tag_sources, report)
    warnings = _placeholder_warnings(tags, tag_sources) + language_warnings
    forwarding = _forwarding(sources, broken, report)
    warnings += _credential_warnings(tags, tag_sources) + _conversion_warnings(tags, tag_sources)
    # The law and dark patterns (gateway/lint.py): its refusals are problems like these, its doubts warnings.
    lint.check(sources, broken, list(categories), {**banner, "texts": texts}, report,
               lambda s, path, message: warnings.append(Problem(s.name, s.line_of(path), format_path(path), message)))

    if not any(isinstance(s.data.get("banner"), dict) and "layout" in s.data["banner"] and "layout" not in banner_where
               for s in sources):  # a layout the schema refused: that is the problem to report, not the position
        _check_position(banner, banner_sources, report)

    if problems:
        raise ConfigError(problems)
    banner["accent_text"] = lint.text_on_accent(banner["accent_color"])  # --tg-accent-text (fab.html.j2)
    # The dark theme's accent: the owner's, else the accent or a lighter shade of it that reads on the dark
    # background (what the lint checks); only rendered for theme dark or auto.
    banner["dark_accent"] = banner.get("dark_accent_color") or lint.dark_accent(banner["accent_color"])
    banner["dark_accent_text"] = lint.text_on_accent(banner["dark_accent"])
    banner.setdefault("position", LAYOUT_POSITIONS[banner["layout"]][0] if LAYOUT_POSITIONS[banner["layout"]] else None)
    site_spec = site_sources[0].data["site"]
    site = Site(
        name=site_spec["name"],
        allowed_origins=tuple(site_spec["allowed_origins"]),
        policy_version=site_spec["policy_version"],
        privacy_policy_url=site_spec["privacy_policy_url"],
        cookie_domain=site_spec.get("cookie_domain"),
        cookie_name=site_spec.get("cookie_name", CONSENT_COOKIE),
        consent_max_age_days=site_spec.get("consent_max_age_days", DEFAULT_MAX_AGE_DAYS),
        consent_firewall=site_spec.get("consent_firewall", True),
        auto_blocking=site_spec.get("auto_blocking", False),
        vendor_choice=site_spec.get("vendor_choice", False),
        acceptance_max_age_days=site_spec.get("acceptance_max_age_days"),
        refusal_max_age_days=site_spec.get("refusal_max_age_days"),
        trusted_proxies=tuple(site_spec.get("trusted_proxies", DEFAULT_TRUSTED_PROXIES)),
        id=site_spec.get("id"),
        consent_rate_limit=_rate_limit(site_spec.get("consent_rate_limit", True)),
    )
    banner.pop("languages", None)
    banner.pop("texts", None)
    banner.update(texts[languages[0]])  # the flat keys, as before: the default language's texts
    config = Config(directory, site, tuple(categories.values()), banner, tuple(tags), tuple(files), google_consent,
                    regions, compiled_variables, (), languages, texts, forwarding)
    from gateway import consent_cookie  # it reads a built Config (and vendor_choice imports this module)

    too_large = consent_cookie.warning(config)
    if too_large:
        source = site_sources[0]
        warnings.append(Problem(source.name, source.line_of(("site",)), format_path(("site",)), too_large))
    removed_with = _vendor_cookie_named_like_consent(config)
    if removed_with:
        source, at = site_sources[0], ("site", "cookie_name")
        raise ConfigError([Problem(source.name, source.line_of(at), format_path(at), removed_with)])
    return replace(config, warnings=tuple(sorted(warnings)))


def _vendor_cookie_named_like_consent(config: Config) -> str | None:
    """The container removes the cookies of every vendor no allowed tag uses (consent_ui/runtime.js deleteCookies):
    one whose name or pattern matched the consent cookie would remove the visitor's choice with them."""
    name = config.site.cookie_name
    for tag in config.tags:
        vendor = VENDORS.get(tag.kind)
        for pattern in vendor.cookies if vendor is not None else ():
            if name.startswith(pattern[:-1]) if pattern.endswith("*") else name == pattern:
                return (f"the consent cookie's name '{name}' is also {vendor.name}'s cookie '{pattern}', which the "
                        "container removes when that vendor is not allowed: choose another site.cookie_name")
    return None


# The positions each banner layout takes, its default first (banner.css: .tg-<layout>.tg-<position>).
LAYOUT_POSITIONS = {"modal": (), "box": ("bottom-right", "bottom-left"), "bar": ("bottom", "top")}


def _check_position(banner: dict[str, Any], where: dict[str, YamlSource], report) -> None:
    """A position must fit the layout: a box sits in a corner, a bar at an edge, a modal is centred."""
    position, layout = banner.get("position"), banner["layout"]
    if "position" not in where or layout not in LAYOUT_POSITIONS or position in LAYOUT_POSITIONS[layout]:
        return
    fits = LAYOUT_POSITIONS[layout]
    report(where["position"], ("banner", "position"),
           f"a {layout} banner cannot sit at {position!r}: " + (f"use {' or '.join(fits)}" if fits else
           "it is centred at the bottom; remove position, or use layout: box (bottom-left, bottom-right) or bar "
           "(bottom, top)"))


def _languages(banner: dict[str, Any], where: dict[str, YamlSource], categories: dict[str, Category],
               category_specs: dict[str, tuple[YamlSource, dict]], regions: RegionRules, embeds: bool, report, warn
               ) -> tuple[tuple[str, ...], dict[str, dict[str, str]]]:
    """The offered languages (the default first) and every text of each; fills the categories' texts.

    A language's texts: its bundled file (by primary subtag: de-CH starts from de.yaml), then the owner's
    `banner.texts.<language>`; the flat `banner.<key>` texts are overrides of the default language, as
    they were before there were languages. A language with no bundled file must be written out by the
    owner: whatever it leaves out is shown in English and `validate` warns, naming the keys, so a
    half-translated banner never goes unnoticed. Category texts are one string for every language, or a
    map by language."""
    listed = banner.get("languages")
    default = banner["language"] if "language" in where or not listed else listed[0]
    offered = [default] + [tag for tag in (listed or []) if tag != default]
    banner["language"] = default
    if listed and default not in listed:
        report(where["language"], ("banner", "language"), f"the default language {default!r} is not among "
               f"banner.languages ({', '.join(listed)}); add it there, or pick one of them")
    overrides: dict[str, dict[str, str]] = {tag: {} for tag in offered}
    for key in i18n.TEXT_KEYS:
        if key in where:
            overrides[default][key] = banner[key]
    per_language = banner.get("texts") or {}
    for tag, own in per_language.items():
        source = where["texts"]
        if tag not in overrides:
            warn(source, ("banner", "texts", tag), f"{tag!r} is not an offered language (banner.languages: "
                 f"{', '.join(offered)}), so these texts are never shown; add it to banner.languages or remove them")
            continue
        for key, value in own.items():
            if key in overrides[tag]:
                report(source, ("banner", "texts", tag, key), f"the text is also set as banner.{key} (the default "
                       f"language's); set it in one place")
            else:
                overrides[tag][key] = value
    needed = [k for k in i18n.TEXT_KEYS if (regions.has_opt_out or k not in i18n.OPT_OUT_KEYS)
              and (embeds or k not in i18n.EMBED_KEYS)]
    english = i18n.bundled(i18n.FALLBACK)
    texts: dict[str, dict[str, str]] = {}
    for tag in offered:
        base = i18n.bundled_base(tag)
        texts[tag] = {**(i18n.bundled(base)["banner"] if base else english["banner"]), **overrides[tag]}
        if base is None:
            missing = [k for k in needed if k not in overrides[tag]]
            if NECESSARY not in category_specs:
                missing.append("categories.necessary (label and description)")
            if missing:
                if tag in per_language:
                    source, at = where["texts"], ("banner", "texts", tag)
                elif tag == default and "language" in where:
                    source, at = where["language"], ("banner", "language")
                else:
                    source, at = where["languages"], ("banner", "languages", listed.index(tag))
                warn(source, at,
                     f"{tag!r} has no bundled texts ({', '.join(i18n.BUNDLED)} have), and these are not translated, so "
                     f"visitors reading {tag} see them in English: {', '.join(missing)}; set them in "
                     f"banner.texts.{tag}")

    for key, category in list(categories.items()):
        if key in category_specs:
            source, spec = category_specs[key]
            labels = _category_texts(source, key, "label", spec["label"], offered, warn)
            descriptions = _category_texts(source, key, "description", spec["description"], offered, warn)
        else:  # the built-in `necessary`: bundled per language
            labels = {tag: i18n.bundled(i18n.bundled_base(tag) or i18n.FALLBACK)["necessary"]["label"] for tag in offered}
            descriptions = {tag: i18n.bundled(i18n.bundled_base(tag) or i18n.FALLBACK)["necessary"]["description"]
                            for tag in offered}
        categories[key] = Category(key, labels[default], descriptions[default], category.sale_or_sharing,
                                   labels, descriptions)
    return tuple(offered), texts


def _category_texts(source: YamlSource, key: str, field_name: str, value: str | dict[str, str],
                    offered: list[str], warn) -> dict[str, str]:
    """A category's label or description for every offered language."""
    path = ("categories", key, field_name)
    if isinstance(value, str):
        if len(offered) > 1:
            warn(source, path, f"is one text for every offered language ({', '.join(offered)}): visitors see it as "
                 f"written whatever their language; give it per language ({{{offered[0]}: ..., {offered[1]}: ...}})")
        return {tag: value for tag in offered}
    for tag in value:
        if tag not in offered:
            warn(source, path + (tag,), f"{tag!r} is not an offered language (banner.languages: {', '.join(offered)}), "
                 "so this text is never shown")
    missing = [tag for tag in offered if tag not in value]
    fallback = value.get(offered[0]) or next(iter(value.values()))
    if missing:
        warn(source, path, f"has no text for {', '.join(missing)}: visitors reading it see {fallback!r}; add "
             f"{', '.join(missing)} to the map")
    return {tag: value.get(tag, fallback) for tag in offered}


def _placeholder_warnings(tags: list[Tag], where: dict[str, tuple[YamlSource, tuple]]) -> list[Problem]:
    found = []
    for tag in tags:
        source, path = where[tag.id]
        spec = source.data
        for key in path:
            spec = spec[key]
        fields = {path + leaf: value for leaf, value in _leaves({tag.kind: spec[tag.kind], "trigger": spec["trigger"],
                                                                 "fire": spec.get("fire")})}
        for at, message in triggers.placeholder_warnings(spec["trigger"], fields):
            found.append(Problem(source.name, source.line_of(at), format_path(at), f"warning: {message}"))
    return found


def _leaves(value: Any, path: tuple = ()) -> list[tuple[tuple, str]]:
    """Every string inside `value`, with its path."""
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _leaves(v, path + (k,))]
    if isinstance(value, list):
        return [leaf for i, v in enumerate(value) for leaf in _leaves(v, path + (i,))]
    return [(path, value)] if isinstance(value, str) else []


def _check_setups(tags: list[Tag], where: dict[str, tuple[YamlSource, tuple]], all_ids: set[str], report) -> None:
    """`setup:` names an enabled tag that has no setup of its own (one level, no chains)."""
    by_id = {tag.id: tag for tag in tags}
    for tag in tags:
        if tag.setup is None or (tag.setup in all_ids and tag.setup not in by_id):
            continue  # none, or a tag with problems of its own (reported there)
        source, path = where[tag.id]
        target = by_id.get(tag.setup)
        if target is None:
            close = difflib.get_close_matches(tag.setup, list(by_id), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            report(source, path + ("setup",), f"no tag has the id '{tag.setup}'{hint}")
        elif target.id == tag.id or target.setup is not None:
            report(source, path + ("setup",), f"'{tag.setup}' cannot be a setup tag here: a setup tag fires first and has "
                   "no setup of its own")
        elif not target.enabled and tag.enabled:
            report(source, path + ("setup",), f"setup tag '{tag.setup}' is disabled (enabled: false), so this tag could never fire")


def _check_variable_uses(tags: list[Tag], declared: dict[str, dict[str, Any]],
                         where: dict[str, tuple[YamlSource, tuple]], report) -> None:
    for tag in tags:
        used = declared_variables.used_names([tag.compiled, triggers.compile_trigger(tag.trigger), tag.firing])
        for name in sorted(used - set(declared)):
            source, path = where[tag.id]
            close = difflib.get_close_matches(name, list(declared), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            known = f"declared: {', '.join(declared)}" if declared else "declare it under `variables:`"
            report(source, path, f"{{{{ var.{name} }}}} is not a declared variable{hint}; {known}")


def _variables(sources: list[YamlSource], broken: dict[Path, set[tuple]], report) -> dict[str, dict[str, Any]]:
    compiled: dict[str, dict[str, Any]] = {}
    where: dict[str, tuple[YamlSource, str]] = {}
    for source in sources:
        declared = {} if ("variables",) in broken[source.path] else source.data.get("variables", {})
        for name, spec in declared.items():
            if any(bad[:2] == ("variables", name) for bad in broken[source.path]):
                continue
            if name in where:
                first, line = where[name]
                report(source, ("variables", name), f"variable '{name}' is already declared in {first.name}:{line}")
                continue
            where[name] = (source, str(source.line_of(("variables", name))))
            problems = declared_variables.check(name, spec)
            for path, message in problems:
                report(source, ("variables", name) + path, message)
            if not problems:
                compiled[name] = declared_variables.compile_variable(spec)
    for name, spec in compiled.items():
        for missing in sorted(declared_variables.used_names(spec) - set(where)):
            report(where[name][0], ("variables", name), f"{{{{ var.{missing} }}}} is not a declared variable")
    loop = declared_variables.cycle(compiled)
    if loop:
        source, _ = where[loop[0]]
        report(source, ("variables", loop[0]), "variables use each other in a circle: " + " -> ".join(loop))
    return compiled


def _rate_limit(value: bool | dict[str, int]) -> tuple[int, int] | None:
    """`site.consent_rate_limit` (schema-checked): true is the default, false turns it off."""
    if value is True:
        return DEFAULT_CONSENT_RATE_LIMIT
    return (value["requests"], value["per_seconds"]) if value else None


def _regions(sources: list[YamlSource], broken: dict[Path, set[tuple]], report) -> RegionRules:
    """`regions`, defined in at most one file; without it every visitor is an opt-in visitor."""
    found = [s for s in sources if "regions" in s.data and not any(b[:1] == ("regions",) for b in broken[s.path])]
    for extra in found[1:]:
        report(extra, ("regions",), f"`regions` is already defined in {found[0].name}; define it once")
    if not found:
        return RegionRules()
    spec = found[0].data["regions"]
    for code in overlapping_codes(spec.get("opt_in", ()), spec.get("opt_out", ())):
        report(found[0], ("regions", "opt_out"), f"{code} is listed under both opt_in and opt_out; a place has one rule")
    return RegionRules.from_spec(spec)


def _google_consent(sources: list[YamlSource], broken: dict[Path, set[tuple]],
                    categories: dict[str, Category], report) -> dict[str, Any]:
    """`google_consent_mode`, defined in at most one file, with defaults for what it leaves out.

    A part that failed the schema is checked no further (the config is refused anyway)."""
    found = [s for s in sources if "google_consent_mode" in s.data and ("google_consent_mode",) not in broken[s.path]]
    for extra in found[1:]:
        report(extra, ("google_consent_mode",), f"`google_consent_mode` is already defined in {found[0].name}; define it once")
    spec = found[0].data["google_consent_mode"] if found else {}
    types: dict[str, list[str]] = {}
    for consent_type, default in GOOGLE_CONSENT_DEFAULTS.items():
        granted_by = spec.get(consent_type)
        if granted_by is not None and any(bad[:2] == ("google_consent_mode", consent_type) for bad in broken[found[0].path]):
            continue
        if granted_by is None:
            types[consent_type] = [c for c in default if c in categories]
            continue
        for index, key in enumerate(granted_by):
            if key not in categories:
                report(found[0], ("google_consent_mode", consent_type, index),
                       f"category '{key}' is not declared; declared: {', '.join(categories)}")
        types[consent_type] = list(granted_by)
    return {"types": types, "ads_data_redaction": spec.get("ads_data_redaction", True),
            "url_passthrough": spec.get("url_passthrough", False)}


def _check_tag(source: YamlSource, path: tuple, spec: dict, categories: dict[str, Category], report) -> Tag | None:
    ok = True
    if spec["category"] not in categories:
        known = list(categories)
        close = difflib.get_close_matches(spec["category"], known, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        report(source, path + ("category",),
               f"category '{spec['category']}' is not declared{hint}; declared: {', '.join(known)}")
        ok = False

    trigger = spec["trigger"]
    for where, message in triggers.check_trigger(trigger):
        report(source, path + ("trigger",) + where, message)
        ok = False
    for where, message in triggers.check_firing(spec):
        report(source, path + where, message)
        ok = False

    kinds = [k for k in KINDS if k in spec]
    if len(kinds) != 1:
        found = f"found {', '.join(kinds)}" if kinds else "found none"
        report(source, path, f"a tag fires exactly one thing: give it one of {', '.join(KINDS)} ({found})")
        return None
    kind = kinds[0]
    if "vendor" in spec and kind not in GENERIC_KINDS:
        report(source, path + ("vendor",), f"{kind} brings its own vendor information (gateway/vendors/{kind}/vendor.yaml); "
               "`vendor` is for image and script tags")
        ok = False
    if spec.get("after_opt_out") == "restricted":
        if kind not in RESTRICTED_MODES:
            modes = ", ".join(f"{k} ({m})" for k, m in RESTRICTED_MODES.items())
            report(source, path + ("after_opt_out",), f"{kind} has no restricted mode; only {modes} do")
            ok = False
        elif spec["category"] in categories and not categories[spec["category"]].sale_or_sharing:
            report(source, path + ("after_opt_out",),
                   f"category '{spec['category']}' is not sale_or_sharing: there is no opt-out to restrict for")
            ok = False
    if "server_side" in spec:
        if kind not in forwarding_settings.SERVER_SIDE_VENDORS:
            report(source, path + ("server_side",), f"{kind} has no server-side adapter; server_side is for "
                   f"{', '.join(forwarding_settings.SERVER_SIDE_VENDORS)}")
            ok = False
        elif kind in forwarding_settings.NO_DEDUPLICATION and spec["server_side"] == "also":
            report(source, path + ("server_side",), f"{kind} cannot send an event both ways: GA4 does not "
                   "de-duplicate by event id, so every purchase would count twice; use server_side: only "
                   "(the browser tag then sends nothing) or remove server_side")
            ok = False
    if "user_data" in spec:
        if "server_side" not in spec:
            report(source, path + ("user_data",), "user_data goes only to the gateway for server-side forwarding: "
                   "add server_side (also or only), or remove user_data")
            ok = False
        for error in placeholder_errors(spec["user_data"]):
            report(source, path + ("user_data",) + error.path, str(error))
            ok = False
    # A kind may check its own fields (script: `init` is code, where placeholders are not filled in).
    check = getattr(KINDS[kind], "problems", None)
    for where, message in (check(spec[kind]) if check else [(e.path, str(e)) for e in placeholder_errors(spec[kind])]):
        report(source, path + (kind,) + where, message)
        ok = False
    if not ok:
        return None
    compiled = KINDS[kind].compile(spec[kind], trigger)
    if kind == "tiktok_pixel" and spec.get("server_side") == "also" and compiled.pop("page", None):
        # TikTok's page call, ttq.page(), takes no event id, so TikTok could not tell its page view and the Events
        # API's apart and would count both. Sent both ways, the browser sends the page view as the event the API
        # gets, ttq.track('Pageview', {}, {event_id}), with the id /collect gets (consent_ui/rules/server_side.js).
        compiled["event"] = "Pageview"
    return Tag(id=spec["id"], name=spec.get("name", spec["id"]), category=spec["category"],
               trigger=dict(trigger), kind=kind, compiled=compiled, enabled=spec.get("enabled", True),
               hosts=tuple(spec.get("hosts", ())), restricted=spec.get("after_opt_out") == "restricted",
               firing=triggers.compile_firing(spec), setup=spec.get("setup"), vendor=spec.get("vendor"),
               server_side=spec.get("server_side"),
               user_data=compile_value(spec["user_data"]) if "user_data" in spec else None)


def _forwarding(sources: list[YamlSource], broken: dict[Path, set[tuple]], report) -> Forwarding:
    """`forwarding`, defined in at most one file; what the schema cannot say about it is checked here."""
    found = [s for s in sources if "forwarding" in s.data and not any(b[:1] == ("forwarding",) for b in broken[s.path])]
    for extra in found[1:]:
        report(extra, ("forwarding",), f"`forwarding` is already defined in {found[0].name}; define it once")
    if not found:
        return Forwarding()
    spec = found[0].data["forwarding"]
    for vendor, mapping in (spec.get("vendors") or {}).items():
        if vendor in forwarding_settings.USER_AGENT_REQUIRED and (mapping or {}).get("user_agent") == "reduce":
            report(found[0], ("forwarding", "vendors", vendor, "user_agent"),
                   f"{vendor} requires the full user agent for website events (client_user_agent): use send")
        try:
            forwarding_settings.transforms_from(mapping or {})
        except (TypeError, ValueError) as exc:
            report(found[0], ("forwarding", "vendors", vendor), str(exc))
    return Forwarding.from_spec(spec)


def _credential_warnings(tags: list[Tag], where: dict[str, tuple[YamlSource, tuple]]) -> list[Problem]:
    """A server-side tag without its API credential: a warning, not an error, so a store's CI without the
    production secrets still validates; the gateway drops its events (counted) and /healthz counts it."""
    found = []
    for tag in tags:
        if tag.server_side is None or not tag.enabled:
            continue
        account = credentials.account_of(tag)
        if credentials.lookup(tag.kind, account) is None:
            source, path = where[tag.id]
            at = path + ("server_side",)
            found.append(Problem(source.name, source.line_of(at), format_path(at),
                                 f"warning: {credentials.missing_text(tag.kind, account)}: its events are not forwarded"))
    return found


# Vendor templates whose tag without this key is the base tag: it loads the library (which sends the
# vendor's page view by itself) whatever the trigger, and sends no conversion; what the key names.
CONVERSION_KEYS = {
    "linkedin_insight": ("conversion_id", "the numeric id of a conversion created in Campaign Manager"),
    "x_pixel": ("event_id", "the event id X Events Manager shows after tw-<pixel id>-"),
}


def _conversion_warnings(tags: list[Tag], where: dict[str, tuple[YamlSource, tuple]]) -> list[Problem]:
    """A LinkedIn or X tag without its conversion (event) id on a trigger other than a page view, or with
    `params`: the owner most likely wanted a conversion, and none is sent. A warning: the tag is valid."""
    found = []
    for tag in tags:
        if tag.kind not in CONVERSION_KEYS:
            continue
        key, what = CONVERSION_KEYS[tag.kind]
        source, path = where[tag.id]
        spec = source.data
        for step in path:
            spec = spec[step]
        settings = spec[tag.kind] if isinstance(spec.get(tag.kind), dict) else {}
        occurrence = triggers.occurrence_name(tag.trigger)
        if key in settings or (occurrence == "page_view" and "params" not in settings):
            continue
        vendor = VENDORS[tag.kind]
        kind = vendor.events.get(occurrence)
        on = "its params are never sent" if occurrence == "page_view" else f"sends no conversion on {occurrence!r}"
        found.append(Problem(source.name, source.line_of(path + (tag.kind,)), format_path(path + (tag.kind,)),
                             f"warning: tag '{tag.id}' has no {key}: it only loads the {vendor.name} (its page view) and "
                             f"{on}; add {key}: {what}" + (f" (of the type {kind})" if kind else "")))
    return found
