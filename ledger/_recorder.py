"""Application recorders that extend eventsourcing's with drawledger's hash chain.

Each stored event gets one chain row ``(seq, notification_id, hash, time)`` in the same
database transaction that stores the event. The entry bytes are not stored a second time:
they are a pure function of the stored event and the row (``codec``), so reads rebuild
them and check each against its recorded hash, which also exposes a stored event edited
behind the recorder's back. The row is built after the
library's serialisation point, so concurrent writers in any number of threads and
processes produce one linear chain:

* SQLite: ``_insert_events`` calls the library first, whose INSERT takes the RESERVED
  (write) lock, and only then reads the chain head. Reading first would start a read
  snapshot that a concurrent writer can invalidate (SQLITE_BUSY_SNAPSHOT).
* PostgreSQL: ``_fetch_ids_after_insert_events`` runs while the library's
  ``LOCK TABLE ... IN EXCLUSIVE MODE`` is held, once the notification ids are known and
  before COMMIT. The insert path with database functions skips that lock, so it is
  refused.

A writer that must check what it writes against the log as it stands (the ledger's rule
checks) takes the chain lock first, with ``write_lock()``: one transaction that holds the
lock (SQLite ``BEGIN IMMEDIATE``, PostgreSQL the table lock) while the writer reads the
entries it has not seen, checks, inserts and commits. Reads and inserts on the thread
that holds it go through that transaction, so nothing can be appended between the check
and the COMMIT by any other thread or process.

``seq`` is drawledger's own gapless sequence; notification ids can have gaps after
rollbacks. Triggers make the events table and both side tables append-only, keep
``seq`` gapless and let checkpoints only grow.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from json.encoder import encode_basestring
from typing import Any
from uuid import UUID

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresDatastore,
)
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteTransaction,
)
from eventsourcing.utils import retry
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier, Literal

from ledger._errors import StorageError
from verifier._canonical import check
from verifier._entry import entry_hash, make_entry

__all__ = [
    "DEFAULT_PG_LOCK_TIMEOUT",
    "ZERO_HASH",
    "ChainedPostgresApplicationRecorder",
    "ChainedSQLiteApplicationRecorder",
    "EntryCodec",
    "FramedStoredEvent",
    "NotAStatementError",
    "RecorderConfigError",
    "format_log_time",
    "inserted_rowids",
    "opaque_codec",
    "pg_function_names",
    "side_table_names",
    "statement_codec",
    "utc_now",
]

EntryCodec = Callable[[int, bytes, str, StoredEvent], bytes]
"""``(seq, prev_hash, time, stored_event) -> entry bytes``."""

ZERO_HASH = bytes(32)
"""The ``prev`` of entry 0 (``GENESIS_PREV`` as bytes) and the head hash of an empty log."""

DEFAULT_PG_LOCK_TIMEOUT = 10.0
"""Seconds a PostgreSQL writer waits for the events table lock when none is configured."""

_PG_INSERT_CHUNK = 2_000
"""Stored events per INSERT on PostgreSQL (one array parameter each, a few MB at most)."""

_KEEP_ENTRIES = 4_096
"""An insert of at most this many events keeps their entries' bytes (``entries_written``):
a group commit's, not an import's."""


def _kept(kept: list[bytes] | None, rows: Sequence[Any]) -> list[bytes] | None:
    return kept if kept is not None and len(kept) == len(rows) else None


@dataclass(frozen=True)
class FramedStoredEvent(StoredEvent):
    """A stored statement from a writer that spliced its state from canonical pieces and
    so knows where its ``,"sig":`` and ``,"type":`` members start (``frame``): the codec
    uses that instead of scanning and re-parsing the state. Only the ledger's import
    path makes these (``ledger._app._ImportMembers``, tested against ``dumps``)."""

    frame: tuple[int, int]

# Asia/Shanghai has kept UTC+8 without daylight saving since 1991: a fixed offset is
# exact for log times and needs no tz database.
_SHANGHAI = timezone(timedelta(hours=8))
_STATEMENT_KEYS = frozenset(("actor", "body", "sig", "type"))
_SIG_KEYS = frozenset(("ctime", "key", "sid", "value"))
_json_decoder = json.JSONDecoder()
_encode_str = encode_basestring  # how the canonical encoder writes a string
_CONTROL_BYTES = bytes(range(0x20))
# The quote-separated pieces of the sig member between its string values.
_SIG_FRAME = [b"{", b"ctime", b":", b"", b",", b"key", b":", b"", b",", b"sid", b":", b"",
              b",", b"value", b":", b"", b"}"]


def _not_canonical(text: str) -> Any:
    raise ValueError(f"{text} is outside the canonical profile")


# Rejects floats and NaN/Infinity, whose text the slow path would re-encode.
_body_decoder = json.JSONDecoder(parse_float=_not_canonical, parse_constant=_not_canonical)
_OPAQUE_SIG_VALUE = base64.b64encode(bytes(64)).decode()


class NotAStatementError(StorageError):
    """A stored event's state is not a statement object; the write is rolled back.

    The application's mapper stores validated statements, so this means a misconfigured
    mapper (for example a compressor or cipher) or a caller bypassing the ledger.
    """


class RecorderConfigError(StorageError):
    """The recorder was configured in a way that would break the chain."""


def _stream(originator_id: Any) -> str:
    """The entry's ``stream``: text ids as they are; UUIDs as 32 hex digits, the form
    SQLite stores, so an entry rebuilt from either database is the same bytes."""
    return originator_id.hex if isinstance(originator_id, UUID) else str(originator_id)


def utc_now() -> datetime:
    """The default clock."""
    return datetime.now(UTC)


def format_log_time(dt: datetime) -> str:
    """``YYYY-MM-DDThh:mm:ss.ffffff+08:00`` (Asia/Shanghai), always 6 fraction digits."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("the ledger clock must return timezone-aware datetimes")
    return dt.astimezone(_SHANGHAI).isoformat(timespec="microseconds")


def statement_codec(seq: int, prev: bytes, time: str, stored_event: StoredEvent) -> bytes:
    """Entry for a stored statement: the state is the canonical JSON of
    ``{actor, body, sig, type}`` that the application's mapper writes.

    Equal to ``make_entry(seq, prev, time, stream, version, json.loads(state))``. A state
    framed as the mapper writes it is spliced without re-encoding (the hot path); any
    other state is decoded, checked against the canonical profile and re-encoded. A state
    that is not a statement object ``{actor: string, body: object, sig: {ctime, key,
    sid, value: strings}, type: string}`` (or holds floats, NaN, ...) raises
    NotAStatementError so that the write rolls back. The content (type names, signature
    format and validity) is the ledger's to check before it writes.
    """
    state = stored_event.state
    frame = stored_event.frame if type(stored_event) is FramedStoredEvent else \
        _statement_frame(state)
    if frame is None:
        return _statement_entry_slow(seq, prev, time, stored_event)
    sig_at, type_at = frame
    return b"".join((
        state[:sig_at],
        b',"prev":"', prev.hex().encode(), b'","seq":', str(seq).encode(),
        state[sig_at:type_at],
        b',"stream":', _encode_str(_stream(stored_event.originator_id)).encode(),
        b',"time":', _encode_str(time).encode(),
        state[type_at:-1],
        b',"version":', str(stored_event.originator_version).encode(), b"}",
    ))


def _statement_frame(state: bytes) -> tuple[int, int] | None:
    """Where the ``,"sig":`` and ``,"type":`` members start in a state framed as the
    mapper writes it, else None. The frame is
    ``{"actor":"A","body":{...},"sig":{"ctime":"C","key":"K","sid":"S","value":"V"},
    "type":"T"}``: A, C, K, S, V and T hold no quote or backslash, no byte is a control
    character, the whole is UTF-8 and the body is exactly one JSON object without
    floats. Its canonical form is not checked: the mapper writes canonical JSON.

    Strings cannot hold an unescaped quote, so the last ``,"type":"`` and the last
    ``,"sig":{"`` before it are the top-level members.
    """
    if not state.startswith(b'{"actor":"') or not state.endswith(b'"}'):
        return None
    actor_end = state.find(b'"', 10)
    type_at = state.rfind(b',"type":"')
    sig_at = state.rfind(b',"sig":{"', 0, type_at)
    if (sig_at < 0 or not state.startswith(b'","body":{', actor_end)
            or state.find(b"\\", 10, actor_end) >= 0
            or state.find(b"\\", sig_at, len(state)) >= 0
            or state.find(b'"', type_at + 9, len(state) - 2) >= 0):
        return None
    pieces = state[sig_at + 7:type_at].split(b'"')
    if len(pieces) != len(_SIG_FRAME):
        return None
    pieces[3] = pieces[7] = pieces[11] = pieces[15] = b""  # the four string values
    if pieces != _SIG_FRAME:
        return None
    if len(state.translate(None, _CONTROL_BYTES)) != len(state):  # raw control characters
        return None
    try:
        state[10:actor_end].decode()
        state[sig_at:].decode()
        body = state[actor_end + 9:sig_at].decode()
        if _body_decoder.raw_decode(body)[1] != len(body):
            return None
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return sig_at, type_at


def _is_statement(state: Any) -> bool:
    """The structure the fast path's frame implies (the ledger checks the content)."""
    if type(state) is not dict or state.keys() != _STATEMENT_KEYS:
        return False
    sig = state["sig"]
    return (type(state["actor"]) is str and type(state["body"]) is dict
            and type(state["type"]) is str and type(sig) is dict
            and sig.keys() == _SIG_KEYS and all(type(v) is str for v in sig.values()))


def _statement_entry_slow(seq: int, prev: bytes, time: str, stored_event: StoredEvent) -> bytes:
    where = f"stored event {stored_event.originator_id!s} v{stored_event.originator_version}"
    try:
        state = _json_decoder.decode(stored_event.state.decode())
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise NotAStatementError(f"{where}: state is not JSON ({exc})") from None
    if not _is_statement(state):
        raise NotAStatementError(
            f"{where}: state is not a statement object {{actor: string, body: object, "
            "sig: {ctime, key, sid, value: strings}, type: string}")
    try:
        check(state)  # never write an entry the verifier would reject as non-canonical
        return make_entry(seq, prev, time, _stream(stored_event.originator_id),
                          stored_event.originator_version, state)
    except (TypeError, ValueError) as exc:
        raise NotAStatementError(f"{where}: statement cannot be encoded ({exc})") from None


def opaque_codec(seq: int, prev: bytes, time: str, stored_event: StoredEvent) -> bytes:
    """Entry wrapping an arbitrary state (only for eventsourcing's conformance suite)."""
    stream = _stream(stored_event.originator_id)
    version = stored_event.originator_version
    state = {
        "actor": "test",
        "body": {
            "state_b64": base64.b64encode(stored_event.state).decode(),
            "topic": stored_event.topic,
        },
        "sig": {
            "ctime": "1970-01-01T00:00:00Z",
            "key": "test",
            "sid": f"{stream}/{version}",
            "value": _OPAQUE_SIG_VALUE,
        },
        "type": "test.opaque",
    }
    return make_entry(seq, prev, time, stream, version, state)


def side_table_names(events_table_name: str) -> tuple[str, str]:
    """``(entries, checkpoints)`` table names for an events table.

    The default events table gets ``dl_entries`` and ``dl_checkpoints``; any other
    gets them prefixed with its own name, so separate event logs never share a chain.
    """
    prefix = "" if events_table_name == "stored_events" else f"{events_table_name}_"
    return f"{prefix}dl_entries", f"{prefix}dl_checkpoints"


def cosignatures_table_name(events_table_name: str) -> str:
    """The append-only table of witness cosignatures added after a checkpoint was made."""
    return side_table_names(events_table_name)[1].replace("dl_checkpoints", "dl_cosignatures")


def pg_function_names(events_table_name: str) -> tuple[str, str, str]:
    """PostgreSQL trigger functions for an events table: forbid change, keep ``seq``
    gapless, let checkpoints only grow."""
    entries, checkpoints = side_table_names(events_table_name)
    return f"{entries}_forbid_change", f"{entries}_gapless", f"{checkpoints}_grow_only"


def _chain_rows(codec: EntryCodec, stored_events: Sequence[StoredEvent],
                notification_ids: Sequence[int], seq: int, prev: bytes,
                time: str, entries: list[bytes] | None = None
                ) -> list[tuple[int, int, bytes, str]]:
    """The chain rows of the events from ``seq`` on after ``prev``; the entries' bytes
    appended to ``entries`` when given (not for a sequence that builds its own)."""
    if len(notification_ids) != len(stored_events):
        raise RuntimeError(f"got {len(notification_ids)} notification ids for "
                           f"{len(stored_events)} stored events")
    chain = getattr(stored_events, "chain", None)  # a sequence that builds its entries
    hashes = chain(codec, seq, prev, time) if chain is not None else None
    if hashes is not None:
        return [(seq + i, notification_id, h, time)
                for i, (notification_id, h) in enumerate(zip(notification_ids, hashes,
                                                             strict=True))]
    rows = []
    for notification_id, stored_event in zip(notification_ids, stored_events, strict=True):
        entry = codec(seq, prev, time, stored_event)
        prev = entry_hash(entry)
        rows.append((seq, notification_id, prev, time))
        if entries is not None:
            entries.append(entry)
        seq += 1
    return rows


def inserted_rowids(c: Any, table: str, n: int, keys: Iterable[tuple[str, int]]) -> list[int]:
    """The rowids of the ``n`` rows just inserted into the events ``table`` on cursor
    ``c``, in order; ``keys`` are their ``(originator_id, originator_version)``.

    SQLite numbers a new row from the table's largest rowid up, and nothing is ever
    deleted here: if the last row inserted is the largest and exactly n rows lie above
    it minus n, those are the n just written, in order. Otherwise (the largest rowid
    taken, never seen) each rowid is looked up by its primary key.
    """
    c.execute(f"SELECT last_insert_rowid(), (SELECT MAX(rowid) FROM {table})")
    last, largest = c.fetchone()
    c.execute(f"SELECT COUNT(*) FROM {table} WHERE rowid > ?", (last - n,))
    if last == largest and c.fetchone()[0] == n:
        return list(range(last - n + 1, last + 1))
    ids = []
    for key in keys:
        c.execute(f"SELECT rowid FROM {table} WHERE originator_id = ? AND "
                  "originator_version = ?", key)
        ids.append(int(c.fetchone()[0]))
    return ids


def _blob(value: bytes | str) -> bytes:
    """A state column as bytes (SQLite hands back TEXT if someone wrote text into it)."""
    return value.encode() if isinstance(value, str) else bytes(value)


def _rebuild(codec: EntryCodec, prev: bytes,
             rows: Sequence[tuple[int, bytes, str, StoredEvent]]) -> list[tuple[int, bytes]]:
    """Entry bytes from chain rows ``(seq, hash, time, stored event)`` following ``prev``,
    each checked against its recorded hash."""
    out = []
    for seq, recorded, time, stored_event in rows:
        entry = codec(seq, prev, time, stored_event)
        prev = entry_hash(entry)
        if prev != recorded:
            raise StorageError(f"entry {seq} rebuilt from the stored event does not match its "
                               "chain hash: the events table was altered")
        out.append((seq, entry))
    return out


class _WrittenHashes:
    """The chain hashes of this recorder's last successful insert, so a writer that has
    just appended need not read them back (``hashes_written``), and the transaction a
    thread holds under ``write_lock``."""

    # (first seq, hashes, entry bytes or None) of the last insert; _pending until COMMIT
    _written: tuple[int, list[bytes], list[bytes] | None] | None = None
    _pending: tuple[int, list[bytes], list[bytes] | None] | None = None
    _held_local: threading.local | None = None

    def _held_cursor(self) -> Any:
        """The cursor of the ``write_lock`` transaction this thread holds, or None."""
        local = self._held_local
        return None if local is None else getattr(local, "cursor", None)

    def _hold(self, cursor: Any) -> None:
        if self._held_local is None:
            self._held_local = threading.local()
        self._held_local.cursor = cursor

    def _locked_transaction(self) -> contextlib.AbstractContextManager[Any]:
        raise NotImplementedError

    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """One transaction holding the chain lock (``_locked_transaction``) that this
        thread's reads and inserts go through; it commits when the block ends and rolls
        back if it raises. No other thread or process appends meanwhile."""
        if self._held_cursor() is not None:
            raise RecorderConfigError("write_lock is not reentrant")
        self._written = None
        try:
            with self._locked_transaction() as cursor:
                self._hold(cursor)
                try:
                    yield
                finally:
                    self._hold(None)
        except BaseException:
            self._written = None
            raise

    def hashes_written(self, start: int, stop: int) -> list[bytes] | None:
        """The hashes of entries ``start .. stop - 1`` if this recorder's last insert
        wrote exactly those, else None (read them with ``read_hashes``)."""
        written = self._written
        if written is None or written[0] != start or len(written[1]) != stop - start:
            return None
        return written[1]

    def entries_written(self, start: int, stop: int) -> list[bytes] | None:
        """The bytes of entries ``start .. stop - 1`` if this recorder's last committed
        insert wrote exactly those and kept them, else None (``read_entries``): a writer
        answers with its entries without reading them back."""
        written = self._written
        if written is None or written[0] != start or written[2] is None \
                or len(written[2]) != stop - start:
            return None
        return written[2]


class _ImmediateTransaction(SQLiteTransaction):
    """The library's transaction (its error mapping, commit and rollback), begun with
    ``BEGIN IMMEDIATE``: the write lock first, so what is read inside is the latest and
    stays so until COMMIT."""

    def __init__(self, connection: SQLiteConnection, *, commit: bool = False) -> None:
        super().__init__(connection, commit=commit)

    def __enter__(self) -> SQLiteCursor:
        cursor = self.connection.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise OperationalError(exc) from exc
        return cursor


class ChainedSQLiteApplicationRecorder(_WrittenHashes, SQLiteApplicationRecorder):
    """SQLite application recorder that appends each event to the hash chain."""

    def __init__(
        self,
        datastore: SQLiteDatastore,
        events_table_name: str = "stored_events",
        *,
        codec: EntryCodec = statement_codec,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.codec = codec
        self.clock = clock
        self.entries_table_name, self.checkpoints_table_name = side_table_names(
            events_table_name)
        super().__init__(datastore, events_table_name)
        entries, checkpoints = self.entries_table_name, self.checkpoints_table_name
        self._select_head = f"SELECT seq, hash, time FROM {entries} ORDER BY seq DESC LIMIT 1"
        self._insert_entry = (
            f"INSERT INTO {entries} (seq, notification_id, hash, time) VALUES (?, ?, ?, ?)")
        self._select_entries = (
            f"SELECT e.seq, e.hash, e.time, s.originator_id, s.originator_version, s.topic, "
            f"s.state FROM {entries} e JOIN {self.events_table_name} s "
            "ON s.rowid = e.notification_id WHERE e.seq >= ? AND e.seq < ? ORDER BY e.seq")
        self._select_hash = f"SELECT hash FROM {entries} WHERE seq = ?"
        self._select_stream = (
            f"SELECT e.seq FROM {self.events_table_name} s JOIN {entries} e "
            "ON e.notification_id = s.rowid WHERE s.originator_id = ? AND e.seq < ? "
            "ORDER BY e.seq")
        self._select_hashes = (
            f"SELECT hash FROM {entries} WHERE seq >= ? AND seq < ? ORDER BY seq")
        self._insert_checkpoint = (
            f"INSERT INTO {checkpoints} (size, root, note) VALUES (?, ?, ?)")
        self._select_checkpoints = f"SELECT size, root, note FROM {checkpoints} ORDER BY size"
        self._select_latest_checkpoint = (
            f"SELECT size, root, note FROM {checkpoints} ORDER BY size DESC LIMIT 1")
        self.cosignatures_table_name = cosignatures_table_name(events_table_name)
        cos = self.cosignatures_table_name
        self._insert_cosignature = f"INSERT INTO {cos} (size, line) VALUES (?, ?)"
        self._select_cosignatures = f"SELECT size, line FROM {cos} ORDER BY rowid"

    def construct_create_table_statements(self) -> list[str]:
        statements = super().construct_create_table_statements()
        events = self.events_table_name
        entries, checkpoints = self.entries_table_name, self.checkpoints_table_name
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {entries} ("
            "seq INTEGER PRIMARY KEY CHECK (seq >= 0), "
            "notification_id INTEGER NOT NULL UNIQUE, "
            "hash BLOB NOT NULL CHECK (length(hash) = 32), "
            "time TEXT NOT NULL)")
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {checkpoints} ("
            "size INTEGER PRIMARY KEY CHECK (size >= 0), "
            "root BLOB NOT NULL CHECK (length(root) = 32), "
            "note TEXT NOT NULL)")
        cos = cosignatures_table_name(events)
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {cos} ("
            "size INTEGER NOT NULL, "
            "line TEXT NOT NULL, PRIMARY KEY (size, line))")
        for table in (events, entries, checkpoints, cos):
            for op in ("UPDATE", "DELETE"):
                statements.append(
                    f"CREATE TRIGGER IF NOT EXISTS {table}_dl_no_{op.lower()} "
                    f"BEFORE {op} ON {table} BEGIN "
                    f"SELECT RAISE(ABORT, 'drawledger: {table} is append-only ({op} refused)'); "
                    "END")
        statements.append(
            f"CREATE TRIGGER IF NOT EXISTS {entries}_dl_gapless "
            f"BEFORE INSERT ON {entries} "
            f"WHEN NEW.seq IS NOT (SELECT COALESCE(MAX(seq), -1) + 1 FROM {entries}) BEGIN "
            f"SELECT RAISE(ABORT, 'drawledger: {entries} seq must be the last seq + 1'); "
            "END")
        statements.append(
            f"CREATE TRIGGER IF NOT EXISTS {checkpoints}_dl_grow_only "
            f"BEFORE INSERT ON {checkpoints} "
            f"WHEN NEW.size <= (SELECT MAX(size) FROM {checkpoints}) BEGIN "
            f"SELECT RAISE(ABORT, 'drawledger: {checkpoints} size must exceed the last "
            "checkpoint'); END")
        return statements

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        held = self._held_cursor()
        if held is not None:  # inside write_lock: its transaction commits
            return self._insert_events(held, stored_events, **kwargs)
        try:
            return super().insert_events(stored_events, **kwargs)
        except BaseException:
            self._written = None
            raise

    @contextmanager
    def _locked_transaction(self) -> Iterator[SQLiteCursor]:
        """A write transaction begun with the write lock (``BEGIN IMMEDIATE``: it waits
        up to the lock timeout for other writers)."""
        with self.datastore.get_connection(commit=True) as conn, \
                _ImmediateTransaction(conn, commit=True) as c:
            yield c

    @contextmanager
    def _reading(self) -> Iterator[SQLiteCursor]:
        """The held write transaction's cursor, else a read transaction of its own."""
        held = self._held_cursor()
        if held is not None:
            yield held
            return
        with self.datastore.transaction(commit=False) as c:
            yield c

    def _insert_events(
        self,
        c: SQLiteCursor,
        stored_events: Sequence[StoredEvent],
        **kwargs: Any,
    ) -> Sequence[int] | None:
        # The INSERT comes first: it takes the write lock, so the head read below is the
        # latest and no other writer can move it before COMMIT.
        self._written = None
        if not stored_events:
            return []
        notification_ids = self._insert_all(c, stored_events)
        c.execute(self._select_head)
        row = c.fetchone()
        time = format_log_time(self.clock())
        if row is None:
            seq, prev = 0, ZERO_HASH
        else:
            seq, prev = row[0] + 1, row[1]
            time = max(time, row[2])
        kept: list[bytes] | None = [] if len(stored_events) <= _KEEP_ENTRIES else None
        rows = _chain_rows(self.codec, stored_events, notification_ids, seq, prev, time, kept)
        c.executemany(self._insert_entry, rows)
        # Dropped if the COMMIT fails.
        self._written = (seq, [row[2] for row in rows], _kept(kept, rows))
        return notification_ids

    def _insert_all(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent]
                    ) -> Sequence[int]:
        """The library's INSERT as one ``executemany`` (a statement per event costs as
        much as the rest of a row's write), and the rowids it gave.

        The INSERT is the transaction's first statement, so it waits for the write lock
        as before (a read first would pin a snapshot that another writer's commit makes
        stale); ``inserted_rowids`` says how the rowids are found.
        """
        rows = getattr(stored_events, "insert_rows", None)  # a sequence that binds itself
        c.executemany(self.insert_events_statement, rows() if rows is not None else (
            (_stream(s.originator_id), s.originator_version, s.topic, s.state)
            for s in stored_events))  # lazily: states can be large
        return inserted_rowids(c, self.events_table_name, len(stored_events), (
            (_stream(s.originator_id), s.originator_version) for s in stored_events))

    def head(self) -> tuple[int, bytes, str | None]:
        """``(size, hash of the last entry or 32 zero bytes, last time or None)``."""
        with self._reading() as c:
            c.execute(self._select_head)
            row = c.fetchone()
        if row is None:
            return 0, ZERO_HASH, None
        return row[0] + 1, bytes(row[1]), row[2]

    def read_entries(self, start: int, stop: int) -> list[tuple[int, bytes]]:
        """``(seq, entry bytes)`` for ``start <= seq < stop``, in order."""
        start = max(start, 0)
        with self._reading() as c:
            prev = ZERO_HASH
            if start > 0:
                c.execute(self._select_hash, (start - 1,))
                row = c.fetchone()
                if row is None:
                    return []
                prev = bytes(row[0])
            c.execute(self._select_entries, (start, stop))
            rows = [(r[0], bytes(r[1]), r[2], StoredEvent(r[3], r[4], r[5], _blob(r[6])))
                    for r in c.fetchall()]
        return _rebuild(self.codec, prev, rows)

    def stream_seqs(self, stream: str, stop: int) -> list[int]:
        """The seqs below ``stop`` of one stream's entries, in order (the events' key
        index, not a scan of the log)."""
        with self._reading() as c:
            c.execute(self._select_stream, (stream, stop))
            return [int(r[0]) for r in c.fetchall()]

    def read_hashes(self, start: int, stop: int) -> list[bytes]:
        """Entry hashes for ``start <= seq < stop``, in order."""
        with self._reading() as c:
            c.execute(self._select_hashes, (start, stop))
            return [bytes(row[0]) for row in c.fetchall()]

    def add_checkpoint(self, size: int, root: bytes, note: str) -> None:
        """Record a checkpoint; its size must exceed every earlier checkpoint's."""
        with self.datastore.transaction(commit=True) as c:
            c.execute(self._insert_checkpoint, (size, root, note))

    def checkpoints(self) -> list[tuple[int, bytes, str]]:
        """All checkpoints ``(size, root, note)``, smallest first."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(self._select_checkpoints)
            return [(row[0], bytes(row[1]), row[2]) for row in c.fetchall()]

    def add_cosignature(self, size: int, line: str) -> None:
        """Record a witness cosignature line for the checkpoint of ``size``."""
        with self.datastore.transaction(commit=True) as c:
            c.execute(self._insert_cosignature, (size, line))

    def cosignatures(self) -> list[tuple[int, str]]:
        """Cosignatures added after their checkpoints ``(size, line)``, in order."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(self._select_cosignatures)
            return [(row[0], row[1]) for row in c.fetchall()]

    def latest_checkpoint(self) -> tuple[int, bytes, str] | None:
        """The largest checkpoint, or None."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(self._select_latest_checkpoint)
            row = c.fetchone()
        return None if row is None else (row[0], bytes(row[1]), row[2])


class ChainedPostgresApplicationRecorder(_WrittenHashes, PostgresApplicationRecorder):
    """PostgreSQL application recorder that appends each event to the hash chain."""

    def __init__(
        self,
        datastore: PostgresDatastore,
        events_table_name: str = "stored_events",
        *,
        codec: EntryCodec = statement_codec,
        clock: Callable[[], datetime] = utc_now,
        lock_timeout: float | None = None,
    ) -> None:
        if datastore.enable_db_functions:
            raise RecorderConfigError(
                "POSTGRES_ENABLE_DB_FUNCTIONS is set: its insert path skips the events "
                "table lock that keeps the hash chain linear; unset it to use drawledger")
        self.codec = codec
        self.clock = clock
        self.entries_table_name, self.checkpoints_table_name = side_table_names(
            events_table_name)
        self.cosignatures_table_name = cosignatures_table_name(events_table_name)
        (self.forbid_function_name, self.gapless_function_name,
         self.grow_function_name) = pg_function_names(events_table_name)
        for name in (self.entries_table_name, self.checkpoints_table_name,
                     self.forbid_function_name, self.gapless_function_name,
                     self.grow_function_name):
            self.check_identifier_length(name)
        super().__init__(datastore, events_table_name=events_table_name)

        if lock_timeout is None:
            lock_timeout = float(datastore.lock_timeout) or DEFAULT_PG_LOCK_TIMEOUT
        if lock_timeout <= 0:
            raise RecorderConfigError("the events table lock timeout must be positive")
        # Replace the library's "SET LOCAL lock_timeout" (0 = wait forever by default),
        # keeping its LOCK TABLE statement.
        self.lock_table_statements = [
            SQL("SET LOCAL lock_timeout = '{0}ms'").format(max(1, round(lock_timeout * 1000))),
            *self.lock_table_statements[1:],
        ]

        schema = Identifier(self.datastore.schema)
        entries = Identifier(self.entries_table_name)
        checkpoints = Identifier(self.checkpoints_table_name)
        self.sql_create_statements.extend(self._ledger_create_statements())
        self._select_head = SQL(
            "SELECT seq, hash, time FROM {0}.{1} ORDER BY seq DESC LIMIT 1"
        ).format(schema, entries)
        self._insert_entry = SQL(
            "INSERT INTO {0}.{1} (seq, notification_id, hash, time) VALUES (%s, %s, %s, %s)"
        ).format(schema, entries)
        self._select_entries = SQL(
            "SELECT e.seq, e.hash, e.time, s.originator_id, s.originator_version, s.topic, "
            "s.state FROM {0}.{1} e JOIN {0}.{2} s ON s.notification_id = e.notification_id "
            "WHERE e.seq >= %s AND e.seq < %s ORDER BY e.seq"
        ).format(schema, entries, Identifier(self.events_table_name))
        self._select_hash = SQL("SELECT hash FROM {0}.{1} WHERE seq = %s").format(
            schema, entries)
        self._select_stream = SQL(
            "SELECT e.seq FROM {0}.{2} s JOIN {0}.{1} e ON e.notification_id = "
            "s.notification_id WHERE s.originator_id = %s AND e.seq < %s ORDER BY e.seq"
        ).format(schema, entries, Identifier(self.events_table_name))
        self._select_hashes = SQL(
            "SELECT hash FROM {0}.{1} WHERE seq >= %s AND seq < %s ORDER BY seq"
        ).format(schema, entries)
        self._insert_checkpoint = SQL(
            "INSERT INTO {0}.{1} (size, root, note) VALUES (%s, %s, %s)"
        ).format(schema, checkpoints)
        self._select_checkpoints = SQL(
            "SELECT size, root, note FROM {0}.{1} ORDER BY size"
        ).format(schema, checkpoints)
        self._select_latest_checkpoint = SQL(
            "SELECT size, root, note FROM {0}.{1} ORDER BY size DESC LIMIT 1"
        ).format(schema, checkpoints)
        cos = Identifier(self.cosignatures_table_name)
        self._insert_cosignature = SQL(
            "INSERT INTO {0}.{1} (size, line) VALUES (%s, %s)").format(schema, cos)
        self._select_cosignatures = SQL(
            "SELECT size, line FROM {0}.{1} ORDER BY id").format(schema, cos)

    def _ledger_create_statements(self) -> list[Composed]:
        schema = Identifier(self.datastore.schema)
        events = Identifier(self.events_table_name)
        entries = Identifier(self.entries_table_name)
        checkpoints = Identifier(self.checkpoints_table_name)
        forbid = Identifier(self.forbid_function_name)
        gapless = Identifier(self.gapless_function_name)
        grow = Identifier(self.grow_function_name)
        statements = [
            SQL("CREATE TABLE IF NOT EXISTS {0}.{1} ("
                "seq bigint PRIMARY KEY CHECK (seq >= 0), "
                "notification_id bigint NOT NULL UNIQUE, "
                "hash bytea NOT NULL CHECK (octet_length(hash) = 32), "
                "time text NOT NULL)").format(schema, entries),
            SQL("CREATE TABLE IF NOT EXISTS {0}.{1} ("
                "size bigint PRIMARY KEY CHECK (size >= 0), "
                "root bytea NOT NULL CHECK (octet_length(root) = 32), "
                "note text NOT NULL)").format(schema, checkpoints),
            SQL("CREATE TABLE IF NOT EXISTS {0}.{1} ("
                "id bigserial PRIMARY KEY, "
                "size bigint NOT NULL, line text NOT NULL, UNIQUE (size, line))").format(
                    schema, Identifier(self.cosignatures_table_name)),
            SQL("CREATE OR REPLACE FUNCTION {0}.{1}() RETURNS trigger "
                "LANGUAGE plpgsql AS $$BEGIN "
                "RAISE EXCEPTION 'drawledger: %.% is append-only (% refused)', "
                "TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP "
                "USING ERRCODE = 'integrity_constraint_violation'; "
                "END$$").format(schema, forbid),
            SQL("CREATE OR REPLACE FUNCTION {0}.{1}() RETURNS trigger "
                "LANGUAGE plpgsql AS $$DECLARE expected bigint; BEGIN "
                "SELECT COALESCE(max(seq), -1) + 1 INTO expected FROM {0}.{2}; "
                "IF NEW.seq IS DISTINCT FROM expected THEN "
                "RAISE EXCEPTION 'drawledger: %.% seq % is not the next seq %', "
                "TG_TABLE_SCHEMA, TG_TABLE_NAME, NEW.seq, expected "
                "USING ERRCODE = 'integrity_constraint_violation'; "
                "END IF; RETURN NEW; END$$").format(schema, gapless, entries),
            SQL("CREATE OR REPLACE FUNCTION {0}.{1}() RETURNS trigger "
                "LANGUAGE plpgsql AS $$DECLARE last bigint; BEGIN "
                "SELECT max(size) INTO last FROM {0}.{2}; "
                "IF last IS NOT NULL AND NEW.size <= last THEN "
                "RAISE EXCEPTION 'drawledger: %.% size % does not exceed the last "
                "checkpoint %', TG_TABLE_SCHEMA, TG_TABLE_NAME, NEW.size, last "
                "USING ERRCODE = 'integrity_constraint_violation'; "
                "END IF; RETURN NEW; END$$").format(schema, grow, checkpoints),
        ]
        for table in (events, entries, checkpoints, Identifier(self.cosignatures_table_name)):
            statements.append(
                SQL("CREATE OR REPLACE TRIGGER dl_no_change BEFORE UPDATE OR DELETE "
                    "ON {0}.{1} FOR EACH ROW EXECUTE FUNCTION {0}.{2}()"
                    ).format(schema, table, forbid))
            statements.append(
                SQL("CREATE OR REPLACE TRIGGER dl_no_truncate BEFORE TRUNCATE "
                    "ON {0}.{1} FOR EACH STATEMENT EXECUTE FUNCTION {0}.{2}()"
                    ).format(schema, table, forbid))
        statements.append(
            SQL("CREATE OR REPLACE TRIGGER dl_gapless BEFORE INSERT ON {0}.{1} "
                "FOR EACH ROW EXECUTE FUNCTION {0}.{2}()").format(schema, entries, gapless))
        statements.append(
            SQL("CREATE OR REPLACE TRIGGER dl_grow_only BEFORE INSERT ON {0}.{1} "
                "FOR EACH ROW EXECUTE FUNCTION {0}.{2}()").format(schema, checkpoints, grow))
        return statements

    def create_table(self) -> None:
        """Create what is missing of the schema, and nothing when it is all there.

        The library runs every CREATE statement on every start: CREATE OR REPLACE
        FUNCTION and TRIGGER take locks on the functions and tables that deadlock
        between processes starting at once (and CREATE TABLE IF NOT EXISTS races on the
        catalog). So a start first reads the catalog (``missing_schema``); only when
        something is missing does it take a transaction-scoped advisory lock for this
        events table, look again and create, one creator at a time.
        """
        if self.missing_schema():
            with self.datastore.transaction(commit=True) as curs:
                curs.execute("SELECT pg_advisory_xact_lock(%s)", (self._schema_lock_key(),))
                if self.missing_schema(curs):
                    for statement in self.sql_create_statements:
                        if "CREATE TYPE" in statement.as_string():
                            curs.execute(SQL("SELECT to_regtype({0}) IS NULL AS absent").format(
                                self._qualified(self.stored_event_type_name)))
                            row = curs.fetchone()
                            if row is None or not row["absent"]:
                                continue  # there is no CREATE TYPE IF NOT EXISTS
                        curs.execute(statement, prepare=False)
        self.datastore.register_type_adapters()

    def _schema_lock_key(self) -> int:
        """The advisory lock that serialises schema creation for this events table."""
        name = f"drawledger schema {self.datastore.schema}.{self.events_table_name}"
        return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)

    def _qualified(self, name: str, args: str = "") -> Composed:
        """``format('%I.%I', schema, name) || args`` evaluated by the server (quoting)."""
        return SQL("format('%I.%I', {0}, {1}) || {2}").format(
            Literal(self.datastore.schema), Literal(name), Literal(args))

    def _schema_checks(self) -> list[tuple[str, Composed]]:
        """``(what, SQL boolean that is true when it is in place)`` for every object
        the create statements make."""
        checks: list[tuple[str, Composed]] = []
        tables = (self.events_table_name, self.entries_table_name,
                  self.checkpoints_table_name, self.cosignatures_table_name)
        for name in (*tables, self.notification_id_index_name):
            checks.append((name, SQL("to_regclass({0}) IS NOT NULL").format(
                self._qualified(name))))
        checks.append((self.stored_event_type_name, SQL("to_regtype({0}) IS NOT NULL").format(
            self._qualified(self.stored_event_type_name))))
        array_of = SQL("format('(%I.%I[])', {0}, {1})").format(
            Literal(self.datastore.schema), Literal(self.stored_event_type_name))
        checks.append((self.pg_function_name_insert_events, SQL(  # an unknown type raises
            "CASE WHEN to_regtype({0}) IS NULL THEN false "
            "ELSE to_regprocedure({1} || {2}) IS NOT NULL END").format(
                self._qualified(self.stored_event_type_name),
                self._qualified(self.pg_function_name_insert_events), array_of)))
        for function in (self.forbid_function_name, self.gapless_function_name,
                         self.grow_function_name):
            checks.append((function, SQL("to_regprocedure({0}) IS NOT NULL").format(
                self._qualified(function, "()"))))
        triggers = [(table, trigger, self.forbid_function_name) for table in tables
                    for trigger in ("dl_no_change", "dl_no_truncate")]
        triggers.append((self.entries_table_name, "dl_gapless", self.gapless_function_name))
        triggers.append((self.checkpoints_table_name, "dl_grow_only", self.grow_function_name))
        for table, trigger, function in triggers:
            checks.append((f"{table}.{trigger}", SQL(
                "EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = to_regclass({0}) "
                "AND tgname = {1} AND tgfoid = to_regprocedure({2}) AND NOT tgisinternal)"
            ).format(self._qualified(table), Literal(trigger),
                     self._qualified(function, "()"))))
        return checks

    def missing_schema(self, curs: Cursor[DictRow] | None = None) -> list[str]:
        """The names of the tables, index, type, functions and triggers of this log's
        schema that the catalog does not hold (empty: nothing to create)."""
        checks = self._schema_checks()
        query = SQL("SELECT {0}").format(SQL(", ").join(
            SQL("{0} AS {1}").format(test, Identifier(f"c{i}"))
            for i, (_, test) in enumerate(checks)))
        if curs is None:
            with self.datastore.get_connection() as conn, conn.cursor() as own:
                own.execute(query)
                row = own.fetchone()
        else:
            curs.execute(query)
            row = curs.fetchone()
        assert row is not None
        return [what for i, (what, _) in enumerate(checks) if not row[f"c{i}"]]

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Insert the events and their chain rows: in this thread's ``write_lock``
        transaction when it holds one (which commits), else in one of their own."""
        if self.datastore.enable_db_functions:
            raise RecorderConfigError(
                "POSTGRES_ENABLE_DB_FUNCTIONS is set: refusing to write unchained events")
        held = self._held_cursor()
        if held is not None:
            self._insert_events(held, stored_events, **kwargs)  # the library's hook
            return self._insert_chained(held, stored_events) if stored_events else []
        own: Sequence[int] | None = self._insert_own(stored_events, **kwargs)
        return own

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def _insert_own(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Insert the events and their chain rows in one transaction.

        The library sends its INSERT (all events as one array parameter) in pipeline
        mode and then calls ``Pipeline.sync()``. With psycopg's pure-Python
        implementation that sync stops writing once its command queue is empty even
        when libpq still holds unsent bytes, and then waits for a result: a message
        larger than the socket buffers (a 30,000-row import, ~30 MB) never reaches the
        server, which waits for the rest of it (``ClientRead``) while this process waits
        for its answer, forever. Here every statement is sent outside pipeline mode
        (psycopg flushes it completely before it waits), in INSERTs of at most
        ``_PG_INSERT_CHUNK`` events, under the library's table lock.
        """
        self._written = None
        with self.datastore.get_connection() as conn, conn.transaction(), \
                conn.cursor() as curs:
            self._insert_events(curs, stored_events, **kwargs)  # the library's hook
            if not stored_events:
                return []
            self._lock_table(curs)
            notification_ids = self._insert_chained(curs, stored_events)
        self._written = self._pending  # committed
        return notification_ids

    def _insert_chained(self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent]
                        ) -> list[int]:
        """The events and their chain rows, with the table lock held (not committed)."""
        self._written = self._pending = None
        self._notify_channel(curs)
        notification_ids: list[int] = []
        for start in range(0, len(stored_events), _PG_INSERT_CHUNK):
            chunk = stored_events[start:start + _PG_INSERT_CHUNK]
            PostgresAggregateRecorder._insert_stored_events(self, curs, chunk)
            notification_ids.extend(row["notification_id"] for row in curs.fetchall())
        curs.execute(self._select_head, prepare=True)
        row = curs.fetchone()
        time = format_log_time(self.clock())
        if row is None:
            seq, prev = 0, ZERO_HASH
        else:
            seq, prev = row["seq"] + 1, bytes(row["hash"])
            time = max(time, row["time"])
        kept: list[bytes] | None = [] if len(stored_events) <= _KEEP_ENTRIES else None
        rows = _chain_rows(self.codec, stored_events, notification_ids, seq, prev, time, kept)
        curs.executemany(self._insert_entry, rows)
        self._pending = (seq, [row[2] for row in rows], _kept(kept, rows))
        if self._held_cursor() is not None:
            self._written = self._pending  # write_lock drops it if the COMMIT fails
        return notification_ids

    @contextmanager
    def _locked_transaction(self) -> Iterator[Cursor[DictRow]]:
        """A transaction holding the events table lock (EXCLUSIVE: other writers wait, up
        to the lock timeout; readers do not)."""
        with self.datastore.get_connection() as conn, conn.transaction(), \
                conn.cursor() as curs:
            self._lock_table(curs)
            yield curs

    @contextmanager
    def _reading(self) -> Iterator[Cursor[DictRow]]:
        """The held write transaction's cursor, else one of a pooled connection."""
        held = self._held_cursor()
        if held is not None:
            yield held
            return
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            yield curs

    def head(self) -> tuple[int, bytes, str | None]:
        """``(size, hash of the last entry or 32 zero bytes, last time or None)``."""
        with self._reading() as curs:
            curs.execute(self._select_head, prepare=True)
            row = curs.fetchone()
        if row is None:
            return 0, ZERO_HASH, None
        return row["seq"] + 1, bytes(row["hash"]), row["time"]

    def read_entries(self, start: int, stop: int) -> list[tuple[int, bytes]]:
        """``(seq, entry bytes)`` for ``start <= seq < stop``, in order."""
        start = max(start, 0)
        with self._reading() as curs:
            prev = ZERO_HASH
            if start > 0:
                curs.execute(self._select_hash, (start - 1,), prepare=True)
                row = curs.fetchone()
                if row is None:
                    return []
                prev = bytes(row["hash"])
            curs.execute(self._select_entries, (start, stop), prepare=True)
            rows = [(r["seq"], bytes(r["hash"]), r["time"],
                     StoredEvent(r["originator_id"], r["originator_version"], r["topic"],
                                 bytes(r["state"])))
                    for r in curs.fetchall()]
        return _rebuild(self.codec, prev, rows)

    def stream_seqs(self, stream: str, stop: int) -> list[int]:
        """The seqs below ``stop`` of one stream's entries, in order (the events' key
        index, not a scan of the log)."""
        with self._reading() as curs:
            curs.execute(self._select_stream, (stream, stop), prepare=True)
            return [int(r["seq"]) for r in curs.fetchall()]

    def read_hashes(self, start: int, stop: int) -> list[bytes]:
        """Entry hashes for ``start <= seq < stop``, in order."""
        with self._reading() as curs:
            curs.execute(self._select_hashes, (start, stop), prepare=True)
            return [bytes(row["hash"]) for row in curs.fetchall()]

    def add_checkpoint(self, size: int, root: bytes, note: str) -> None:
        """Record a checkpoint; its size must exceed every earlier checkpoint's."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(self._insert_checkpoint, (size, root, note))

    def checkpoints(self) -> list[tuple[int, bytes, str]]:
        """All checkpoints ``(size, root, note)``, smallest first."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._select_checkpoints)
            return [(row["size"], bytes(row["root"]), row["note"])
                    for row in curs.fetchall()]

    def add_cosignature(self, size: int, line: str) -> None:
        """Record a witness cosignature line for the checkpoint of ``size``."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(self._insert_cosignature, (size, line))

    def cosignatures(self) -> list[tuple[int, str]]:
        """Cosignatures added after their checkpoints ``(size, line)``, in order."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._select_cosignatures)
            return [(row["size"], row["line"]) for row in curs.fetchall()]

    def latest_checkpoint(self) -> tuple[int, bytes, str] | None:
        """The largest checkpoint, or None."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._select_latest_checkpoint)
            row = curs.fetchone()
        return None if row is None else (row["size"], bytes(row["root"]), row["note"])
