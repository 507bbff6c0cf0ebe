"""The tables, as SQLAlchemy Core sees them. The migrations in `migrations/versions/` create them;
a change here needs a new migration there.

``banner_texts``     each distinct set of banner texts, once, keyed by its sha256.
``consent_records``  one row per decision, in chain order (``seq`` 1, 2, 3, ... without gaps), and the
                     site it was made on (``site``, since migration 0003), the vendors refused one by one
                     (``vendors_refused``, since 0004).
``chain_state``      one row (id 1): the chain's head (last seq and hash), which every writer
                     locks before appending, and its anchor (where it starts after a purge).
``event_outbox``     server-side events accepted by POST /collect, until (and after) their delivery (0006).
``event_drops``      counts of the events POST /collect dropped, per site, vendor, day and reason (0006).
``email_opens``      the e-mail open pixel (gateway/email_pixel.py): one row per campaign and
                     recipient who agreed to open tracking; the recipient is a pseudonym, never an address.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (JSON, BigInteger, Boolean, Column, DateTime, ForeignKey, Index, Integer, MetaData, String,
                        Table, Text, TypeDecorator, UniqueConstraint)

GENESIS = "0" * 64  # the "previous hash" of the very first record


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in and out, on PostgreSQL (timestamptz) and SQLite (text, no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError("naive datetime given to the consent log")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


metadata = MetaData()

banner_texts = Table(
    "banner_texts", metadata,
    Column("hash", String(64), primary_key=True),
    Column("texts", Text, nullable=False),          # canonical JSON: its sha256 is `hash`
    Column("first_seen", UTCDateTime, nullable=False),
)

consent_records = Table(
    "consent_records", metadata,
    # SQLite: INTEGER, so that seq is the rowid itself and not a second key (migration 0008).
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
    Column("consent_id", String(64), nullable=False, index=True),
    Column("decided_at", UTCDateTime, nullable=False, index=True),
    Column("action", String(16), nullable=False),
    Column("categories", JSON, nullable=False),
    Column("offered", JSON, nullable=False),
    Column("region", String(16)),
    Column("rule", String(8), nullable=False),
    Column("gpc", Boolean, nullable=False),
    Column("policy_version", Integer, nullable=False),
    Column("container_version", String(128), nullable=False),
    Column("banner_texts_hash", String(64), ForeignKey("banner_texts.hash"), nullable=False),
    Column("language", String(35), nullable=False),
    Column("ip_prefix", String(64)),
    Column("user_agent", Text),
    Column("personal_salt", String(32)),            # erased with the personal fields
    Column("personal_digest", String(64), nullable=False),
    Column("erased_at", UTCDateTime),
    Column("prev_hash", String(64), nullable=False),
    Column("record_hash", String(64), nullable=False),  # not unique: the chain covers it (0007)
    # The site that served the banner (0003); NULL in records written before the log named sites.
    Column("site", String(64)),
    # The vendors refused one by one inside allowed categories (0004, site.vendor_choice); NULL: no per-vendor
    # choice was offered (every record before 0004, and sites without it).
    Column("vendors_refused", JSON(none_as_null=True)),
    # The vendors of the optional categories shown when the visitor chose (0005); NULL in records before it.
    Column("vendors_offered", JSON(none_as_null=True)),
)

chain_state = Table(
    "chain_state", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("head_seq", BigInteger, nullable=False),
    Column("head_hash", String(64), nullable=False),
    Column("anchor_seq", BigInteger, nullable=False),   # records up to here were purged
    Column("anchor_hash", String(64), nullable=False),  # the hash of the last purged record
    Column("purged_at", UTCDateTime),
)

email_opens = Table(
    "email_opens", metadata,
    Column("campaign", String(64), primary_key=True),
    Column("recipient", String(64), primary_key=True),  # HMAC of the mailer's recipient id: never the address
    Column("tracked_since", UTCDateTime, nullable=False),  # its token was minted (or it first opened)
    Column("first_open", UTCDateTime),                     # NULL: not opened yet
    Column("last_open", UTCDateTime),
    Column("opens", BigInteger, nullable=False),           # every open counts here, and only here
)

# Server-side forwarding (gateway/forwarding, migration 0006). An event accepted by POST /collect is a row
# here before the answer goes out; the delivery workers claim due rows and deliver them to the vendor.
event_outbox = Table(
    "event_outbox", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("site", String(64), nullable=False),
    Column("vendor", String(32), nullable=False),
    Column("tag_id", String(64), nullable=False),
    Column("event_id", String(128), nullable=False),
    Column("consent_id", String(64), nullable=False, index=True),  # "" under an opt-out region's default
    Column("payload", JSON, nullable=False),                        # ServerEvent.as_json()
    Column("state", String(16), nullable=False),                    # pending | sending | delivered | dead
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("lease_until", UTCDateTime),                             # a `sending` row past it is due again
    Column("claim", String(32)),                                    # which claim may settle a `sending` row
    Column("last_error", Text),
    Column("created_at", UTCDateTime, nullable=False, index=True),
    Column("delivered_at", UTCDateTime),
    UniqueConstraint("site", "vendor", "event_id", name="uq_event_outbox_event"),
    Index("ix_event_outbox_due", "state", "next_attempt_at"),
)

# Events POST /collect did not accept, counted (never stored): per site, vendor, UTC day and reason.
event_drops = Table(
    "event_drops", metadata,
    Column("site", String(64), primary_key=True),
    Column("vendor", String(32), primary_key=True),
    Column("day", String(10), primary_key=True),                    # YYYY-MM-DD (UTC)
    Column("reason", String(32), primary_key=True),                 # consent | no_credential | ...
    Column("count", BigInteger, nullable=False),
)
