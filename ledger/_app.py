"""The write side: an ``eventsourcing`` application over the hash-chained recorder.

``Ledger.submit`` checks a batch of signed statements with the verifier's own rules
(``verifier.LogState``) and saves them in one transaction, all or nothing; the recorder
chains them inside that transaction. Checkpoints are signed over the Merkle tree of the
chain, and exports are the exact stored bytes, so whatever the ledger writes is by
construction what the verifier recomputes.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import sqlite3
import threading
import uuid
from array import array
from binascii import hexlify
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any, overload
from urllib.parse import parse_qs, unquote, urlparse

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError as ESIntegrityError
from eventsourcing.persistence import StoredEvent

from ledger import _replaystate as replaystate
from ledger._errors import ImportRejectedError, InputError, NoLogError, RejectedError, StorageError
from ledger._import import MAX_ERRORS
from ledger._model import Record, Stated, StatementMapper
from ledger._openings import OpeningStore
from ledger._recorder import (
    ZERO_HASH,
    ChainedPostgresApplicationRecorder,
    ChainedSQLiteApplicationRecorder,
    EntryCodec,
    FramedStoredEvent,
    _stream,
    format_log_time,
    side_table_names,
    statement_codec,
)
from ledger._statements import Submission, sign_statement
from ledger._witness import ForkError, Witness
from ledger._writer import ChildWriter
from verifier import (
    INTEGRITY,
    MAX_ENTRY_BYTES,
    STATEMENT_PREFIX,
    CanonicalError,
    Checkpoint,
    Finding,
    LogState,
    MerkleTree,
    NoteSigner,
    NoteVerifier,
    Trust,
    VerifierError,
    batch_message,
    make_entry,
    parse_note,
    sign_note,
    statement_bytes,
    verify_cosignatures,
    verify_note,
)
from verifier._bodies import body_errors as _default_body_rules
from verifier._canonical import check_unicode, encode_text
from verifier._deadlines import received_on_finding
from verifier._drawaudit import redraw_finding
from verifier._entry import Entry, entry_hash
from verifier._opener import opening_line
from verifier._pipeline import entry_of
from verifier._resultaudit import second_record_finding
from verifier._resume import StateError
from verifier._sealed import SPEC_V2, Opening, SealError, log_spec, seal_body, unseal
from verifier._state import VIOLATION
from verifier._trust import chain_from_json

__all__ = ["ImportResult", "Ledger", "db_env", "require_log"]

_PAGE = 10_000
SAVE_EVERY = 50_000  # entries a log grows by before its replay state is saved again
Recorder = ChainedSQLiteApplicationRecorder | ChainedPostgresApplicationRecorder


def db_env(db: str) -> dict[str, str]:
    """The ``eventsourcing`` environment for a SQLite path or a postgresql:// URL
    (``postgresql://user:password@host:port/dbname?schema=name``)."""
    if db.startswith(("postgres://", "postgresql://")):
        url = urlparse(db)
        schema = parse_qs(url.query).get("schema", [""])[0]
        return {
            **({"POSTGRES_SCHEMA": schema} if schema else {}),
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "APPLICATION_RECORDER_TOPIC":
                "ledger._recorder:ChainedPostgresApplicationRecorder",
            "POSTGRES_DBNAME": url.path.lstrip("/") or "test",
            "POSTGRES_HOST": url.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": unquote(url.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(url.password or ""),
            "POSTGRES_LOCK_TIMEOUT": "10",
            "ORIGINATOR_ID_TYPE": "text",
        }
    Path(db).parent.mkdir(parents=True, exist_ok=True)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "APPLICATION_RECORDER_TOPIC": "ledger._recorder:ChainedSQLiteApplicationRecorder",
        "SQLITE_DBNAME": db,
        "SQLITE_LOCK_TIMEOUT": "10",
        "ORIGINATOR_ID_TYPE": "text",
    }


def require_log(db: str) -> None:
    """Raise NoLogError unless ``db`` already holds a drawledger log (its chain table);
    creates nothing, not even the SQLite file's directory."""
    if not db.startswith(("postgres://", "postgresql://")):
        if not Path(db).is_file():
            raise NoLogError(db, "没有这个文件 / no such file")
        try:
            with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
                found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                                     "name = ?", (side_table_names("stored_events")[0],)
                                     ).fetchone()
        except sqlite3.DatabaseError as exc:
            raise NoLogError(db, f"不是 SQLite 数据库 / not a SQLite database: {exc}") from None
        if found is None:
            raise NoLogError(db, "库中没有日志表 / no log tables in it")
        return
    import psycopg

    entries = side_table_names(f"{Ledger.name}_events")[0]  # eventsourcing's PG table name
    env = db_env(db)
    try:
        with psycopg.connect(host=env["POSTGRES_HOST"], port=int(env["POSTGRES_PORT"]),
                             dbname=env["POSTGRES_DBNAME"], user=env["POSTGRES_USER"],
                             password=env["POSTGRES_PASSWORD"], connect_timeout=10) as conn:
            row = conn.execute(
                "SELECT 1 FROM pg_catalog.pg_tables WHERE tablename = %s AND "
                "schemaname = COALESCE(%s, current_schema())",
                (entries, env.get("POSTGRES_SCHEMA"))).fetchone()
    except psycopg.Error as exc:
        raise StorageError(f"cannot read {db}: {exc}") from None
    if row is None:
        raise NoLogError(db, "库中没有日志表 / no log tables in it")


@dataclass(frozen=True)
class ImportResult:
    """Where an import landed: the seq of its record and how many rows followed it."""

    seq: int
    rows: int
    already: bool  # the same file was imported before; nothing was written now


class Ledger(Application[str]):
    """The drawledger log: signed statements in, chained entries and checkpoints out."""

    name = "drawledger"

    def __init__(self, db: str, *, clock: Callable[[], datetime] | None = None,
                 env: dict[str, str] | None = None, create: bool = True,
                 resume: bool = True, replay: bool = True) -> None:
        """Open the log in ``db``; ``create=False`` raises NoLogError when there is none
        there instead of making an empty one (every CLI command but ``init`` and ``demo``,
        and the API: a mistyped ``--db`` must not serve an empty log).

        The replay starts from the state saved beside the database at a checkpoint
        (ledger._replaystate) unless ``resume`` is False; a state that does not match the
        log is logged and the log replayed in full. ``replay=False`` reads only the
        genesis (for ``genesis`` and ``trust``): a check before serving."""
        if os.environ.get("POSTGRES_ENABLE_DB_FUNCTIONS", "").lower() in ("y", "yes", "1", "true"):
            raise StorageError("POSTGRES_ENABLE_DB_FUNCTIONS skips the table lock and would "
                               "let readers miss entries; unset it")
        if not create:
            require_log(db)
        merged = db_env(db)
        merged.update(env or {})
        super().__init__(env=merged)
        if clock is not None:
            self.chain.clock = clock
        self._lock = threading.RLock()
        self._published: dict[tuple[int, int], str] = {}  # (size, later lines) -> note or ""
        self.state = LogState()
        self.tree = MerkleTree()
        self.openings = OpeningStore(db, merged)
        # Beside the database: the saved replay (and, next to it, the bundles built once).
        self.state_file = replaystate.state_path(db) if replay else None
        self._state_path = self.state_file if resume else None
        self._saved = 0  # the size of the replay state saved or loaded
        if not replay:
            for seq, entry, body in self.logical_entries(0, 1):
                self.state.apply(seq, entry.stream, entry.version, entry.type, entry.actor,
                                 body, entry.sig)
            return
        if self._state_path is not None:
            self._resume(self._state_path)
        self._refresh()

    def _resume(self, path: Path) -> None:
        try:
            found = replaystate.load(self, path)
        except StateError as exc:
            replaystate.log.warning("%s；全部重放 / %s; replaying the whole log", exc.zh, exc.en)
            return
        if found is not None:
            self.state, self.tree = found
            self._saved = self.tree.size

    def save_state(self, *, force: bool = False) -> bool:
        """Save the replay beside the database when the tree stands at a stored
        checkpoint and has grown by an eighth (at least ``SAVE_EVERY`` entries) since the
        state saved last, or at all with ``force``; whether it was saved. Never raises
        for a file that cannot be written: logged, the next open replays more."""
        path = self._state_path
        if path is None:
            return False
        with self._lock:
            size = self.tree.size
            grown = size - self._saved
            if grown <= 0 or (not force and grown < max(SAVE_EVERY, self._saved // 8)):
                return False
            latest = self.chain.latest_checkpoint()
            if latest is None or latest[0] != size or latest[1] != self.tree.root() \
                    or replaystate.saved_size(path, self) >= size:  # another process's is there
                return False
            if self.state.body_check is not _default_body_rules:
                return False  # rules of a caller's own (a test's): not the log's replay
            try:
                replaystate.save(self, path)
            except Exception as exc:  # an optimisation: never a reason to fail
                replaystate.log.warning("无法保存重放状态 %s / cannot save the replay state %s: "
                                        "%s", path, path, exc)
                return False
            self._saved = size
            return True

    def close(self) -> None:
        """Save the replay if it stands at a checkpoint and grew, then close."""
        if getattr(self, "_state_path", None) is not None:
            try:
                self.save_state(force=True)
            finally:
                self._state_path = None  # closed: a second close (``__del__``) saves nothing
        super().close()

    # -- eventsourcing hooks ------------------------------------------------------------
    def construct_mapper(self) -> StatementMapper:
        return StatementMapper()

    @property
    def chain(self) -> Recorder:
        """The chained recorder (typed)."""
        recorder = self.recorder
        assert isinstance(recorder, ChainedSQLiteApplicationRecorder
                          | ChainedPostgresApplicationRecorder)
        return recorder

    # -- reading ------------------------------------------------------------------------
    @property
    def size(self) -> int:
        """Number of entries this process has replayed (call ``refresh`` for others')."""
        return self.tree.size

    def refresh(self) -> int:
        """Catch up with entries other processes wrote; returns the new size."""
        with self._lock:
            self._refresh()
            return self.tree.size

    def _refresh(self) -> None:
        head_size = self.chain.head()[0]
        if self.tree.size >= head_size:
            return
        for seq, entry, body in self.logical_entries(self.tree.size, head_size):
            if entry.seq != seq:
                raise StorageError(f"entry {seq} in the database claims seq {entry.seq}")
            self.state.apply(seq, entry.stream, entry.version, entry.type, entry.actor,
                             body, entry.sig)
            self.tree.append(entry.hash)

    def logical_entries(self, start: int = 0, stop: int | None = None
                        ) -> Iterator[tuple[int, Entry, dict[str, Any]]]:
        """(seq, entry, the body the rules read): a v2 entry's sealed fields opened from
        the internal store (SPEC.md 21.3), as the replay and draw snapshots need them."""
        end = self.chain.head()[0] if stop is None else stop
        spec = 1
        for page_start in range(start, end, _PAGE):
            page = [(seq, own_entry(raw)) for seq, raw
                    in self.chain.read_entries(page_start, min(end, page_start + _PAGE))]
            opened = self.openings_of(e for _, e in page)
            for seq, entry in page:
                body = entry.body
                if seq == 0 and entry.type == "log.genesis":
                    spec = log_spec(body)
                elif max(spec, self.state.spec) >= SPEC_V2:
                    try:
                        body = unseal(entry.type, entry.stream, body,
                                      opened.get(str(body.get("sealed"))))
                    except SealError as exc:
                        raise StorageError(f"entry {seq}: {exc.en}; the internal store of "
                                           "openings does not match the log") from None
                yield seq, entry, body

    def openings_of(self, entries: Iterable[Entry]) -> dict[str, Opening]:
        """The stored openings of these entries' sealed fields (SPEC.md 21.3): internal,
        never for a public reader."""
        sealed = [str(e.body["sealed"]) for e in entries if "sealed" in e.body]
        return self.openings.get_many(sealed) if sealed else {}

    def opening_lines(self, start: int = 0) -> Iterator[bytes]:
        """The auditor export's ``openings.jsonl`` lines (SPEC.md 21.6), in log order."""
        for page_start in range(start, self.chain.head()[0], _PAGE):
            page = [own_entry(raw) for _, raw
                    in self.chain.read_entries(page_start, page_start + _PAGE)]
            opened = self.openings_of(page)
            for entry in page:
                found = opened.get(str(entry.body.get("sealed")))
                if "sealed" in entry.body and found is not None:
                    yield opening_line(entry.seq, found) + b"\n"

    def stream_entries(self, stream: str, stop: int) -> list[tuple[int, bytes]]:
        """(seq, exact entry bytes) of one stream's entries below ``stop``, read by the
        stream's index (a few queries, whatever the log's size)."""
        out = []
        for seq in self.chain.stream_seqs(stream, stop):
            out.extend(self.chain.read_entries(seq, seq + 1))
        return out

    def entries(self, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, bytes]]:
        """(seq, exact entry bytes) for ``start <= seq < stop``, in pages."""
        end = self.chain.head()[0] if stop is None else stop
        while start < end:
            page = self.chain.read_entries(start, min(end, start + _PAGE))
            if not page:
                return
            yield from page
            start = page[-1][0] + 1

    def record(self, stream: str) -> Record:
        """The current view of one stream (entity, inspector, key, department)."""
        record: Record = self.repository.get(stream)
        return record

    def genesis(self) -> dict[str, Any]:
        if self.state.genesis is None:
            raise InputError("the log has no genesis yet: run `drawledger init` first")
        return self.state.genesis

    def trust(self) -> Trust:
        """The trust policy the genesis declares (what an auditor should pin)."""
        g = self.genesis()
        return Trust(g["origin"], NoteVerifier.from_vkey(g["log_key"]),
                     tuple(NoteVerifier.from_vkey(k) for k in g["authority_keys"]),
                     tuple(NoteVerifier.from_vkey(w) for w in g["witnesses"]), g["quorum"],
                     tuple(chain_from_json(b, f"genesis.beacons[{i}]")
                           for i, b in enumerate(g.get("beacons", []))))

    # -- writing ------------------------------------------------------------------------
    def submit(self, submissions: Sequence[Submission]) -> list[int]:
        """Check and append a batch of statements in one transaction; returns their seqs.

        Every statement goes through ``LogState.check`` and the write-time rules the audit
        reports through its trackers (``write_findings``: a re-draw, a second result, a
        receipt dated off its entry). Raises RejectedError (naming the statement's index
        and the rules) or InputError and writes nothing if any statement fails.
        """
        return self._submit(submissions, frozenset())

    def plant_violation(self, submissions: Sequence[Submission], rule: str) -> list[int]:
        """``submit`` that lets findings of exactly ``rule`` through (and still refuses
        anything else): only for ``drawledger demo --violations``, which plants a
        violation such as a re-draw (``V8.redraw``) for the audit to find. Never used by
        the CLI's other commands or the API."""
        return self._submit(submissions, frozenset({rule}))

    def submit_group(self, submissions: Sequence[Submission]
                     ) -> list[int | list[Finding]]:
        """Group commit: append every statement the rules pass in one transaction, and
        leave out the ones they refuse; returns, per statement, its seq or its findings.

        Each is checked against the log as it stands under the chain lock plus the
        group's earlier members that passed (so two statements with one sid: the second
        is refused, V1.replay; an inspection completed and its result in one group: both
        pass). One bad statement never refuses the others. Raises InputError (nothing
        written) when a stream changed under a writer that bypassed the chain lock.
        """
        return self._write(submissions, frozenset(), each=True)

    def _submit(self, submissions: Sequence[Submission], planted: frozenset[str]
                ) -> list[int]:
        seqs = self._write(submissions, planted, each=False)
        return [seq for seq in seqs if isinstance(seq, int)]

    def _write(self, submissions: Sequence[Submission], planted: frozenset[str], *,
               each: bool) -> list[int | list[Finding]]:
        """Check and append under the chain lock (``write_lock``): catch up with what
        other processes wrote, check each statement against that state and the ones
        before it, insert, commit, all in one transaction, so that no statement checked
        against a stale state gets in. ``each``: refused statements are left out (group
        commit); otherwise the first refusal raises RejectedError and nothing is written.
        """
        if not submissions:
            return []
        # Openings first (SPEC.md 21.3): an entry is never stored without its opening.
        self.openings.put((s.type, s.stream, s.opening) for s in submissions
                          if s.opening is not None)
        with self._lock:
            journal: list[tuple[dict[Any, Any], Any, Any]] = []
            events: list[Stated] = []
            outcomes: list[int | list[Finding]] = []
            base = self.tree.size
            try:
                with self.chain.write_lock():
                    self._refresh()
                    base = self.tree.size
                    day: date | None = None  # the date the entries get, once a rule needs it
                    for i, s in enumerate(submissions):
                        seq = base + len(events)
                        version = self.state.next_version(s.stream)
                        signed = statement_bytes(s.type, s.stream, s.actor, s.body, s.sig)
                        signature = base64.b64decode(s.sig["value"])
                        batch = self.state.batch
                        body, sealing = self._logical(seq, s)
                        findings = sealing + self.state.check(
                            seq, s.stream, version, s.type, s.actor, body, s.sig, signed,
                            signature)
                        if s.type in _WRITE_RULE_TYPES:
                            day = day or self._entry_day()
                            findings += write_findings(self.state, seq, s.type, body, day)
                        findings += _size_findings(seq, version, s)
                        findings = [f for f in findings if f.rule not in planted]
                        if findings:
                            if not each:
                                raise RejectedError(i, findings)
                            self.state.batch = batch  # as if it had never been seen
                            outcomes.append(findings)
                            continue
                        self.state.apply(seq, s.stream, version, s.type, s.actor, body,
                                         s.sig, journal)
                        events.append(Stated(s.stream, version, _ctime(s.sig["ctime"]),
                                             s.type, s.actor, s.body, s.sig))
                        outcomes.append(seq)
                    if events:
                        # EventStore.put, not Application.save: save() tests every event
                        # against a runtime Protocol (slow) and serves snapshots and
                        # notifications we do not use. The recorder writes in the held
                        # transaction, which commits as the block ends.
                        self.events.put(events)
            except ESIntegrityError as exc:
                LogState.undo(journal)
                self.state.batch = None
                self._refresh()
                raise InputError(f"a stream changed concurrently, retry: {exc}") from None
            except BaseException:
                LogState.undo(journal)
                self.state.batch = None
                raise
            if events:
                # Committed under the lock: the entries are base .. base + n - 1, and the
                # journal-applied state is the log's state.
                end = base + len(events)
                hashes = self.chain.hashes_written(base, end)
                self.tree.extend(hashes if hashes is not None
                                 else self.chain.read_hashes(base, end))
            return outcomes

    def _logical(self, seq: int, s: Submission) -> tuple[dict[str, Any], list[Finding]]:
        """The body the rules judge (SPEC.md 21): a v2 log's statement opened, and the
        refusal when it cannot be (its entry would be what the audit flags)."""
        if seq == 0 or self.state.spec < SPEC_V2:
            if s.opening is not None:
                return s.body, [Finding("SEAL.extra", VIOLATION, seq,
                                        "本日志（规范第 1 版）不封存字段，不接受开启值",
                                        "this log (SPEC v1) seals nothing and takes no "
                                        "opening")]
            return s.body, []
        try:
            return unseal(s.type, s.stream, s.body, s.opening), []
        except SealError as exc:
            return s.body, [Finding(exc.rule, VIOLATION, seq, exc.zh, exc.en)]

    def _entry_day(self) -> date:
        """The Asia/Shanghai date the next entries get: the recorder's clock now, never
        before the last entry's time (the recorder keeps log time monotonic)."""
        time = format_log_time(self.chain.clock())
        last = self.chain.head()[2]
        return date.fromisoformat(max(time, last or "")[:10])

    def encode_import(self, dept: str, items: Iterable[tuple[str, str, dict[str, Any]]],
                      openings: Sequence[Opening | None] | None = None) -> EncodedImport:
        """The first half of ``submit_import``, without the lock: each row's body encoded
        once, as the rows come (``import_file`` feeds them while a child parses).

        A v2 log (SPEC.md 21): rows given in their logical form are sealed here (the log
        signs this import itself); rows signed elsewhere come sealed, with ``openings``,
        and are opened here. Either way the rules judge the logical bodies (``items``)
        and the log stores the sealed ones (``members``)."""
        members = _ImportMembers(dept)
        kept = []
        stored: list[tuple[str, str, Opening]] = []
        sealing = self.state.spec >= SPEC_V2
        refused: list[tuple[int, list[Finding]]] = []
        for i, item in enumerate(items):
            type_, stream, body = item
            if sealing and openings is None:
                wire, opening = seal_body(type_, stream, body)
            else:
                wire, opening = body, (openings[i] if openings is not None
                                       and i < len(openings) else None)
                if sealing:
                    try:
                        body = unseal(type_, stream, wire, opening)
                    except SealError as exc:
                        refused.append((i, [Finding(exc.rule, VIOLATION, None, exc.zh,
                                                    exc.en)]))
                elif opening is not None:
                    refused.append((i, [Finding("SEAL.extra", VIOLATION, None,
                                                "本日志（规范第 1 版）不接受开启值",
                                                "this log (SPEC v1) takes no opening")]))
            if opening is not None:
                stored.append((type_, stream, opening))
            members.add(i, type_, stream, wire)
            kept.append((type_, stream, body))
        if refused:
            raise ImportRejectedError(refused[:MAX_ERRORS], max(0, len(refused) - MAX_ERRORS))
        return EncodedImport(dept, kept, members, stored)

    def submit_import(self, signer: NoteSigner, dept: str, record: dict[str, Any],
                      items: Iterable[tuple[str, str, dict[str, Any]]] | EncodedImport, *,
                      now: datetime | None = None,
                      bodies_checked: bool = False) -> ImportResult:
        """Append an import: its record, then every row as one batch statement.

        ``record`` holds ``kind``, ``file_sha256`` and ``file_name``; ``items`` are
        ``(type, stream, body)`` in file order, or what ``encode_import`` made of them for
        ``dept``. One transaction, all or nothing; the rows share one signature over their
        statements (SPEC.md section 4.2). Importing the same file again for the same
        department writes nothing and says so.

        Every row goes through ``LogState.check`` like any statement. ``bodies_checked``
        is for ``import_file`` only: it says every body already passed
        ``verifier._registry.check_body`` without errors (``parse_file`` runs it on each
        row), which for ``target.added`` and ``inspector.added`` is exactly what the
        state's default body rules run, so those rules are not run a second time here.
        A state with any other ``body_check``, other event types and the import record are
        checked in full; the audit checks everything again.
        """
        encoded = items if isinstance(items, EncodedImport) else self.encode_import(dept, items)
        if encoded.dept != dept:
            raise InputError(f"dept: the rows were encoded for {encoded.dept}, not {dept}")
        items, members = encoded.items, encoded.members
        if not items:
            raise InputError("the file has no data rows: nothing to import")
        stream = f"import/{dept}/{record['file_sha256']}"
        with self._lock:
            self._refresh()
            previous = self.state.import_streams.get(stream)
            if previous is not None:
                return ImportResult(previous[0], previous[1], already=True)
            batch_id = uuid.uuid4().hex
            ctime = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
            ctime = ctime.replace("+00:00", "Z")
            count = len(items)
            # Each body was encoded once; its statement bytes (for the batch digest now and
            # the state check later) and its stored state are spliced around that encoding.
            members.seal(ctime, signer.name, batch_id, count)
            signed, sha256 = members.signed, hashlib.sha256
            digests = b"".join([sha256(signed(i, type_, item_stream)).digest()
                                for i, (type_, item_stream, _) in enumerate(items)])
            value = base64.b64encode(signer.sign(batch_message(
                signer.name, batch_id, ctime, count, sha256(digests).digest()))).decode()
            head = sign_statement(signer, "import.recorded", stream, dept,
                                  {**record, "dept": dept, "rows": count, "batch": batch_id},
                                  now=now)
            skip_body_rules = bodies_checked and self.state.body_check is _default_body_rules
            self.openings.put(encoded.openings)
            seq = self._append_import(head, items, members, value, digests, skip_body_rules)
            return ImportResult(seq, count, already=False)

    def _append_import(self, head: Submission, items: Sequence[tuple[str, str, dict[str, Any]]],
                       members: _ImportMembers, value: str, digests: bytes,
                       skip_body_rules: bool) -> int:
        """``submit([head, *members])`` without the intermediate objects: check and apply
        each statement, store them in one transaction; returns the seq of ``head``.

        Called with the lock held. Under the chain lock (``write_lock``: refresh, check,
        insert, commit in one transaction) unless a forked ``ChildWriter`` writes, which
        takes SQLite's write lock itself (a single-threaded CLI import of 20,000 rows or
        more). Same checks, same rollback, same stored bytes as
        ``submit``; the members' stored states are built from ``members`` (the bytes the
        mapper writes) as the recorder reads them, so they are never all held at once.
        Members that ``check`` would pass go through ``LogState.apply_clean_members``
        (their statement digests, ``digests``, were computed once, for the signature);
        the first, the last and any it stops at go through ``check``.
        """
        state = self.state
        journal: list[tuple[dict[Any, Any], Any, Any]] = []
        signature = base64.b64decode(value)
        rules = state.body_check
        chain = self.chain
        use_child = (type(self.mapper) is StatementMapper
                     and len(items) >= CHILD_WRITER_MIN_ROWS
                     and isinstance(chain, ChainedSQLiteApplicationRecorder)
                     and chain.codec is statement_codec and ChildWriter.available(chain))
        lock = contextlib.nullcontext() if use_child else chain.write_lock()
        base = self.tree.size
        stack = contextlib.ExitStack()
        try:
            with lock:
                self._refresh()
                base = self.tree.size
                version = state.next_version(head.stream)
                signed = statement_bytes(head.type, head.stream, head.actor, head.body, head.sig)
                findings = state.check(base, head.stream, version, head.type, head.actor,
                                       head.body, head.sig, signed,
                                       base64.b64decode(head.sig["value"]))
                if findings:
                    raise RejectedError(0, findings)
                state.apply(base, head.stream, version, head.type, head.actor, head.body,
                            head.sig, journal)
                first = self.mapper.to_stored_event(Stated(
                    head.stream, version, _ctime(head.sig["ctime"]), head.type, head.actor,
                    head.body, head.sig))
                actor, sig_base = members.actor, {"ctime": members.ctime, "key": members.key}
                checked = _IMPORT_CHECKED_TYPES if skip_body_rules else frozenset()
                plain = type(self.mapper) is StatementMapper
                events = _ImportEvents(first, items, members, value) if plain else None
                feed: _ChildFeed | None = None
                if events is not None and use_child:
                    assert isinstance(chain, ChainedSQLiteApplicationRecorder)
                    feed = _ChildFeed(stack.enter_context(ChildWriter(chain, events)), events,
                                      chain)
                written: tuple[int, list[bytes]] | None = None
                # Every member the rules refuse, by index (the first MAX_ERRORS; the rest
                # counted): an import says which rows conflict with the log, not only the first.
                refused: list[tuple[int, list[Finding]]] = []
                omitted = 0
                i = 0
                while i < len(items):
                    if feed is not None and not refused \
                            and len(members.versions) - feed.sent >= _WRITE_CHUNK:
                        feed.send(members.versions)  # the child writes these meanwhile
                    if i > 0:  # the members that check would pass, checked and applied at once
                        versions = state.apply_clean_members(
                            base + 1 + i, items, i, min(len(items), i + _WRITE_CHUNK), actor,
                            digests[32 * i:32 * (i + _WRITE_CHUNK)], checked, journal)
                        members.versions.extend(versions)
                        i += len(versions)
                        if i == len(items):
                            break
                        if versions:
                            continue
                    type_, item_stream, body = items[i]
                    seq = base + 1 + i
                    sig = {**sig_base, "sid": members.sid(i), "value": value}
                    version = state.next_version(item_stream)
                    if skip_body_rules and type_ in _IMPORT_CHECKED_TYPES:
                        state.body_check = None
                    try:
                        findings = state.check(seq, item_stream, version, type_, actor, body, sig,
                                               members.signed(i, type_, item_stream), signature)
                    finally:
                        state.body_check = rules
                    if findings:  # not applied: the next members are checked without it
                        if len(refused) < MAX_ERRORS:
                            refused.append((i, findings))
                        else:
                            omitted += 1
                    else:
                        state.apply(seq, item_stream, version, type_, actor, body, sig, journal)
                    members.versions.append(version)
                    i += 1
                if refused:
                    raise ImportRejectedError(refused, omitted)
                stored: Sequence[StoredEvent]
                if feed is not None and events is not None:
                    feed.send(members.versions)
                    written = feed.commit()
                    stored = events
                elif events is not None:
                    stored = events
                else:  # a mapper of a subclass: let it write every member
                    stored = [first, *(self.mapper.to_stored_event(Stated(
                        item_stream, members.versions[i], _ctime(members.ctime), type_, actor, body,
                        {**sig_base, "sid": members.sid(i), "value": value}))
                        for i, (type_, item_stream, body) in enumerate(items))]
                if feed is None:
                    # The recorder directly, as EventStore.put does after mapping the events.
                    self.recorder.insert_events(stored)
        except ESIntegrityError as exc:
            LogState.undo(journal)
            state.batch = None
            self._refresh()
            raise InputError(f"a stream changed concurrently, retry: {exc}") from None
        except BaseException:
            LogState.undo(journal)
            state.batch = None
            raise
        finally:
            stack.close()  # a child writer not committed is stopped, its writes discarded
        size = len(stored)
        del stored
        end = self.chain.head()[0]
        if end == base + size:
            hashes = written[1] if written is not None and written[0] == base else \
                self.chain.hashes_written(base, end)
            self.tree.extend(hashes if hashes is not None else self.chain.read_hashes(base, end))
            return base
        LogState.undo(journal)
        self._refresh()
        found = state.seq_of(head.sig["key"], head.sig["sid"])
        assert found is not None
        return found

    def submit_batch(self, head: Submission, members: Sequence[tuple[str, str, dict[str, Any]]],
                     sig: dict[str, str], openings: Sequence[Opening | None] = ()) -> int:
        """Append a batch signed elsewhere (SPEC 4.2: a department's own machine signed
        it, the log never held its key): the announcing ``import.recorded`` ``head``, then
        ``members`` (type, stream, body), whose actor is the head's, each with sid
        ``batch/<head.body.batch>/<i>/<n>`` and ``sig``'s key, ctime and shared value.

        The same checks and single transaction as ``submit_import`` (its append path):
        RejectedError (index 0: the head) or ImportRejectedError (member indexes) and
        nothing written when any fails; the batch signature is checked at the last
        member. Returns the head's seq.
        """
        batch_id = head.body.get("batch")
        if head.type != "import.recorded":
            raise InputError("head.type: a batch is announced by an import.recorded statement")
        if type(batch_id) is not str or not batch_id or "/" in batch_id:
            raise InputError("head.body.batch: the batch id, a non-empty string without '/'")
        if not members:
            raise InputError("members: a batch has at least one member")
        if sig["key"] != head.sig["key"]:
            raise InputError("sig.key: the batch is signed by the key that signed its head")
        # An entry's seq and version are not known yet: the widest ones bound its size.
        oversize = [(i, found) for i, (type_, stream, body) in enumerate(members)
                    if (found := _size_findings(_MAX_SEQ, _MAX_SEQ, Submission(
                        stream, type_, head.actor, body,
                        {**sig, "sid": f"batch/{batch_id}/{i}/{len(members)}"})))]
        if oversize:
            raise ImportRejectedError(oversize[:MAX_ERRORS], max(0, len(oversize) - MAX_ERRORS))
        encoded = self.encode_import(head.actor, members, openings or None)
        self.openings.put(encoded.openings)
        sealed = encoded.members
        sealed.seal(sig["ctime"], sig["key"], batch_id, len(encoded.items))
        digests = b"".join([hashlib.sha256(sealed.signed(i, type_, stream)).digest()
                            for i, (type_, stream, _) in enumerate(encoded.items)])
        with self._lock:
            self._refresh()
            return self._append_import(head, encoded.items, sealed, sig["value"], digests,
                                       skip_body_rules=False)

    def checkpoint(self, log_signer: NoteSigner, witnesses: Sequence[Witness] = (),
                   now: Callable[[], datetime] | None = None) -> str | None:
        """Sign a checkpoint of the whole log and have local witnesses cosign it.

        Each ``Witness`` cosigns only a tree that extends the one it cosigned last (its
        state file): the log's database rolled back or forked is refused with ForkError,
        and then no witness cosigns and no checkpoint is written. There is no unchecked
        path: a test that must forge a cosignature calls ``verifier.cosign`` itself.
        Returns the note, or None when the last checkpoint already covers every entry
        (also when another process wrote it first).
        """
        with self._lock:
            signed = self.sign_checkpoint(log_signer)
            if signed is None:
                return None
            cp, note = signed
            size = cp.size
            stamp = int((now() if now else datetime.now()).timestamp())
            log_key = NoteVerifier.from_vkey(self.genesis()["log_key"])

            def prove(old: int) -> list[bytes]:
                return self.tree.consistency_proof(old, size)

            try:
                for witness in witnesses:  # every witness agrees before any one cosigns
                    witness.check(note, log_key, prove)
                note += "".join(witness.cosign(note, log_key, prove, stamp)
                                for witness in witnesses)
            except ForkError:
                # Refused as a rollback because another process's checkpoint of a bigger
                # tree got cosigned first: when it is stored, this log is up to date.
                latest = self.chain.latest_checkpoint()
                if latest is not None and latest[0] >= size:
                    return None
                raise
            return note if self.store_checkpoint(cp, note) else None

    def sign_checkpoint(self, log_signer: NoteSigner) -> tuple[Checkpoint, str] | None:
        """A checkpoint of the whole log signed by the log key (no cosignature yet; not
        stored), or None when the last stored checkpoint already covers every entry."""
        with self._lock:
            self._refresh()
            genesis = self.genesis()
            if log_signer.verifier.vkey != genesis["log_key"]:
                raise InputError(f"key {log_signer.name} is not the log key named in genesis")
            size = self.tree.size
            latest = self.chain.latest_checkpoint()
            if latest is not None and latest[0] >= size:
                return None
            cp = Checkpoint(genesis["origin"], size, self.tree.root(size))
            return cp, sign_note(cp.text, [log_signer])

    def store_checkpoint(self, cp: Checkpoint, note: str) -> bool:
        """Store ``note`` (of ``cp``, with its cosignatures); False when another process
        stored this size or a larger one first (the grow-only trigger): that one covers
        it."""
        try:
            self.chain.add_checkpoint(cp.size, cp.root, note)
        except ESIntegrityError:
            latest = self.chain.latest_checkpoint()
            if latest is not None and latest[0] >= cp.size:
                return False
            raise
        self.save_state()
        return True

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        """The consistency proof from tree size ``old`` to ``new`` (both within the
        replayed tree), under the lock a writer appends under."""
        with self._lock:
            return self.tree.consistency_proof(old, new)

    def witness_latest(self, witness: Witness, now: datetime | None = None) -> str:
        """``drawledger witness cosign``: the witness checks the latest checkpoint against
        the tree it cosigned last and, if it extends it, cosigns it (again, if it had
        before: the tree was still the latest then). Returns the cosignature line."""
        with self._lock:
            self._refresh()
            latest = self.chain.latest_checkpoint()
            if latest is None:
                raise InputError("the log has no checkpoint to cosign yet")
            size, _, note = latest
            log_key = NoteVerifier.from_vkey(self.genesis()["log_key"])
            stamp = int((now or datetime.now(UTC)).timestamp())
            line = witness.cosign(note, log_key,
                                  lambda old: self.tree.consistency_proof(old, size), stamp)
            if line not in note and (size, line) not in self.chain.cosignatures():
                with contextlib.suppress(ESIntegrityError):  # the same line, raced: once
                    self.chain.add_cosignature(size, line)  # the same second twice: once
            return line

    def published_checkpoints(self) -> list[tuple[int, bytes, str]]:
        """Every *published* checkpoint ``(size, root, note)``, smallest first (SPEC.md
        "Publication"): a stored checkpoint whose note, with the cosignatures added to it
        later (``drawledger witness cosign``), carries valid cosignatures by the genesis
        quorum of witnesses. Only these are served (API, tiles, receipts' proofs,
        bundles): a tree the quorum has not seen could be a split view.

        The returned note is the stored one plus those later lines (one per witness not
        already on it). Verdicts are cached: a stored note never changes."""
        trust = self.trust()
        extra: dict[int, list[str]] = {}
        for size, line in self.chain.cosignatures():
            extra.setdefault(size, []).append(line)
        out = []
        for size, root, note in self.chain.checkpoints():
            key = (size, len(extra.get(size, ())))
            verdict = self._published.get(key)
            if verdict is None:
                verdict = self._published[key] = _published_note(
                    note, extra.get(size, []), trust)
            if verdict:
                out.append((size, root, verdict))
        return out

    def published_checkpoint(self) -> tuple[int, bytes, str] | None:
        """The latest published checkpoint ``(size, root, note)``, or None (see
        ``published_checkpoints``)."""
        published = self.published_checkpoints()
        return published[-1] if published else None

    # -- export -------------------------------------------------------------------------
    def export(self, out_dir: Path, *, auditor: bool = False) -> dict[str, int]:
        """Write entries.jsonl, checkpoints/ and trust.json (SPEC.md section 9); with
        ``auditor``, also openings.jsonl, the internal store's openings of the sealed
        fields (SPEC.md 21.6): an export for a registered auditor only."""
        with self._lock:
            self._refresh()
            trust = self.trust()
            out_dir.mkdir(parents=True, exist_ok=True)
            cp_dir = out_dir / "checkpoints"
            cp_dir.mkdir(exist_ok=True)
            checkpoints = self.chain.checkpoints()
            last = checkpoints[-1][0] if checkpoints else 0
            count = 0
            tmp = out_dir / "entries.jsonl.tmp"
            with tmp.open("wb") as fh:
                for _, raw in self.entries(0, max(last, self.tree.size)):
                    fh.write(raw + b"\n")
                    count += 1
            tmp.replace(out_dir / "entries.jsonl")
            opened = 0
            if auditor:
                tmp = out_dir / "openings.jsonl.tmp"
                with tmp.open("wb") as fh:
                    for line in self.opening_lines():
                        fh.write(line)
                        opened += 1
                tmp.replace(out_dir / "openings.jsonl")
            from ledger._tiles import checkpoint_notes  # the tiles serve the same notes
            for name, note in checkpoint_notes(self, last):
                (cp_dir / name).write_text(note, encoding="utf-8")
            (out_dir / "trust.json").write_bytes(trust.canonical_bytes())
            return {"entries": count, "checkpoints": len(checkpoints),
                    **({"openings": opened} if auditor else {})}


# Types with a write-time rule beyond LogState.check (see write_findings).
_WRITE_RULE_TYPES = frozenset({"draw.executed", "result.recorded", "plan.received"})


def write_findings(state: LogState, seq: int, type_: str, body: dict[str, Any], day: date
                   ) -> list[Finding]:
    """What the log refuses to write although the replay state's ``check`` leaves it to
    the audit's trackers, which report it in any log that carries it: a second
    ``draw.executed`` of a batch (V8.redraw), a second ``result.recorded`` of an
    inspection (V16.second_record), a ``plan.received`` dated after its entry or too long
    before it (V2.received_on). The verifier's own functions decide, with the state
    before the statement and ``day``, the date the entry gets."""
    found = (redraw_finding(state, seq, type_, body),
             second_record_finding(state, seq, type_, body),
             received_on_finding(seq, type_, body, day))
    return [f for f in found if f is not None]


# The width of a log time (SPEC 3.1) and a stand-in of that width: an entry's size is
# known before the log stamps it, because `prev` and `time` have fixed widths.
_TIME_STANDIN = "0000-00-00T00:00:00.000000+08:00"


_MAX_SEQ = 9_000_000_000_000_000  # 16 digits, as wide as any seq the profile allows


def _size_findings(seq: int, version: int, s: Submission) -> list[Finding]:
    """V1.format when the entry this statement becomes would exceed the 1 MiB limit
    (SPEC 3.1): the audit would call an honest log corrupt, so the log refuses it."""
    size = len(make_entry(seq, bytes(32), _TIME_STANDIN, s.stream, version,
                          {"actor": s.actor, "body": s.body, "sig": s.sig, "type": s.type}))
    if size <= MAX_ENTRY_BYTES:
        return []
    return [Finding("V1.format", INTEGRITY, seq,
                    f"该声明写入后条目为 {size} 字节，超过 {MAX_ENTRY_BYTES} 字节上限",
                    f"the entry would be {size} bytes, over the {MAX_ENTRY_BYTES}-byte limit")]


def _published_note(note: str, later: Sequence[str], trust: Trust) -> str:
    """``note`` with the ``later`` cosignature lines of witnesses not already on it, if
    the log key signs it and at least ``trust.quorum`` pinned witnesses' cosignatures on
    it verify; else "". A bad line by a pinned witness counts as none (it is not served
    as a cosignature)."""
    try:
        parsed = parse_note(note)
        verify_note(parsed, [trust.log_key])
    except VerifierError:
        return ""
    text, _, sigs = note.partition("\n\n")
    lines = [s for s in sigs.splitlines() if s]
    good = []
    seen: set[str] = set()
    for line in [*lines, *(s.strip("\n") for s in later)]:
        if line in good:
            continue
        try:
            names = verify_cosignatures(parse_note(f"{text}\n\n{line}\n"), trust.witnesses)
        except VerifierError:
            continue
        name = next(iter(names), None)
        if name is None:  # the log's own signature, or an unknown cosigner's: kept as is
            if line in lines:
                good.append(line)
            continue
        if name not in seen:
            seen.add(name)
            good.append(line)
    if len(seen) < trust.quorum:
        return ""
    return f"{text}\n\n" + "".join(line + "\n" for line in good)


def own_entry(raw: bytes) -> Entry:
    """An entry this ledger read back from its own database, where the recorder rebuilt
    it from the stored statement and matched it to its recorded chain hash: its fields by
    the plain decoder. ``parse_entry``'s canonical-profile checks are the verifier's (the
    audit runs them on every entry); here they doubled the cost of opening a large log."""
    return entry_of(raw, entry_hash(raw), canonical=False)


# Import rows whose body rules are exactly ``verifier._registry.check_body``'s errors under
# the default ``LogState.body_check`` (``verifier._bodies.body_errors``); see submit_import.
_IMPORT_CHECKED_TYPES = frozenset({"target.added", "inspector.added"})
# Imports of at least this many rows write in a forked ChildWriter (where one can run);
# below it a fork costs more than the overlap saves.
CHILD_WRITER_MIN_ROWS = 20_000
# Rows checked, then handed to the child writer, at a time.
_WRITE_CHUNK = 4_096


def _json_str(text: str) -> bytes:
    """A string as the canonical encoder writes it (``verifier.dumps``)."""
    return encode_basestring(text).encode()


@dataclass
class EncodedImport:
    """Rows whose bodies ``Ledger.encode_import`` has encoded for ``dept``."""

    dept: str
    items: list[tuple[str, str, dict[str, Any]]]
    members: _ImportMembers
    openings: list[tuple[str, str, Opening]]  # to store before the rows (SPEC.md 21.3)


class _ImportMembers:
    """An import's rows kept as the canonical bytes of their bodies (one encoding each).

    Each member's statement bytes (``statement_bytes``: what the batch signature covers)
    and stored state (``dumps({actor, body, sig, type})``: what ``StatementMapper``
    writes) are spliced around that encoding; the keys of both objects are fixed, so
    their sorted order is too. ``tests/test_import_ledger.py`` compares both with the
    general functions.
    """

    def __init__(self, actor: str) -> None:
        self.actor, self._actor = actor, _json_str(actor)
        self.ctime = self.key = ""
        self._ctime = self._key = b""
        self._sid_head = self._sid_tail = ""
        self._sid_json_head = self._sid_json_tail = b""
        self._values: dict[str, bytes] = {}  # sig tails by signature value
        self._bodies: list[bytes] = []
        self._types: dict[str, bytes] = {}
        self.versions = array("Q")  # the stream version of each row, once checked

    def seal(self, ctime: str, key: str, batch_id: str, count: int) -> None:
        """The batch's time, key, id and size: known once every row is in."""
        self.ctime, self.key = ctime, key
        self._ctime, self._key = _json_str(ctime), _json_str(key)
        self._sid_head, self._sid_tail = f"batch/{batch_id}/", f"/{count}"
        # The encoder escapes character by character, so a sid's JSON string is its head's
        # without the closing quote, the index's digits, and its tail's without the opening.
        self._sid_json_head = _json_str(self._sid_head)[:-1]
        self._sid_json_tail = _json_str(self._sid_tail)[1:]
        # The constant runs around each row's body and index, for the hot splices below.
        self._signed_head = STATEMENT_PREFIX + b'{"actor":' + self._actor + b',"body":'
        self._signed_mid = (b',"ctime":' + self._ctime + b',"key":' + self._key
                            + b',"sid":' + self._sid_json_head)
        self._state_head = b'{"actor":' + self._actor + b',"body":'
        self._sig_head = (b',"sig":{"ctime":' + self._ctime + b',"key":' + self._key
                          + b',"sid":' + self._sid_json_head)

    def sid(self, i: int) -> str:
        return f"{self._sid_head}{i}{self._sid_tail}"

    def _type(self, type_: str) -> bytes:
        encoded = self._types.get(type_)
        if encoded is None:
            encoded = self._types[type_] = _json_str(type_)
        return encoded

    def add(self, i: int, type_: str, stream: str, body: dict[str, Any]) -> None:
        """Encode row ``i``'s body (its strings must be NFC and its keys ASCII, as for any
        submitted statement)."""
        text = encode_text(body)
        if not text.isascii():
            try:
                check_unicode(text, body)
            except CanonicalError as exc:
                raise InputError(f"statement {i + 1} ({stream}): body {exc}") from None
        self._bodies.append(text.encode())

    def signed(self, i: int, type_: str, stream: str) -> bytes:
        """``statement_bytes(type_, stream, actor, body, sig)`` of row ``i``."""
        return b'%b%b%b%d%b,"stream":%b,"type":%b}' % (
            self._signed_head, self._bodies[i], self._signed_mid, i, self._sid_json_tail,
            _json_str(stream), self._type(type_))

    def state(self, i: int, type_: str, value: str) -> tuple[bytes, tuple[int, int]]:
        """The stored state of row ``i`` signed with ``value``, as the mapper writes it,
        and where its ``,"sig":`` and ``,"type":`` members start."""
        state = self.state_bytes(i, type_, value)
        sig_at = len(self._state_head) + len(self._bodies[i])
        return state, (sig_at, len(state) - len(self._type(type_)) - 9)  # ',"type":' and }

    def state_bytes(self, i: int, type_: str, value: str) -> bytes:
        """The stored state alone, in one splice."""
        return b'%b%b%b%d%b,"type":%b}' % (self._state_head, self._bodies[i], self._sig_head,
                                           i, self._value(value), self._type(type_))

    def _value(self, value: str) -> bytes:
        """The sig's tail after a sid's index, for signature ``value``."""
        encoded = self._values.get(value)
        if encoded is None:  # one signature for the whole batch: encoded once
            encoded = self._values[value] = (
                self._sid_json_tail + b',"value":' + _json_str(value) + b"}")
        return encoded

    def entry(self, i: int, type_: str, stream: str, version: int, value: str, seq: int,
              prev: bytes, time: bytes) -> bytes:
        """``statement_codec(seq, prev, time, stored event of row i)``, from the pieces
        (``time`` already JSON-encoded) without building the stored state first."""
        return b'%b%b,"prev":"%b","seq":%d%b%d%b,"stream":%b,"time":%b,"type":%b,"version":%d}' % (
            self._state_head, self._bodies[i], hexlify(prev), seq, self._sig_head, i,
            self._value(value), _json_str(stream), time, self._type(type_), version)


class _ChildFeed:
    """Hands a ChildWriter the versions of the rows checked so far and, once it has read
    the chain head, their entries' hashes: the rest of the recorder's transaction."""

    def __init__(self, writer: ChildWriter, events: _ImportEvents,
                 recorder: ChainedSQLiteApplicationRecorder) -> None:
        self.writer, self.events, self.recorder = writer, events, recorder
        self.sent = 0  # members whose rows the child has
        self.hashes: list[bytes] = []  # entry hashes of the stored events sent
        self.first = self.seq = 0
        self.prev, self.time = ZERO_HASH, ""

    def send(self, versions: Sequence[int]) -> None:
        if len(versions) == self.sent:
            return
        self.writer.events(versions[self.sent:])
        self.sent = len(versions)
        if not self.hashes:  # the first INSERT is done: the head is the transaction's
            head = self.writer.head()
            self.time = format_log_time(self.recorder.clock())
            if head is not None:
                self.seq, self.prev, self.time = head[0] + 1, head[1], max(self.time, head[2])
            self.first = self.seq
        hashes = self.events.chain(self.recorder.codec, self.seq, self.prev, self.time,
                                   len(self.hashes), 1 + self.sent)
        if hashes is None:  # pragma: no cover - the writer is only used with statement_codec
            raise StorageError("a child writer needs the statement codec")
        self.writer.entries([(self.seq + k, h, self.time) for k, h in enumerate(hashes)])
        self.seq += len(hashes)
        self.prev = hashes[-1]
        self.hashes.extend(hashes)

    def commit(self) -> tuple[int, list[bytes]]:
        """Commit; the seq of the first entry written and every entry hash."""
        self.writer.commit()
        return self.first, self.hashes


class _ImportEvents(Sequence[StoredEvent]):
    """The stored events of an import, the record's first: each member's is built when
    the recorder reads it (it reads each twice: to insert it and to chain it)."""

    def __init__(self, first: StoredEvent, items: Sequence[tuple[str, str, dict[str, Any]]],
                 members: _ImportMembers, value: str) -> None:
        self._first, self._items, self._members, self._value = first, items, members, value

    def __len__(self) -> int:
        return len(self._items) + 1

    @overload
    def __getitem__(self, index: int) -> StoredEvent: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[StoredEvent]: ...

    def __getitem__(self, index: int | slice) -> StoredEvent | Sequence[StoredEvent]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if index == 0:
            return self._first
        if not 0 < index <= len(self._items):
            raise IndexError(index)
        i = index - 1
        type_, stream, _ = self._items[i]
        state, frame = self._members.state(i, type_, self._value)
        return FramedStoredEvent(stream, self._members.versions[i], type_, state, frame)

    def insert_rows(self, start: int = 0, stop: int | None = None
                    ) -> Iterator[tuple[str, int, str, bytes]]:
        """``(stream, version, topic, state)`` of the stored events ``start:stop``, as
        the SQLite recorder binds them, without the stored-event objects."""
        if start == 0:
            first = self._first
            yield (_stream(first.originator_id), first.originator_version, first.topic,
                   first.state)
            start = 1
        versions, state, value = self._members.versions, self._members.state_bytes, self._value
        items = self._items
        for i in range(start - 1, len(items) if stop is None else stop - 1):
            type_, stream, _ = items[i]
            yield stream, versions[i], type_, state(i, type_, value)

    def extend_versions(self, versions: Sequence[int]) -> None:
        """The next members' stream versions, as they are checked (a ``ChildWriter``)."""
        self._members.versions.extend(versions)

    def chain(self, codec: EntryCodec, seq: int, prev: bytes, time: str, start: int = 0,
              stop: int | None = None) -> list[bytes] | None:
        """The hashes of the entries of stored events ``start:stop`` at ``seq`` on after
        ``prev``, as ``_chain_rows`` computes them with ``statement_codec`` (None for
        another codec: it has to be used)."""
        if codec is not statement_codec:
            return None
        members, value, versions = self._members, self._value, self._members.versions
        hashes = []
        if start == 0:
            prev = entry_hash(statement_codec(seq, prev, time, self._first))
            hashes.append(prev)
            seq, start = seq + 1, 1
        encoded_time, items, entry = _json_str(time), self._items, members.entry
        for i in range(start - 1, len(items) if stop is None else stop - 1):
            type_, stream, _ = items[i]
            prev = entry_hash(entry(i, type_, stream, versions[i], value, seq, prev,
                                    encoded_time))
            hashes.append(prev)
            seq += 1
        return hashes

    def __iter__(self) -> Iterator[StoredEvent]:
        yield self._first
        versions, state, value = self._members.versions, self._members.state, self._value
        for i, (type_, stream, _) in enumerate(self._items):
            data, frame = state(i, type_, value)
            yield FramedStoredEvent(stream, versions[i], type_, data, frame)


def _ctime(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


