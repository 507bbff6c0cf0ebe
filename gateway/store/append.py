"""The append path: one batch of decisions written through one database connection kept for it.

Why not plain SQLAlchemy Core here: building, cache-keying and compiling four statements per batch,
checking a pooled connection out and in and running its events cost more CPU than the batch's
inserts and its commit together (measured: ~0.9 ms per batch on SQLite, against ~0.3 ms for the
rest), and POST /consent waits for every batch. SQLAlchemy still writes the SQL for each dialect,
its column types still convert the values (JSON, aware datetimes, booleans) and its pool still opens
the connection (with the engine's connect-time settings); only the per-call work is skipped by
handing the finished SQL to the driver. Everything else in the store keeps using Core.

On SQLite the batch goes through AppendStatements; on PostgreSQL through pg_append.py (one statement, one
round trip, whatever the batch's size). Appender runs either on the group committer's thread.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from itertools import chain as flatten_chain
from operator import itemgetter
from typing import Any

from collections.abc import Callable

from sqlalchemy import JSON, Engine, bindparam, insert, literal_column, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import ClauseElement

from gateway.store import chain, pg_append
from gateway.store.schema import UTCDateTime, banner_texts, chain_state, consent_records


class Prepared:
    """One statement as the driver takes it, and how its parameters are converted."""

    def __init__(self, statement: ClauseElement, dialect: Dialect, **compile_options: Any) -> None:
        compiled = statement.compile(dialect=dialect, **compile_options)
        self.sql = compiled.string
        names = list(compiled.positiontup) if compiled.positional else list(compiled.binds)
        self._positional = compiled.positional
        # Compiled bind names are the column keys here (the statements below name them so).
        self._convert = [(name, _bind_processor(compiled.binds[name].type, dialect)) for name in names]
        # Positional: the values in order in one C call, then only the columns that need it converted (a
        # record has 23 columns and 7 conversions: a loop over every column cost a tenth of its append).
        self._pick = itemgetter(*names) if len(names) > 1 else (lambda values: tuple(values[n] for n in names))
        self._converting = [(index, convert) for index, (_, convert) in enumerate(self._convert) if convert]

    def parameters(self, values: dict[str, Any]) -> tuple | dict:
        if self._positional:
            ordered = list(self._pick(values))
            for index, convert in self._converting:
                ordered[index] = convert(ordered[index])
            return tuple(ordered)
        return {name: convert(values[name]) if convert else values[name] for name, convert in self._convert}


def _bind_processor(type_: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    """The column type's value conversion; for JSON columns, remembered per value; for times on SQLite, shorter.

    A record's JSON columns (categories, offered, vendors_refused) hold a list of a few names, and a site
    has only a handful of distinct lists, while serialising each one again cost a sixth of a record's
    append time (measured). The same list always gives the same text, so the text is kept, for up to
    MAX_REMEMBERED distinct lists per column (a site with more just serialises the rest)."""
    convert = type_.dialect_impl(dialect).bind_processor(dialect)
    if isinstance(type_, UTCDateTime) and dialect.name == "sqlite" and convert is not None:
        return _sqlite_utc_text(convert)
    if convert is None or not isinstance(type_, JSON):
        return convert
    remembered: dict[tuple, Any] = {}

    def convert_list(value: Any) -> Any:
        if type(value) is not list or not all(type(item) is str for item in value):
            return convert(value)
        key = tuple(value)
        text = remembered.get(key)
        if text is None:
            text = convert(value)
            if len(remembered) < MAX_REMEMBERED:
                remembered[key] = text
        return text

    return convert_list


MAX_REMEMBERED = 256


def _sqlite_utc_text(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """UTCDateTime's text on SQLite, as SQLAlchemy writes it (UTC, no zone, microseconds: `YYYY-MM-DD
    HH:MM:SS.ffffff`), in less than half the time its processors take: each record has a time. Anything but
    an aware datetime goes through SQLAlchemy's (which refuses a naive one)."""
    def text(value: Any) -> Any:
        if type(value) is not datetime or value.utcoffset() is None:
            return convert(value)
        return value.astimezone(timezone.utc).isoformat(" ", "microseconds")[:26]

    return text


class PreparedInsert(Prepared):
    """An INSERT that sends many rows as one multi-row VALUES statement where the driver needs that.

    SQLite's driver runs executemany as one step per row and lets go of the GIL at each step; with
    the event loop busy in the same process, taking it back waits up to the switch interval each
    time (see group_commit.py), so a batch of 30 rows could wait 30 ms. One statement is one step.
    psycopg sends executemany as one pipeline: one round trip, kept as it is.
    """

    def __init__(self, statement: ClauseElement, dialect: Dialect, columns: list[str], max_variables: int) -> None:
        super().__init__(statement, dialect, column_keys=columns)
        self._multi_row = self._positional and dialect.paramstyle == "qmark"
        self._returns = " RETURNING " in self.sql
        if self._returns and not self._multi_row:
            raise ValueError("RETURNING is read back only from the multi-row form (SQLite)")
        self._prefix, _, values = self.sql.partition(" VALUES ")
        # One row's placeholders, then what follows them (ON CONFLICT ..., RETURNING ...): that clause
        # comes once, after the last row.
        end = values.index(")") + 1
        self._group, self._suffix = values[:end], values[end:]
        self._rows_per_statement = max(1, max_variables // len(columns))
        self._sql_for: dict[int, str] = {}  # rows in a statement -> its text

    def run(self, cursor: Any, rows: list[dict[str, Any]]) -> list[tuple]:
        """Insert the rows; what RETURNING names for each row inserted, if the statement has it."""
        if not self._multi_row:
            if len(rows) == 1:
                cursor.execute(self.sql, self.parameters(rows[0]))
            else:
                cursor.executemany(self.sql, [self.parameters(row) for row in rows])
            return []
        returned: list[tuple] = []
        for start in range(0, len(rows), self._rows_per_statement):
            chunk = rows[start:start + self._rows_per_statement]
            sql = self._sql_for.get(len(chunk))
            if sql is None:
                groups = ", ".join([self._group] * len(chunk))
                sql = self._sql_for[len(chunk)] = f"{self._prefix} VALUES {groups}{self._suffix}"
            cursor.execute(sql, tuple(flatten_chain.from_iterable([self.parameters(row) for row in chunk])))
            if self._returns:
                returned.extend(cursor.fetchall())
        return returned


class AppendStatements:
    """SQLite: read the chain head, store banner texts once, insert the records, move the head (PostgreSQL's
    batches go through pg_append.py).

    `max_variables`: the most parameters one statement may carry (SQLite's compile-time limit is
    999 before 3.32; ConsentLog asks the connection for the real one)."""

    def __init__(self, dialect: Dialect, max_variables: int = 999) -> None:
        if dialect.name != "sqlite":
            raise ValueError(f"AppendStatements are SQLite's, not {dialect.name}'s (see pg_append.py)")
        only_row = chain_state.c.id == literal_column("1")
        # No FOR UPDATE: the transaction holds the database's write lock from BEGIN IMMEDIATE.
        self.read_head = Prepared(select(chain_state.c.head_seq, chain_state.c.head_hash).where(only_row), dialect)
        texts = sqlite_insert(banner_texts).on_conflict_do_nothing(index_elements=[banner_texts.c.hash])
        self.insert_texts = PreparedInsert(texts, dialect, ["hash", "texts", "first_seen"], max_variables)
        # Every column of the table (a new one, such as `site` in 0003, is picked up here): each row
        # must hold a value for each (ConsentLog._row), or the batch fails before anything is sent.
        record_columns = [column.key for column in consent_records.c]
        self.insert_records = PreparedInsert(insert(consent_records), dialect, record_columns, max_variables)
        self.move_head = Prepared(update(chain_state).where(only_row)
                                   .values(head_seq=bindparam("head_seq"), head_hash=bindparam("head_hash")), dialect)

    def append(self, cursor: Any, batch: list[tuple[dict[str, Any], str, chain.PendingHash]], now: Any) -> None:
        """Append (row, banner texts, pending hash) triples after the chain head, inside the caller's transaction."""
        cursor.execute(self.read_head.sql)  # under the write lock: no other writer appends meanwhile
        seq, prev_hash = cursor.fetchone()
        seq = int(seq)
        texts = {row["banner_texts_hash"]: text for row, text, _ in batch}  # usually one set for the whole batch
        self.insert_texts.run(cursor, [{"hash": h, "texts": t, "first_seen": now} for h, t in texts.items()])
        seq, prev_hash = chain.link(batch, seq, prev_hash)
        self.insert_records.run(cursor, [row for row, _, _ in batch])
        cursor.execute(self.move_head.sql, self.move_head.parameters({"head_seq": seq, "head_hash": prev_hash}))


class Appender:
    """Writes batches through one DBAPI connection from the engine's pool, kept between batches.

    Used by one thread at a time (the group committer's). A failed batch is rolled back and its
    connection dropped: the next batch opens a fresh one. A PostgreSQL connection the server closed
    since the last batch (a restart) is found before the batch is sent and replaced; a SQLite batch
    that fails before its commit on a connection found dropped is tried once more on a new one. A
    failure once the commit may have been sent (PostgreSQL's one statement commits) is never retried
    (it may have landed), and reaches the callers as a failure: none of them is acknowledged.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Any = None
        self._statements: AppendStatements | None = None
        self._postgresql = engine.dialect.name == "postgresql"  # pg_append.py; SQLite: AppendStatements

    def append(self, batch: list[tuple[dict[str, Any], str, chain.PendingHash]], now: Any,
               failed: Callable[[Exception], Exception]) -> None:
        """Commit the batch; raises `failed(error)` when the database refuses."""
        for attempt in (1, 2):
            if (self._postgresql and self._connection is not None
                    and pg_append.server_closed(self._connection.dbapi_connection)):
                self._drop(self._connection)  # closed by the server since the last batch: nothing sent on it yet
            reused = self._connection is not None
            connection = self._connect() if not reused else self._connection
            committing = self._postgresql  # PostgreSQL's one statement commits: once sent, it may have landed
            try:
                if self._postgresql:
                    with self._client_cursor(connection.dbapi_connection) as cursor:
                        pg_append.append(cursor, batch, now)
                    return
                cursor = connection.cursor()
                try:
                    cursor.execute("BEGIN IMMEDIATE")
                    self._statements_for(connection).append(cursor, batch, now)
                    committing = True
                    connection.commit()
                    return
                finally:
                    cursor.close()
            except self._engine.dialect.loaded_dbapi.Error as error:
                dropped = self._engine.dialect.is_disconnect(error, connection.dbapi_connection, None)
                self._drop(connection)
                if attempt == 1 and reused and dropped and not committing:
                    continue
                raise failed(error) from None
            except BaseException:
                self._drop(connection)  # a bug (the committer logs it): no transaction may stay open
                raise

    def close(self) -> None:
        if self._connection is not None:
            if self._postgresql:
                self._connection.dbapi_connection.autocommit = False  # as the pool's other users expect it
            self._connection.close()  # back to the pool, which the log disposes of next
            self._connection = None

    def forget(self) -> None:
        """In a forked child: the parent's connection is not ours to use or close."""
        self._connection = None

    def _connect(self) -> Any:
        self._connection = self._engine.raw_connection()
        if self._postgresql:
            # pg_append.py sends BEGIN and COMMIT in its own query strings: psycopg must not add a BEGIN.
            self._connection.dbapi_connection.autocommit = True
        return self._connection

    @staticmethod
    def _client_cursor(dbapi_connection: Any) -> Any:
        import psycopg

        return psycopg.ClientCursor(dbapi_connection)

    def _statements_for(self, connection: Any) -> AppendStatements:
        if self._statements is None:
            self._statements = append_statements(self._engine.dialect, connection)
        return self._statements

    def _drop(self, connection: Any) -> None:
        try:
            connection.rollback()
        except Exception:  # noqa: BLE001 - the connection is being thrown away anyway
            pass
        connection.invalidate()
        self._connection = None


def append_statements(dialect: Dialect, connection: Any) -> AppendStatements:
    """SQLite's statements for appending through `connection` (a pool's connection proxy), sized to its limits."""
    return AppendStatements(dialect, connection.dbapi_connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))

