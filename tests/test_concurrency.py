"""Concurrent writers in several processes and threads build one linear chain.

4 processes x 4 threads append small saves (1-5 statements each) at once through the
chained recorder that the eventsourcing factory builds from APPLICATION_RECORDER_TOPIC.
The tables are created once, before the workers start; the workers run with
CREATE_TABLE=n. Afterwards the chain must be seq 0..N-1 without gaps, N must equal the
number of events written, every ``prev`` must be the hash of the previous entry's bytes
and every stored event must have exactly one chain row.
"""

from __future__ import annotations

import base64
import itertools
import json
import multiprocessing
import random
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import InfrastructureFactory, OperationalError, StoredEvent
from eventsourcing.utils import Environment

from ledger._recorder import (
    ZERO_HASH,
    ChainedPostgresApplicationRecorder,
    ChainedSQLiteApplicationRecorder,
)
from tests.conftest import pg_drop_ledger_tables, pg_env, pg_require_or_skip, pg_unique_name
from verifier._canonical import dumps
from verifier._entry import entry_hash, parse_entry

PROCESSES = 4
THREADS = 4
SAVES_PER_THREAD = 50
SIG_VALUE = base64.b64encode(bytes(range(64))).decode()

ChainedRecorder = ChainedSQLiteApplicationRecorder | ChainedPostgresApplicationRecorder


def _statement(stream: str, version: int) -> bytes:
    return dumps({
        "actor": "dept-310000",
        "body": {"stream": stream, "version": version, "note": "并发 write"},
        "sig": {"ctime": "2024-07-01T09:00:00+08:00", "key": "dept-310000-k1",
                "sid": f"{stream}/{version}", "value": SIG_VALUE},
        "type": "inspection.task_assigned",
    })


def _is_busy(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _write(recorder: Any, worker: int, thread: int, seed: int,
           start: threading.Barrier) -> tuple[int, int]:
    """One thread's saves; returns (events written, busy retries)."""
    rng = random.Random(seed)
    written = retries = 0
    start.wait(timeout=60)
    for save in range(SAVES_PER_THREAD):
        stream = f"w{worker}-t{thread}-s{save}"
        batch = [StoredEvent(stream, v, "inspection.task_assigned", _statement(stream, v))
                 for v in range(1, rng.randint(1, 5) + 1)]
        for _attempt in range(100):
            try:
                recorder.insert_events(batch)
            except OperationalError as exc:
                if not _is_busy(exc):
                    raise
                retries += 1  # SQLite busy: the library does not retry, the writer does
                time.sleep(rng.uniform(0.001, 0.01))
            else:
                written += len(batch)
                break
        else:
            raise RuntimeError(f"{stream}: still busy after 100 attempts")
    return written, retries


def worker_main(name: str, env: dict[str, str], worker: int,
                all_ready: Any) -> tuple[int, int]:
    """A worker process: THREADS threads appending through one factory-built recorder,
    all starting once every process is ready."""
    factory = InfrastructureFactory.construct(Environment(name, {**env, "CREATE_TABLE": "n"}))
    try:
        recorder = factory.application_recorder()
        assert isinstance(recorder, ChainedSQLiteApplicationRecorder
                          | ChainedPostgresApplicationRecorder)
        results: list[tuple[int, int]] = []
        errors: list[BaseException] = []
        start = threading.Barrier(THREADS, action=lambda: all_ready.wait(timeout=60))

        def run(thread: int) -> None:
            try:
                results.append(_write(recorder, worker, thread, worker * 100 + thread,
                                      start))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(t,)) for t in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        return sum(w for w, _ in results), sum(r for _, r in results)
    finally:
        factory.close()


def run_workers(name: str, env: dict[str, str]) -> tuple[int, int]:
    """Create the tables once, then run the worker processes; (events, busy retries)."""
    factory = InfrastructureFactory.construct(Environment(name, {**env, "CREATE_TABLE": "y"}))
    try:
        factory.application_recorder()
    finally:
        factory.close()
    # Spawned, not forked: the parent has database connections and pool threads.
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, ProcessPoolExecutor(PROCESSES, context) as pool:
        all_ready = manager.Barrier(PROCESSES)
        futures = [pool.submit(worker_main, name, env, w, all_ready) for w in range(PROCESSES)]
        results = [f.result(timeout=120) for f in futures]
    return sum(w for w, _ in results), sum(r for _, r in results)


def stored_events_by_chain_row(recorder: ChainedRecorder) -> list[tuple[Any, ...]]:
    """(seq, originator_id, originator_version, state) joined on notification id."""
    if isinstance(recorder, ChainedSQLiteApplicationRecorder):
        with recorder.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT d.seq, e.originator_id, e.originator_version, e.state "
                      f"FROM {recorder.entries_table_name} d "
                      f"JOIN {recorder.events_table_name} e ON e.rowid = d.notification_id "
                      "ORDER BY d.seq")
            rows = [tuple(row) for row in c.fetchall()]
            c.execute(f"SELECT COUNT(*) FROM {recorder.events_table_name}")
            count = c.fetchone()[0]
    else:
        from psycopg.sql import SQL, Identifier

        with recorder.datastore.get_connection() as conn:
            rows = [(r["seq"], r["originator_id"], r["originator_version"], bytes(r["state"]))
                    for r in conn.execute(SQL(
                        "SELECT d.seq, e.originator_id, e.originator_version, e.state "
                        "FROM {0} d JOIN {1} e ON e.notification_id = d.notification_id "
                        "ORDER BY d.seq").format(Identifier(recorder.entries_table_name),
                                                 Identifier(recorder.events_table_name)))]
            count = conn.execute(SQL("SELECT COUNT(*) AS n FROM {0}").format(
                Identifier(recorder.events_table_name))).fetchone()["n"]
    assert count == len(rows), "some stored events have no chain row"
    return rows


def assert_one_linear_chain(recorder: ChainedRecorder, written: int) -> None:
    size, head_hash, _ = recorder.head()
    assert size == written, f"chain has {size} entries, {written} events were written"
    entries = recorder.read_entries(0, size + 1)
    assert [seq for seq, _ in entries] == list(range(size)), "seq has gaps or repeats"
    prev, last_time = ZERO_HASH, ""
    for seq, raw in entries:
        entry = parse_entry(raw)
        assert entry.seq == seq
        assert entry.prev == prev.hex(), f"entry {seq} does not link to entry {seq - 1}"
        assert entry.time >= last_time, f"log time goes backwards at entry {seq}"
        prev, last_time = entry_hash(raw), entry.time
    assert head_hash == prev
    workers = [parse_entry(raw).stream.split("-")[0] for _, raw in entries]
    assert len(set(workers)) == PROCESSES
    switches = sum(a != b for a, b in itertools.pairwise(workers))
    assert switches >= PROCESSES, "the workers did not write concurrently"
    joined = stored_events_by_chain_row(recorder)
    assert [row[0] for row in joined] == list(range(size)), "chain rows without an event"
    for (seq, raw), (_, originator_id, version, state) in zip(entries, joined, strict=True):
        entry = parse_entry(raw)
        assert (entry.stream, entry.version) == (str(originator_id), version), seq
        assert {"actor": entry.actor, "body": entry.body, "sig": entry.sig,
                "type": entry.type} == json.loads(state), seq


@pytest.fixture
def sqlite_env(tmp_path: Path) -> dict[str, str]:
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": f"file:{tmp_path}/ledger.db",
        "SQLITE_LOCK_TIMEOUT": "10",
        "APPLICATION_RECORDER_TOPIC": "ledger._recorder:ChainedSQLiteApplicationRecorder",
        "ORIGINATOR_ID_TYPE": "text",
    }


@pytest.fixture
def pg_name() -> Iterator[str]:
    pg_require_or_skip()
    name = pg_unique_name("dlc")
    try:
        yield name
    finally:
        pg_drop_ledger_tables(f"{name}_events")


def open_recorder(name: str, env: dict[str, str]) -> tuple[Any, ChainedRecorder]:
    factory = InfrastructureFactory.construct(Environment(name, {**env, "CREATE_TABLE": "n"}))
    recorder = factory.application_recorder()
    assert isinstance(recorder, ChainedSQLiteApplicationRecorder
                      | ChainedPostgresApplicationRecorder)
    return factory, recorder


def test_sqlite_concurrent_writers_build_one_chain(sqlite_env: dict[str, str]) -> None:
    written, _retries = run_workers("", sqlite_env)
    assert written >= PROCESSES * THREADS * SAVES_PER_THREAD
    factory, recorder = open_recorder("", sqlite_env)
    try:
        with recorder.datastore.transaction(commit=False) as c:
            c.execute("PRAGMA journal_mode")
            assert c.fetchone()[0].lower() == "wal"
        assert_one_linear_chain(recorder, written)
    finally:
        factory.close()


@pytest.mark.postgres
def test_postgres_concurrent_writers_build_one_chain(pg_name: str) -> None:
    env = {**pg_env(),
           "APPLICATION_RECORDER_TOPIC": "ledger._recorder:ChainedPostgresApplicationRecorder",
           "ORIGINATOR_ID_TYPE": "text",
           "POSTGRES_POOL_SIZE": str(THREADS),
           "POSTGRES_LOCK_TIMEOUT": "10"}
    written, _retries = run_workers(pg_name, env)
    assert written >= PROCESSES * THREADS * SAVES_PER_THREAD
    factory, recorder = open_recorder(pg_name, env)
    try:
        assert_one_linear_chain(recorder, written)
    finally:
        factory.close()
