"""A consent decision as the HTTP layer hands it to the log, and a record as the log keeps it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

ACTIONS = ("accept_all", "reject_all", "custom", "opt_out_link", "gpc")
RULES = ("opt_in", "opt_out")
MAX_CONSENT_ID = 64
# Column sizes, the same on SQLite and PostgreSQL: longer values are a caller's bug (ValueError),
# except the user agent, which comes from the browser and is cut to its first MAX_USER_AGENT characters.
MAX_LENGTHS = {"region": 16, "language": 35, "container_version": 128}
MAX_USER_AGENT = 512
# A site's name as the log keeps it: the folder name of a site in a root of several (gateway.sites.SITE_NAME)
# or a one-site folder's site.id (the schema): both at most 64 characters.
MAX_SITE = 64
NO_SITE = "(not recorded)"  # how the CLI shows a record without a site (written before migration 0003)


@dataclass(frozen=True)
class Decision:
    """One decision, complete: what `ConsentLog.record` stores (the IP only as `truncate_ip(ip)`).

    Lists given for `categories` and `offered` are kept as tuples; `decided_at` must be
    timezone-aware and is kept in UTC. Anything else malformed raises ValueError: that
    is a bug in the caller, not a database failure.
    """

    consent_id: str
    decided_at: datetime          # aware; stored in UTC
    action: str                   # one of ACTIONS
    categories: tuple[str, ...]   # allowed after the decision (incl. "necessary")
    offered: tuple[str, ...]      # categories the visitor was shown
    region: str | None            # e.g. "DE", "US-CA"; None when unknown
    rule: str                     # one of RULES
    gpc: bool                     # the Global Privacy Control signal was present
    policy_version: int
    container_version: str        # the container's ETag
    banner_texts: dict[str, str] = field(hash=False)  # the exact texts shown
    language: str                 # e.g. "en"
    ip: str | None                # full client IP as received; never stored as it is
    user_agent: str | None        # stored cut to MAX_USER_AGENT characters
    site: str | None = None       # the site that served the banner (gateway.sites.log_name); None: not named
    # Vendors refused one by one inside the allowed categories (site.vendor_choice); None: no per-vendor choice
    # was offered, so every vendor of an allowed category is allowed.
    vendors_refused: tuple[str, ...] | None = None
    # The vendors of the optional categories the visitor was shown when choosing (0005): what the choice was
    # made over, so a vendor added later is provably one they never saw. None: recorded before it existed.
    vendors_offered: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.consent_id, str) or not 0 < len(self.consent_id) <= MAX_CONSENT_ID:
            raise ValueError(f"consent_id must be a string of 1 to {MAX_CONSENT_ID} characters")
        if not isinstance(self.decided_at, datetime) or self.decided_at.utcoffset() is None:
            raise ValueError("decided_at must be a timezone-aware datetime")
        object.__setattr__(self, "decided_at", self.decided_at.astimezone(timezone.utc))
        if self.action not in ACTIONS:
            raise ValueError(f"action must be one of {', '.join(ACTIONS)}, not {self.action!r}")
        if self.rule not in RULES:
            raise ValueError(f"rule must be one of {', '.join(RULES)}, not {self.rule!r}")
        for name in ("categories", "offered"):
            value = tuple(getattr(self, name))
            if not all(isinstance(item, str) for item in value):
                raise ValueError(f"{name} must be strings")
            object.__setattr__(self, name, value)
        if not isinstance(self.banner_texts, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in self.banner_texts.items()):
            raise ValueError("banner_texts must map strings to strings")
        for name, limit in MAX_LENGTHS.items():
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or len(value) > limit):
                raise ValueError(f"{name} must be a string of at most {limit} characters")
        if self.language is None or self.container_version is None:
            raise ValueError("language and container_version are required")
        if self.user_agent is not None and not isinstance(self.user_agent, str):
            raise ValueError("user_agent must be a string or None")
        if isinstance(self.policy_version, bool) or not isinstance(self.policy_version, int):
            raise ValueError("policy_version must be an int")
        if not isinstance(self.gpc, bool):
            raise ValueError("gpc must be a bool")
        for name in ("vendors_refused", "vendors_offered"):
            if getattr(self, name) is not None:
                value = tuple(getattr(self, name))
                if not all(isinstance(v, str) and 0 < len(v) <= 80 for v in value):
                    raise ValueError(f"{name} must be None or vendor keys")
                object.__setattr__(self, name, value)
        if self.site is not None and (not isinstance(self.site, str) or not 0 < len(self.site) <= MAX_SITE):
            raise ValueError(f"site must be None or a string of 1 to {MAX_SITE} characters")


@dataclass(frozen=True)
class Record:
    """A stored decision: what the log holds for it (never the full IP), and its place in the chain."""

    seq: int                      # position in the hash chain: 1, 2, 3, ... (gap-free)
    consent_id: str
    decided_at: datetime          # aware, UTC
    action: str
    categories: tuple[str, ...]
    offered: tuple[str, ...]
    region: str | None
    rule: str
    gpc: bool
    policy_version: int
    container_version: str
    banner_texts_hash: str        # sha256 of the canonical JSON of the texts; the texts are stored once
    language: str
    ip_prefix: str | None         # "203.0.113.0/24" / "2001:db8:a::/48"; None when unknown or erased
    user_agent: str | None        # None when unknown or erased
    personal_digest: str          # salted sha256 over ip_prefix and user_agent; stays after erasure
    erased_at: datetime | None
    prev_hash: str
    record_hash: str
    site: str | None = None       # None: recorded before the log named sites (migration 0003), or not named
    vendors_refused: tuple[str, ...] | None = None  # None: no per-vendor choice (before 0004, or not offered)
    vendors_offered: tuple[str, ...] | None = None  # the vendors shown when choosing; None: recorded before 0005

    @property
    def erased(self) -> bool:
        return self.erased_at is not None
