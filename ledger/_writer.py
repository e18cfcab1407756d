"""An import's SQLite transaction in a forked process, beside the checks that feed it.

A large import spends about as long in SQLite (B-tree inserts, the WAL, the commit) as in
Python (checking and applying each row, chaining the entries), and one process can do
only one at a time: the sqlite3 module needs the GIL between rows, so a thread does not
help. ``ChildWriter`` forks a process that holds the import's one write transaction:

1. the parent sends each chunk of row versions as ``LogState`` passes the rows; the
   child builds those rows' stored states (it shares the encoded rows, the batch
   signature and the stored import record with the parent by the fork), inserts them and
   notes the rowids they got;
2. after the first INSERT, which takes the write lock, the child reads the chain head
   and sends it; from then on the parent chains each chunk's entries and sends their
   hashes, which the child inserts as chain rows beside the rowids (the triggers check
   them as always), while the parent checks the next chunk;
3. the child commits when told to.

The statements, their order and what they write are the in-process recorder's
(``ChainedSQLiteApplicationRecorder._insert_events``). Anything that fails in the child
rolls the transaction back and is raised in the parent as the library's exception for
it; a parent that leaves early (a rejected row) kills the child, and the uncommitted
transaction goes with it. Only where ``os.fork`` exists, no other thread runs and the
database is a SQLite file: see ``available``.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sqlite3
import threading
from array import array
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn, Protocol

from eventsourcing.persistence import (
    DatabaseError,
    IntegrityError,
    OperationalError,
    PersistenceError,
)

from ledger import _pipes as pipes
from ledger._pipes import wide_pipe
from ledger._recorder import ChainedSQLiteApplicationRecorder, inserted_rowids

__all__ = ["ChildWriter", "ImportRows"]

_ERRORS: dict[str, type[PersistenceError]] = {
    "IntegrityError": IntegrityError, "OperationalError": OperationalError,
    "DatabaseError": DatabaseError}


class ImportRows(Protocol):
    """What the child needs of an import's stored events (``ledger._app._ImportEvents``)."""

    def __len__(self) -> int: ...

    def extend_versions(self, versions: Sequence[int]) -> None: ...

    def insert_rows(self, start: int = 0, stop: int | None = None
                    ) -> Iterator[tuple[str, int, str, bytes]]: ...


class ChildWriter:
    """The write transaction of one import's stored events, in a forked child.

    Use as a context manager: ``events`` for each chunk of member rows (the import record
    is inserted with the first), ``head`` once, then ``entries`` for stored events
    already sent, in order, and ``commit``. Leaving before ``commit`` returns discards
    everything.
    """

    def __init__(self, recorder: ChainedSQLiteApplicationRecorder, rows: ImportRows) -> None:
        self.recorder, self.rows = recorder, rows
        self.pid = 0
        self._to: Any = None
        self._from: Any = None
        self._head: tuple[int, bytes, str] | None = None
        self._head_read = False

    @staticmethod
    def available(recorder: object) -> bool:
        return (hasattr(os, "fork") and threading.active_count() == 1
                and type(recorder) is ChainedSQLiteApplicationRecorder
                and not recorder.datastore.pool.is_sqlite_memory_mode)

    def __enter__(self) -> ChildWriter:
        down_r, down_w = wide_pipe()
        up_r, up_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover - the child, whose coverage is not collected
            os.close(down_w)
            os.close(up_r)
            self._child(down_r, up_w)
        os.close(down_r)
        os.close(up_w)
        self._to = os.fdopen(down_w, "wb", buffering=1 << 20)
        self._from = os.fdopen(up_r, "rb")
        return self

    # -- the parent ----------------------------------------------------------------------
    def events(self, versions: Sequence[int]) -> None:
        """Insert the next ``len(versions)`` member rows, at these stream versions."""
        self._send(("events", array("Q", versions)))

    def head(self) -> tuple[int, bytes, str] | None:
        """The chain head the child read after its first INSERT: ``(last seq, last hash,
        last time)``, or None for an empty log."""
        if not self._head_read:
            self._head, self._head_read = self._expect("head"), True
        return self._head

    def entries(self, rows: Sequence[tuple[int, bytes, str]]) -> None:
        """Chain rows ``(seq, hash, time)`` of the next stored events sent, in order; the
        child adds each one's rowid."""
        self._send(("entries", rows))

    def commit(self) -> None:
        self._send(("commit", None))
        self._expect("committed")
        self._reap()

    def _send(self, message: tuple[str, Any]) -> None:
        try:
            pipes.send(self._to, message, flush=True)
        except BrokenPipeError:
            self._expect("")  # the child stopped: raise what it reported

    def _expect(self, what: str) -> Any:
        message = pipes.receive(self._from)
        if message is None:
            raise PersistenceError("the writing process ended without a report")
        kind, payload = message
        if kind == "error":
            name, message = payload
            raise _ERRORS.get(name, PersistenceError)(message)
        if kind != what:
            raise PersistenceError(f"the writing process sent {kind!r}, expected {what!r}")
        return payload

    def _reap(self) -> None:
        if self.pid:
            os.waitpid(self.pid, 0)
            self.pid = 0

    def __exit__(self, *exc: object) -> None:
        for pipe in (self._to, self._from):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        if self.pid:  # not committed: the uncommitted transaction dies with the child
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self._reap()

    # -- the child -----------------------------------------------------------------------
    def _child(self, down: int, up: int) -> NoReturn:  # pragma: no cover - in the child
        status = 1
        try:
            gc.freeze()  # the inherited heap is never scanned, so never copied
            with os.fdopen(down, "rb", buffering=1 << 20) as inbox, \
                    os.fdopen(up, "wb") as outbox:
                def send(message: tuple[str, Any]) -> None:
                    pipes.send(outbox, message, flush=True)

                def receive() -> tuple[str, Any]:
                    message = pipes.receive(inbox)
                    if message is None:
                        raise PersistenceError("the parent went away")
                    return message

                try:
                    self._write(receive, send)
                    status = 0
                except BaseException as exc:
                    with contextlib.suppress(BaseException):
                        send(("error", (type(exc).__name__, str(exc))))
        finally:
            os._exit(status)

    def _write(self, receive: Any, send: Any) -> None:  # pragma: no cover - in the child
        recorder, rows = self.recorder, self.rows
        pool = recorder.datastore.pool
        conn = sqlite3.connect(pool.db_name, uri=True, isolation_level=None,
                               timeout=pool.lock_timeout or 5, check_same_thread=False)
        try:
            c = conn.cursor()
            c.execute("BEGIN")
            done = 0  # stored events inserted
            ids: list[int] = []  # their rowids, in order
            chained = 0  # stored events whose chain rows are inserted
            while True:
                what, payload = receive()
                if what == "events":
                    rows.extend_versions(payload)
                    start, stop = done, done + len(payload) + (1 if done == 0 else 0)
                    c.executemany(recorder.insert_events_statement,
                                  rows.insert_rows(start, stop))
                    if done == 0:  # the INSERT took the write lock: the head is the latest
                        c.execute(recorder._select_head)
                        row = c.fetchone()
                        send(("head", None if row is None
                              else (row[0], bytes(row[1]), row[2])))
                    ids.extend(inserted_rowids(
                        c, recorder.events_table_name, stop - start,
                        ((r[0], r[1]) for r in rows.insert_rows(start, stop))))
                    done = stop
                elif what == "entries":
                    c.executemany(recorder._insert_entry, (
                        (seq, ids[k], digest, time)
                        for k, (seq, digest, time) in enumerate(payload, start=chained)))
                    chained += len(payload)
                elif what == "commit":
                    if chained != done or done != len(rows):
                        raise PersistenceError(f"{done} of {len(rows)} stored events sent, "
                                               f"{chained} chained")
                    c.execute("COMMIT")
                    send(("committed", None))
                    return
                else:
                    raise PersistenceError(f"unknown request {what!r}")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            name = next((n for n in _ERRORS if isinstance(exc, getattr(sqlite3, n))), "")
            raise _ERRORS.get(name, PersistenceError)(str(exc)) from None
        finally:
            conn.close()
