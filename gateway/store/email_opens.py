"""E-mail opens in the consent log's database: which tracked recipients of a campaign opened it, how often.

One row per (campaign, recipient), in the ``email_opens`` table (migration 0002):

* ``recipient`` is a pseudonym, the HMAC the gateway computed when it minted the recipient's token
  (gateway/email_pixel.py), never an address or the mailer's own id;
* a row is created when a token is minted for a recipient who agreed to open tracking (``opens`` 0:
  the recipient is *tracked*), or at its first open if the token was minted without a database;
* each open adds to ``opens`` and moves ``last_open``; ``first_open`` is set once.

Why one row with a count, not a row per open: a pixel reloaded 1,000 times (a mail client that
re-renders, a forwarded mail, a script) then grows one number, never the table, and cannot touch the
unique opens, the tracked recipients or the first open. Nothing per open is kept (no time series,
no address, no user agent): an open rate needs no more, and what is not stored cannot leak.

Recipients who did not agree have no row at all: their opens are not even counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import Engine, case, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from gateway.store.errors import LogUnavailable, one_line
from gateway.store.schema import email_opens

CHUNK = 500  # rows per INSERT statement when registering many recipients at once


@dataclass(frozen=True)
class Opened:
    """Opens of one recipient of one campaign, gathered since the last write."""
    count: int
    first: datetime
    last: datetime


@dataclass(frozen=True)
class CampaignStats:
    campaign: str
    recipients_tracked: int       # rows: recipients who agreed (minted, or seen opening)
    unique_opens: int             # of them, those who opened at least once
    total_opens: int              # every open, reloads included
    first_open: datetime | None
    last_open: datetime | None

    def as_json(self) -> dict:
        def iso(moment: datetime | None) -> str | None:
            return None if moment is None else moment.isoformat().replace("+00:00", "Z")
        return {"campaign": self.campaign, "recipients_tracked": self.recipients_tracked,
                "unique_opens": self.unique_opens, "total_opens": self.total_opens,
                "first_open": iso(self.first_open), "last_open": iso(self.last_open)}


def _insert(engine: Engine):
    return (postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert)(email_opens)


def _write(engine: Engine, what: str, statement, rows: list[dict]) -> None:
    if not rows:
        return
    try:
        with engine.connect() as connection:
            connection.execution_options(tag_gateway_write=True)  # SQLite: BEGIN IMMEDIATE
            with connection.begin():
                for start in range(0, len(rows), CHUNK):
                    connection.execute(statement, rows[start:start + CHUNK])
    except SQLAlchemyError as error:
        raise LogUnavailable(f"cannot {what}: {one_line(error)}") from None


def register(engine: Engine, campaign: str, recipients: Iterable[str], now: datetime | None = None) -> None:
    """Mark these recipients (pseudonyms) of `campaign` as tracked; existing rows are left alone."""
    moment = now or datetime.now(timezone.utc)
    rows = [{"campaign": campaign, "recipient": r, "tracked_since": moment, "first_open": None, "last_open": None,
             "opens": 0} for r in dict.fromkeys(recipients)]
    statement = _insert(engine).on_conflict_do_nothing(index_elements=["campaign", "recipient"])
    _write(engine, "register the recipients", statement, rows)


def record(engine: Engine, opens: Mapping[tuple[str, str], Opened]) -> None:
    """Add gathered opens, keyed by (campaign, recipient), in one transaction."""
    insert = _insert(engine)
    new = insert.excluded
    table = email_opens.c
    statement = insert.on_conflict_do_update(index_elements=["campaign", "recipient"], set_={
        "opens": table.opens + new.opens,
        "first_open": func.coalesce(table.first_open, new.first_open),
        # Several instances' clocks may disagree by a little: never move last_open back.
        "last_open": case((table.last_open > new.last_open, table.last_open), else_=new.last_open),
    })
    rows = [{"campaign": campaign, "recipient": recipient, "tracked_since": seen.first, "first_open": seen.first,
             "last_open": seen.last, "opens": seen.count} for (campaign, recipient), seen in opens.items()]
    _write(engine, "record e-mail opens", statement, rows)


def stats(engine: Engine, campaign: str | None = None) -> list[CampaignStats]:
    """Per campaign (by name), or only `campaign`: tracked recipients, unique and total opens, first/last open."""
    table = email_opens.c
    query = (select(table.campaign, func.count().label("tracked"),
                    func.sum(case((table.opens > 0, 1), else_=0)).label("unique_opens"),
                    func.sum(table.opens).label("total"), func.min(table.first_open).label("first"),
                    func.max(table.last_open).label("last"))
             .group_by(table.campaign).order_by(table.campaign))
    if campaign is not None:
        query = query.where(table.campaign == campaign)
    try:
        with engine.connect() as connection:
            rows = connection.execute(query).all()
    except SQLAlchemyError as error:
        raise LogUnavailable(f"cannot read e-mail opens: {one_line(error)}") from None
    return [CampaignStats(row.campaign, int(row.tracked), int(row.unique_opens or 0), int(row.total or 0),
                          _aware(row.first), _aware(row.last)) for row in rows]


@dataclass(frozen=True)
class Purged:
    campaigns: list[str]
    recipients: int


def purge(engine: Engine, campaign: str | None = None, older_than_days: int | None = None,
          now: datetime | None = None) -> Purged:
    """Delete whole campaigns: `campaign`, or every campaign quiet for more than `older_than_days` (no token
    minted and no open since). Never part of one: its open rate would then count only who is left."""
    if (campaign is None) == (older_than_days is None):
        raise ValueError("give a campaign or older_than_days")
    table = email_opens.c
    if campaign is not None:
        chosen = select(table.campaign).where(table.campaign == campaign).distinct()
    else:
        if older_than_days < 0:
            raise ValueError("older_than_days must be >= 0")
        cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=older_than_days)
        last_activity = func.max(func.coalesce(table.last_open, table.tracked_since))
        chosen = select(table.campaign).group_by(table.campaign).having(last_activity < cutoff)
    try:
        with engine.connect() as connection:
            connection.execution_options(tag_gateway_write=True)  # SQLite: BEGIN IMMEDIATE
            with connection.begin():
                names = sorted(connection.execute(chosen).scalars())
                deleted = connection.execute(delete(email_opens).where(table.campaign.in_(names))).rowcount if names else 0
    except SQLAlchemyError as error:
        raise LogUnavailable(f"cannot purge e-mail opens: {one_line(error)}") from None
    return Purged(names, int(deleted))


def _aware(moment: datetime | None) -> datetime | None:
    # min()/max() keep the column's type, but be safe about a driver handing back a naive value.
    if moment is None:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
