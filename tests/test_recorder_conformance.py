"""The chained recorders pass eventsourcing's own recorder suite, and keep the chain.

eventsourcing's ``ApplicationRecorderTestCase`` runs against both chained recorders
(with ``opaque_codec``, since its states are arbitrary bytes); after every test each
recorder it created must hold one gapless, linked chain with exactly one entry per
stored event. Further tests cover the append-only triggers, checkpoints, rollback of a
state that is not a statement, monotone log time and the factory settings.
"""

from __future__ import annotations

import base64
import importlib
import importlib.util
import json
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import InfrastructureFactory, IntegrityError, StoredEvent
from eventsourcing.sqlite import SQLiteDatastore
from eventsourcing.utils import Environment
from psycopg.sql import SQL, Identifier

from ledger._recorder import (
    ZERO_HASH,
    ChainedPostgresApplicationRecorder,
    ChainedSQLiteApplicationRecorder,
    EntryCodec,
    NotAStatementError,
    RecorderConfigError,
    _statement_frame,
    format_log_time,
    opaque_codec,
    statement_codec,
)
from tests.conftest import (
    pg_datastore,
    pg_drop_ledger_tables,
    pg_env,
    pg_require_or_skip,
    pg_unique_name,
)
from verifier._canonical import dumps
from verifier._entry import TIME_RE, entry_hash, make_entry

ChainedRecorder = ChainedSQLiteApplicationRecorder | ChainedPostgresApplicationRecorder


# eventsourcing's own recorder conformance suites (they import eventsourcing.cipher, which
# needs pycryptodome: a dev dependency).
es_tests = importlib.import_module("eventsourcing.tests.persistence")


# ---------------------------------------------------------------------------------------
# Chain checks


def chain_notification_ids(recorder: ChainedRecorder) -> list[int]:
    """The notification id of each chain row, in seq order."""
    if isinstance(recorder, ChainedSQLiteApplicationRecorder):
        with recorder.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT notification_id FROM {recorder.entries_table_name} "
                      "ORDER BY seq")
            return [row[0] for row in c.fetchall()]
    with recorder.datastore.get_connection() as conn:
        rows = conn.execute(SQL("SELECT notification_id FROM {0}.{1} ORDER BY seq").format(
            Identifier(recorder.datastore.schema),
            Identifier(recorder.entries_table_name))).fetchall()
        return [row["notification_id"] for row in rows]


def assert_chain(recorder: ChainedRecorder, *, opaque: bool) -> int:
    """Assert one gapless linked chain with one entry per stored event; return its size."""
    size, head_hash, head_time = recorder.head()
    entries = recorder.read_entries(0, size + 100)
    assert [seq for seq, _ in entries] == list(range(size)), "seq is not 0..size-1"
    prev, last_time, hashes = ZERO_HASH, "", []
    for seq, raw in entries:
        obj = json.loads(raw)
        assert raw == dumps(obj), f"entry {seq} is not canonical"
        assert obj["seq"] == seq
        assert obj["prev"] == prev.hex(), f"entry {seq} does not link to entry {seq - 1}"
        assert TIME_RE.match(obj["time"]), obj["time"]
        assert obj["time"] >= last_time, f"log time goes backwards at entry {seq}"
        prev, last_time = entry_hash(raw), obj["time"]
        hashes.append(prev)
    assert head_hash == prev
    assert head_time == (last_time or None)
    assert recorder.read_hashes(0, size) == hashes

    notifications = recorder.select_notifications(None, limit=size + 1000)
    ids = chain_notification_ids(recorder)
    assert len(ids) == len(set(ids)) == len(notifications) == size, (
        "stored events and chain rows are not one to one")
    by_id = {n.id: n for n in notifications}
    for (seq, raw), notification_id in zip(entries, ids, strict=True):
        n = by_id[notification_id]
        obj = json.loads(raw)
        oid = n.originator_id
        assert obj["stream"] == (oid.hex if isinstance(oid, UUID) else str(oid)), seq
        assert obj["version"] == n.originator_version, seq
        if opaque:
            assert base64.b64decode(obj["body"]["state_b64"]) == n.state
            assert obj["body"]["topic"] == n.topic
        else:
            state = json.loads(n.state)
            assert {k: obj[k] for k in ("actor", "body", "sig", "type")} == state
    return size


# ---------------------------------------------------------------------------------------
# eventsourcing's conformance suite


class TestChainedSQLiteConformance(
    es_tests.ApplicationRecorderTestCase[ChainedSQLiteApplicationRecorder]
):
    originator_id_type: Literal["uuid", "text"] = "uuid"

    def setUp(self) -> None:
        super().setUp()
        self.tmp = tempfile.TemporaryDirectory(prefix="dl-conformance-")
        self.db_uri = f"file:{self.tmp.name}/ledger.db"
        self.recorders: list[ChainedSQLiteApplicationRecorder] = []

    def tearDown(self) -> None:
        try:
            for recorder in self.recorders:
                assert_chain(recorder, opaque=True)
        finally:
            for recorder in self.recorders:
                recorder.datastore.close()
            self.tmp.cleanup()
            super().tearDown()

    def create_recorder(self) -> ChainedSQLiteApplicationRecorder:
        recorder = ChainedSQLiteApplicationRecorder(
            SQLiteDatastore(db_name=self.db_uri, pool_size=100,
                            originator_id_type=self.originator_id_type),
            codec=opaque_codec)
        recorder.create_table()
        self.recorders.append(recorder)
        return recorder

    def use_memory_db(self) -> None:
        self.db_uri = f"file:dl-{uuid4().hex}?mode=memory&cache=shared"

    def test_insert_select_in_memory_db(self) -> None:
        self.use_memory_db()
        super().test_insert_select()

    def test_concurrent_no_conflicts_in_memory_db(self) -> None:
        self.use_memory_db()
        super().test_concurrent_no_conflicts()


class TestChainedSQLiteConformanceTextIDs(TestChainedSQLiteConformance):
    originator_id_type = "text"

    def new_originator_id(self) -> UUID | str:
        return "test-" + str(uuid4())


@pytest.mark.postgres
class TestChainedPostgresConformance(
    es_tests.ApplicationRecorderTestCase[ChainedPostgresApplicationRecorder]
):
    originator_id_type: Literal["uuid", "text"] = "uuid"

    def setUp(self) -> None:
        pg_require_or_skip()
        super().setUp()
        self.events_table = pg_unique_name() + "_events"
        self.datastore = pg_datastore(pool_size=4, max_overflow=12,
                                      originator_id_type=self.originator_id_type)
        self.recorders: list[ChainedPostgresApplicationRecorder] = []

    def tearDown(self) -> None:
        try:
            for recorder in self.recorders:
                assert_chain(recorder, opaque=True)
        finally:
            self.datastore.close()
            pg_drop_ledger_tables(self.events_table)
            super().tearDown()

    def create_recorder(self) -> ChainedPostgresApplicationRecorder:
        recorder = ChainedPostgresApplicationRecorder(
            self.datastore, self.events_table, codec=opaque_codec)
        recorder.create_table()
        self.recorders.append(recorder)
        return recorder


class TestChainedPostgresConformanceTextIDs(TestChainedPostgresConformance):
    originator_id_type = "text"

    def new_originator_id(self) -> UUID | str:
        return "test-" + str(uuid4())


# ---------------------------------------------------------------------------------------
# Both backends, through one interface


SIG_VALUE = base64.b64encode(bytes(range(64))).decode()


def statement(i: int, *, actor: str = "dept-310000", body: Any = None) -> bytes:
    """A statement state as the application's mapper stores it."""
    return dumps({
        "actor": actor,
        "body": {"n": i, "note": "检查 entity"} if body is None else body,
        "sig": {"ctime": "2024-07-01T09:00:00+08:00", "key": "dept-310000-k1",
                "sid": f"sid-{i}", "value": SIG_VALUE},
        "type": "inspection.task_assigned",
    })


def events(stream: str, count: int, start: int = 1) -> list[StoredEvent]:
    return [StoredEvent(stream, v, "inspection.task_assigned", statement(v))
            for v in range(start, start + count)]


@dataclass
class Backend:
    """Makes chained recorders on one backend and runs raw SQL against their tables."""

    name: str
    make: Callable[..., ChainedRecorder]
    execute: Callable[[str], None]
    recorders: list[ChainedRecorder] = field(default_factory=list)

    def recorder(self, codec: EntryCodec = statement_codec,
                 clock: Callable[[], datetime] | None = None) -> ChainedRecorder:
        kwargs: dict[str, Any] = {"codec": codec}
        if clock is not None:
            kwargs["clock"] = clock
        recorder = self.make(**kwargs)
        recorder.create_table()
        self.recorders.append(recorder)
        return recorder

    def sql(self, template: str, recorder: ChainedRecorder) -> str:
        return template.format(events=recorder.events_table_name,
                               entries=recorder.entries_table_name,
                               checkpoints=recorder.checkpoints_table_name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Backend]:
    if request.param == "sqlite":
        datastore = SQLiteDatastore(f"file:{tmp_path}/ledger.db", originator_id_type="text")

        def execute_sqlite(sql: str) -> None:
            with datastore.transaction(commit=True) as c:
                c.execute(sql)

        yield Backend("sqlite", lambda **kw: ChainedSQLiteApplicationRecorder(datastore, **kw),
                      execute_sqlite)
        datastore.close()
        return

    pg_require_or_skip()
    events_table = pg_unique_name() + "_events"
    pg = pg_datastore(originator_id_type="text")

    def execute_pg(sql: str) -> None:
        with pg.transaction(commit=True) as curs:
            curs.execute(sql.encode())

    try:
        yield Backend("postgres", lambda **kw: ChainedPostgresApplicationRecorder(
            pg, events_table, **kw), execute_pg)
    finally:
        pg.close()
        pg_drop_ledger_tables(events_table)


def test_write_and_read_back(backend: Backend) -> None:
    recorder = backend.recorder()
    assert recorder.head() == (0, ZERO_HASH, None)
    assert recorder.read_entries(0, 10) == []
    assert recorder.latest_checkpoint() is None
    ids = recorder.insert_events(events("inspector-1", 3))
    recorder.insert_events(events("entity-9", 2))
    assert ids is not None and len(ids) == 3
    assert assert_chain(recorder, opaque=False) == 5
    size, _, head_time = recorder.head()
    assert size == 5 and head_time is not None
    entries = recorder.read_entries(1, 4)
    assert [seq for seq, _ in entries] == [1, 2, 3]
    assert recorder.read_hashes(1, 4) == [entry_hash(raw) for _, raw in entries]
    first = json.loads(recorder.read_entries(0, 1)[0][1])
    assert (first["stream"], first["version"], first["prev"]) == ("inspector-1", 1, "0" * 64)


def test_sqlite_rowids_when_not_numbered_from_the_largest(tmp_path: Any) -> None:
    """The batched INSERT's rowids are derived from the largest rowid; a table where
    SQLite had to pick them otherwise (its largest rowid taken) gets each looked up."""
    datastore = SQLiteDatastore(f"file:{tmp_path}/ledger.db", originator_id_type="text")
    recorder = ChainedSQLiteApplicationRecorder(datastore)
    recorder.create_table()
    assert recorder.insert_events(events("a", 2)) == [1, 2]
    with datastore.transaction(commit=True) as c:
        c.execute(f"INSERT INTO {recorder.events_table_name} (rowid, originator_id, "
                  "originator_version, topic, state) VALUES (9223372036854775807, 'x', 1, "
                  "'t', x'7b7d')")
    ids = recorder.insert_events(events("b", 3))
    with datastore.transaction(commit=False) as c:
        c.execute(f"SELECT rowid FROM {recorder.events_table_name} WHERE originator_id = 'b' "
                  "ORDER BY originator_version")
        assert list(ids or []) == [row[0] for row in c.fetchall()]
    assert len(set(ids or [])) == 3
    datastore.close()


def test_hashes_written_are_those_read_back(backend: Backend) -> None:
    """A writer may take the chain hashes of its own last insert instead of reading them
    back: they are the stored ones, and there are none after a failed insert."""
    recorder = backend.recorder()
    assert recorder.hashes_written(0, 0) is None
    recorder.insert_events(events("a", 3))
    assert recorder.hashes_written(0, 3) == recorder.read_hashes(0, 3)
    recorder.insert_events(events("b", 2))
    assert recorder.hashes_written(3, 5) == recorder.read_hashes(3, 5)
    assert recorder.hashes_written(0, 5) is None and recorder.hashes_written(3, 4) is None
    with pytest.raises(IntegrityError):
        recorder.insert_events(events("c", 1) + events("a", 1))  # "a" version 1 exists
    assert recorder.hashes_written(5, 6) is None and recorder.hashes_written(3, 5) is None
    assert recorder.head()[0] == 5


@pytest.mark.parametrize("template", [
    "UPDATE {entries} SET time = 'x'",
    "DELETE FROM {entries}",
    "UPDATE {events} SET topic = 'x'",
    "DELETE FROM {events}",
    "UPDATE {checkpoints} SET note = 'x'",
    "DELETE FROM {checkpoints}",
])
def test_tables_are_append_only(backend: Backend, template: str) -> None:
    recorder = backend.recorder()
    recorder.insert_events(events("s", 2))
    recorder.add_checkpoint(2, bytes(32), "first")
    with pytest.raises(IntegrityError, match="append-only"):
        backend.execute(backend.sql(template, recorder))
    assert assert_chain(recorder, opaque=False) == 2
    assert recorder.checkpoints() == [(2, bytes(32), "first")]


@pytest.mark.postgres
@pytest.mark.parametrize("table", ["events", "entries", "checkpoints"])
def test_postgres_refuses_truncate(pg_events_table: str, table: str) -> None:
    datastore = pg_datastore(originator_id_type="text")
    try:
        recorder = ChainedPostgresApplicationRecorder(datastore, pg_events_table)
        recorder.create_table()
        recorder.insert_events(events("s", 1))
        name = {"events": recorder.events_table_name, "entries": recorder.entries_table_name,
                "checkpoints": recorder.checkpoints_table_name}[table]
        with pytest.raises(IntegrityError, match="append-only"), \
                datastore.transaction(commit=True) as curs:
            curs.execute(SQL("TRUNCATE {0}").format(Identifier(name)))
        assert assert_chain(recorder, opaque=False) == 1
    finally:
        datastore.close()


@pytest.mark.parametrize("seq", [0, 1, 3, 7])
def test_chain_rows_must_be_gapless(backend: Backend, seq: int) -> None:
    recorder = backend.recorder()
    recorder.insert_events(events("s", 2))
    # seq 2 would be next: 0 and 1 exist (primary key or trigger), 3 and 7 leave a gap.
    sql = backend.sql("INSERT INTO {entries} (seq, notification_id, hash, time) "
                      f"VALUES ({seq}, 999, {zero_blob(backend)}, 't')", recorder)
    with pytest.raises(IntegrityError):
        backend.execute(sql)
    assert assert_chain(recorder, opaque=False) == 2


def zero_blob(backend: Backend) -> str:
    return "zeroblob(32)" if backend.name == "sqlite" else "decode(repeat('00', 32), 'hex')"


def test_checkpoints_only_grow(backend: Backend) -> None:
    recorder = backend.recorder()
    root1, root2 = bytes(range(32)), bytes(range(1, 33))
    recorder.add_checkpoint(3, root1, "first")
    for size in (3, 2):
        with pytest.raises(IntegrityError):
            recorder.add_checkpoint(size, root2, "not larger")
    with pytest.raises(IntegrityError):
        recorder.add_checkpoint(9, b"short", "root is not 32 bytes")
    recorder.add_checkpoint(5, root2, "second")
    assert recorder.checkpoints() == [(3, root1, "first"), (5, root2, "second")]
    assert recorder.latest_checkpoint() == (5, root2, "second")


BAD_STATES = [
    b"state1",
    b"\xff\xfe",
    b"[1, 2]",
    b'{"actor":"a","body":{},"sig":{},"type":"x.y"}',
    b'{"actor":"a","body":{}}',
    dumps({"actor": "a", "body": {}, "extra": {}, "sig": {}, "type": "x.y"}),
    statement(1, body={"ratio": 0.5}),
    statement(1).replace(b'"n":1', b'"n":NaN'),
    statement(1).replace(b'"n":1', b'"n":1 }}'),
]


@pytest.mark.parametrize("bad", BAD_STATES)
def test_non_statement_state_rolls_back(backend: Backend, bad: bytes) -> None:
    recorder = backend.recorder()
    recorder.insert_events(events("s", 2))
    before = recorder.head()
    batch = [*events("t", 1), StoredEvent("t", 2, "inspection.task_assigned", bad)]
    with pytest.raises(NotAStatementError):
        recorder.insert_events(batch)
    assert recorder.head() == before
    assert recorder.select_events("t") == []
    assert len(recorder.select_notifications(None, 100)) == 2
    recorder.insert_events(events("t", 2))
    assert assert_chain(recorder, opaque=False) == 4


def test_log_time_never_goes_backwards(backend: Backend) -> None:
    t0 = datetime(2024, 7, 1, 1, 2, 3, tzinfo=UTC)
    readings = iter([t0, t0 - timedelta(hours=1), t0 + timedelta(seconds=1),
                     t0 - timedelta(days=1), t0 + timedelta(seconds=2)])
    recorder = backend.recorder(clock=lambda: next(readings))
    for i in range(5):
        recorder.insert_events(events(f"s{i}", 2))
    times = [json.loads(raw)["time"] for _, raw in recorder.read_entries(0, 10)]
    expected = [t0, t0, t0 + timedelta(seconds=1), t0 + timedelta(seconds=1),
                t0 + timedelta(seconds=2)]
    assert times == [format_log_time(t) for t in expected for _ in range(2)]
    assert times[0] == "2024-07-01T09:02:03.000000+08:00"
    assert assert_chain(recorder, opaque=False) == 10


def test_entries_chain_across_recorders(backend: Backend) -> None:
    """Two recorders on one database continue one chain."""
    first, second = backend.recorder(), backend.recorder()
    first.insert_events(events("a", 2))
    second.insert_events(events("b", 2))
    first.insert_events(events("c", 1))
    assert assert_chain(second, opaque=False) == 5


# ---------------------------------------------------------------------------------------
# Factory settings


def test_sqlite_factory_uses_recorder_topic(tmp_path: Any) -> None:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
           "SQLITE_DBNAME": f"file:{tmp_path}/ledger.db",
           "APPLICATION_RECORDER_TOPIC": "ledger._recorder:ChainedSQLiteApplicationRecorder",
           "ORIGINATOR_ID_TYPE": "text"}
    factory = InfrastructureFactory.construct(Environment(env=env))
    try:
        recorder = factory.application_recorder()
        assert isinstance(recorder, ChainedSQLiteApplicationRecorder)
        assert recorder.codec is statement_codec
        recorder.insert_events(events("s", 3))
        assert assert_chain(recorder, opaque=False) == 3
    finally:
        factory.close()


@pytest.mark.postgres
def test_postgres_factory_uses_recorder_topic() -> None:
    name = pg_unique_name()
    env = {**pg_env(),
           "APPLICATION_RECORDER_TOPIC": "ledger._recorder:ChainedPostgresApplicationRecorder",
           "ORIGINATOR_ID_TYPE": "text"}
    factory = InfrastructureFactory.construct(Environment(name, env))
    try:
        recorder = factory.application_recorder()
        assert isinstance(recorder, ChainedPostgresApplicationRecorder)
        assert recorder.events_table_name == f"{name}_events"
        assert recorder.entries_table_name == f"{name}_events_dl_entries"
        recorder.insert_events(events("s", 3))
        assert assert_chain(recorder, opaque=False) == 3
    finally:
        factory.close()
        pg_drop_ledger_tables(f"{name}_events")


@pytest.mark.postgres
def test_postgres_refuses_db_functions() -> None:
    name = pg_unique_name()
    env = {**pg_env(),
           "APPLICATION_RECORDER_TOPIC": "ledger._recorder:ChainedPostgresApplicationRecorder",
           "POSTGRES_ENABLE_DB_FUNCTIONS": "y"}
    factory = InfrastructureFactory.construct(Environment(name, env))
    try:
        with pytest.raises(RecorderConfigError, match="POSTGRES_ENABLE_DB_FUNCTIONS"):
            factory.application_recorder()
    finally:
        factory.close()
        pg_drop_ledger_tables(f"{name}_events")


# ---------------------------------------------------------------------------------------
# Codecs and log time


TRICKY_BODIES: list[Any] = [
    {},
    {"a": [], "b": [{}], "c": None, "d": True, "e": -2**53},
    {"sig": {"ctime": "x", "key": "k", "sid": "s", "value": "v"}, "type": "x.y"},
    {"text": '","sig":{"ctime":"', "t": '","type":"z.z"}'},
    {"quote": 'he said "hi" \\ back', "ctl": "tab\there\nnew\x01", "uni": "中文 ünï 😀"},
    {"nested": {"deep": [[[{"k": "v"}]]]}},
]


@pytest.mark.parametrize("body", TRICKY_BODIES)
@pytest.mark.parametrize("actor", ["dept-1", "市场监管局", 'a"quoted\\actor'])
def test_statement_codec_equals_make_entry(body: Any, actor: str) -> None:
    state = statement(7, actor=actor, body=body)
    stored = StoredEvent("stream-é", 4, "t", state)
    prev, time = bytes(range(32)), "2024-07-01T09:00:00.000001+08:00"
    expected = make_entry(12, prev, time, "stream-é", 4, json.loads(state))
    assert statement_codec(12, prev, time, stored) == expected


def test_statement_codec_fast_path_is_taken_for_mapper_states() -> None:
    assert _statement_frame(statement(1)) is not None
    assert _statement_frame(statement(1, actor="市场监管局")) is not None
    assert _statement_frame(statement(1, body=TRICKY_BODIES[3])) is not None
    # Not the mapper's framing: decoded and re-encoded instead, with the same result.
    spaced = json.dumps(json.loads(statement(1)), indent=1).encode()
    assert _statement_frame(spaced) is None
    stored = StoredEvent("s", 1, "t", spaced)
    assert statement_codec(0, ZERO_HASH, "t", stored) == statement_codec(
        0, ZERO_HASH, "t", StoredEvent("s", 1, "t", statement(1)))


@pytest.mark.parametrize("bad", BAD_STATES)
def test_statement_codec_rejects_non_statements(bad: bytes) -> None:
    with pytest.raises(NotAStatementError):
        statement_codec(0, ZERO_HASH, "t", StoredEvent("s", 1, "t", bad))


def test_opaque_codec_wraps_any_state() -> None:
    oid = uuid.UUID(int=5)
    raw = opaque_codec(3, ZERO_HASH, "t", StoredEvent(oid, 2, "topic1", b"\x00state"))
    obj = json.loads(raw)
    assert obj["type"] == "test.opaque" and obj["actor"] == "test"
    assert obj["body"] == {"state_b64": base64.b64encode(b"\x00state").decode(),
                           "topic": "topic1"}
    assert obj["sig"]["sid"] == f"{oid.hex}/2"
    assert base64.b64decode(obj["sig"]["value"]) == bytes(64)
    assert (obj["seq"], obj["stream"], obj["version"]) == (3, oid.hex, 2)


def test_format_log_time() -> None:
    assert format_log_time(datetime(2024, 12, 31, 16, 0, tzinfo=UTC)) == (
        "2025-01-01T00:00:00.000000+08:00")
    assert format_log_time(datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC)) == (
        "2024-01-02T11:04:05.000006+08:00")
    assert TIME_RE.match(format_log_time(datetime.now(UTC)))
    with pytest.raises(ValueError, match="timezone-aware"):
        format_log_time(datetime(2024, 1, 1))
