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
transaction goes with it. Every wait on the other end is bounded (``ledger._pipes``): a
child that dies or stops answering raises ChildFailedError here, naming it and what it
was doing, and is reaped; a child whose parent went away or fell silent rolls back and
exits. Only where ``os.fork`` exists, no other thread runs and the database is a SQLite
file: see ``available``.
"""

from __future__ import annotations

import contextlib
import gc
import os
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

from ledger._pipes import Peer, Reader, Writer, child_timeout, wide_pipe
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
        self._peer: Peer | None = None
        self._to: Writer | None = None
        self._from: Reader | None = None
        self._head: tuple[int, bytes, str] | None = None
        self._head_read = False

    @staticmethod
    def available(recorder: object) -> bool:
        return (hasattr(os, "fork") and threading.active_count() == 1
                and type(recorder) is ChainedSQLiteApplicationRecorder
                and not recorder.datastore.pool.is_sqlite_memory_mode)

    def __enter__(self) -> ChildWriter:
        timeout = child_timeout()
        down_r, down_w = wide_pipe()
        up_r, up_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover - the child, whose coverage is not collected
            os.close(down_w)
            os.close(up_r)
            self._child(down_r, up_w, timeout)
        os.close(down_r)
        os.close(up_w)
        self._peer = Peer(self.pid, "写入数据库的子进程", "the database-writing process",
                          timeout)
        self._peer.doing(f"写入 {len(self.rows):,} 条导入记录",
                         f"writing the import's {len(self.rows):,} stored events")
        self._to = Writer(down_w, self._peer)
        self._from = Reader(up_r, self._peer)
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
        assert self._peer is not None
        self._peer.doing("提交导入的事务", "committing the import's transaction")
        self._peer.outcome = (
            "导入可能已提交也可能没有：再次导入同一文件不会重复写入",
            "the import may or may not have been committed: importing the same file again "
            "never writes it twice")
        self._send(("commit", None))
        self._expect("committed")
        self._peer.reap()
        self.pid = 0

    def _send(self, message: tuple[str, Any]) -> None:
        assert self._to is not None
        try:
            self._to.send(message, flush=True)
        except BrokenPipeError:
            self._expect("")  # the child stopped: raise what it reported

    def _expect(self, what: str) -> Any:
        assert self._from is not None and self._peer is not None
        message = self._from.receive()
        if message is None:
            raise self._peer.ended()
        kind, payload = message
        if kind == "error":
            name, message = payload
            raise _ERRORS.get(name, PersistenceError)(message)
        if kind != what:
            raise PersistenceError(f"the writing process sent {kind!r}, expected {what!r}")
        return payload

    def __exit__(self, *exc: object) -> None:
        for pipe in (self._to, self._from):
            if pipe is not None:
                pipe.close()
        if self._peer is not None:  # not committed: the transaction dies with the child
            self._peer.stop()
        self.pid = 0

    # -- the child -----------------------------------------------------------------------
    def _child(self, down: int, up: int,
               timeout: float) -> NoReturn:  # pragma: no cover - in the child
        status = 1
        try:
            gc.freeze()  # the inherited heap is never scanned, so never copied
            parent = Peer(os.getppid(), "导入进程", "the importing process", timeout,
                          parent=True,
                          outcome=("事务已回滚", "the transaction was rolled back"))
            parent.doing("检查导入的行", "checking the import's rows")
            inbox, outbox = Reader(down, parent), Writer(up, parent)

            def send(message: tuple[str, Any]) -> None:
                outbox.send(message, flush=True)

            def receive() -> tuple[str, Any]:
                message = inbox.receive()
                if message is None:
                    raise parent.ended()
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
