"""The write side resumes (issue 17 item 6, ledger._replaystate): a ledger opened from the
replay state saved beside its database is the ledger a full replay gives (same status,
same next draw commitment, same state byte for byte), replays only the entries after the
state, and a state that does not match the log (corrupted, of another log, of other
code, of a log rolled back or rewritten since) is refused, logged, and the log replayed
in full."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import create_app
from ledger import Ledger, Parties, build_demo, sign_statement
from ledger import _replaystate as replaystate
from ledger._checkpointer import publication_status
from ledger._demo import demo_beacon
from ledger._draws import commit_statement
from verifier import LogState
from verifier._drawaudit import draw_time


def _open(db: Path, **options: Any) -> Ledger:
    return Ledger(str(db), create=False, **options)


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Parties]:
    """A demo year whose ledger saved its replay state on closing (at its last checkpoint)."""
    root = tmp_path_factory.mktemp("year")
    keys = Parties(root / "parties")
    ledger = Ledger(str(root / "db.sqlite"))
    build_demo(ledger, keys, targets=600, inspectors=60)
    ledger.close()
    return root / "db.sqlite", keys


def _copy(year: tuple[Path, Parties], tmp_path: Path) -> Path:
    db, _ = year
    for name in ("db.sqlite", "db.sqlite.state", "db.sqlite.state.key"):
        if (db.parent / name).exists():
            shutil.copy2(db.parent / name, tmp_path / name)
    return tmp_path / "db.sqlite"


def _next_commitment(ledger: Ledger, keys: Parties) -> Any:
    """The commitment the ledger would sign now for the first drawn batch (its snapshot
    of the registries as they stand, the round, the parties), signed deterministically."""
    stream, info = min(ledger.state.draws.items(), key=lambda kv: kv[1].commit_seq)
    _, plan_id, batch_id = stream.split("/")
    plan = ledger.state.plans[plan_id]
    found = plan.batch(batch_id)
    assert found is not None
    batch = found[1]
    parties = batch["randomness"]["commit_reveal"]
    year = draw_time(batch).year
    return commit_statement(ledger, keys.load(f"dept-{info.commit['dept']}"), plan_id,
                            batch_id, demo_beacon(year).chain, {d: "0" * 64 for d in parties},
                            now=draw_time(batch) - timedelta(days=1), sid="next")


# Counters of work done, not of the log: a writer's state counted the checks it ran and
# the index entries its snapshots visited, a replay none.
_COUNTERS = {"signatures_checked", "visits", "_shared"}


def _same_state(a: LogState, b: LogState) -> None:
    """Every field LogState has (whatever fields it grows), its indexes' groups included."""
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if f.name in _COUNTERS:
            continue
        assert x == y, f.name
        if isinstance(x, dict) and hasattr(x, "__dict__"):  # an index: its groups too
            assert {k: v for k, v in vars(x).items() if k not in _COUNTERS} == \
                {k: v for k, v in vars(y).items() if k not in _COUNTERS}, f.name


def _same(resumed: Ledger, full: Ledger, keys: Parties) -> None:
    assert resumed.size == full.size and resumed.tree.root() == full.tree.root()
    assert resumed.tree.pack() == full.tree.pack()
    _same_state(resumed.state, full.state)
    assert publication_status(resumed) == publication_status(full)
    assert _next_commitment(resumed, keys) == _next_commitment(full, keys)


def test_closing_saves_the_state_a_reopened_ledger_resumes_from(
        year: tuple[Path, Parties], tmp_path: Path) -> None:
    db = _copy(year, tmp_path)
    state = Path(str(db) + ".state")
    assert state.exists()
    assert stat.S_IMODE(Path(str(state) + ".key").stat().st_mode) == 0o600
    resumed, full = _open(db), _open(db, resume=False)
    try:
        assert resumed._saved == resumed.size > 0  # loaded, nothing replayed
        assert full._saved == 0
        _same(resumed, full, year[1])
    finally:
        resumed.close()
        full.close()


def test_entries_after_the_state_are_replayed(year: tuple[Path, Parties],
                                              tmp_path: Path) -> None:
    db = _copy(year, tmp_path)
    keys = year[1]
    writer = _open(db)
    saved = writer.size
    key = keys.load("dept-ZC-SCJGJ")
    writer.submit([sign_statement(key, "target.updated", stream, "ZC-SCJGJ",
                                  {"uscc": stream.split("/")[1], "dept": "ZC-SCJGJ",
                                   "risk": "A"}, sid=f"resume-{i}")
                   for i, stream in enumerate(sorted(
                       s for s, info in writer.state.streams.items()
                       if s.startswith("target/") and info.owner == "ZC-SCJGJ"
                       and not info.ended)[:3])])
    writer.close()  # no checkpoint covers the new entries: the state stays at ``saved``
    probe = _open(db, replay=False)
    assert replaystate.saved_size(Path(str(db) + ".state"), probe) == saved
    probe.close()
    resumed, full = _open(db), _open(db, resume=False)
    try:
        assert resumed._saved == saved and resumed.size == saved + 3
        _same(resumed, full, keys)
    finally:
        resumed.close()
        full.close()


def test_api_starts_from_the_state_and_serves_the_same_status(
        year: tuple[Path, Parties], tmp_path: Path) -> None:
    db = _copy(year, tmp_path)
    full = _open(db, resume=False)
    try:
        with TestClient(create_app(str(db))) as client:
            assert client.get("/v1/status").json() == publication_status(full)
            assert client.get("/healthz").json()["entries"] == full.size
    finally:
        full.close()


def _refused(db: Path, caplog: pytest.LogCaptureFixture, words: str) -> None:
    """Opening ``db`` refuses its state (logged, naming why) and replays in full."""
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="drawledger.ledger"):
        ledger, full = _open(db), _open(db, resume=False)
    try:
        assert ledger._saved == 0, "the state was used"
        assert any(words in r.getMessage() for r in caplog.records), caplog.text
        assert ledger.size == full.size
        _same_state(ledger.state, full.state)
    finally:
        full._state_path = None  # only the ledger under test saves again
        full.close()
        ledger._state_path = None
        ledger.close()


def test_a_corrupted_state_is_refused(year: tuple[Path, Parties], tmp_path: Path,
                                      caplog: pytest.LogCaptureFixture) -> None:
    db = _copy(year, tmp_path)
    state = Path(str(db) + ".state")
    data = bytearray(state.read_bytes())
    data[-100] ^= 1
    state.write_bytes(bytes(data))
    _refused(db, caplog, "MAC")
    state.write_bytes(b"not a state\n")
    _refused(db, caplog, "not an audit state file")


def test_a_state_of_other_code_is_refused(year: tuple[Path, Parties], tmp_path: Path,
                                          caplog: pytest.LogCaptureFixture,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    db = _copy(year, tmp_path)
    monkeypatch.setattr(replaystate, "code_id", lambda: "another version")
    _refused(db, caplog, "another version of the code")


def test_a_state_of_another_log_is_refused(year: tuple[Path, Parties], tmp_path: Path,
                                           caplog: pytest.LogCaptureFixture) -> None:
    other = tmp_path / "other"
    other.mkdir()
    ledger = Ledger(str(other / "db.sqlite"))
    build_demo(ledger, Parties(other / "parties"), targets=40, inspectors=10, seed=7)
    ledger.close()
    for name in ("db.sqlite.state", "db.sqlite.state.key"):
        shutil.copy2(year[0].parent / name, other / name)
    _refused(other / "db.sqlite", caplog, "another log")


def test_a_log_rolled_back_or_rewritten_since_is_refused(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The state of a longer history of the same log: refused once the database is
    restored from a backup (fewer entries), and once that backup grows another history
    past the state's size (the entry before the state's point differs)."""
    keys = Parties(tmp_path / "parties")
    db = tmp_path / "db.sqlite"
    ledger = Ledger(str(db))
    build_demo(ledger, keys, targets=40, inspectors=10)
    ledger.close()
    shutil.copy2(db, tmp_path / "backup.sqlite")
    signer = keys.load("log")
    key = keys.load("dept-ZC-SCJGJ")

    def grow(tag: str) -> int:
        led = _open(db)
        streams = sorted(s for s, info in led.state.streams.items()
                         if s.startswith("target/") and info.owner == "ZC-SCJGJ"
                         and not info.ended)[:4]
        led.submit([sign_statement(key, "target.updated", s, "ZC-SCJGJ",
                                   {"uscc": s.split("/")[1], "dept": "ZC-SCJGJ",
                                    "risk": risk}, sid=f"{tag}-{s}")
                    for s, risk in zip(streams, "ABAB", strict=False)])
        assert led.checkpoint(signer) is not None
        size = led.size
        led.close()  # saved at that checkpoint
        return size

    grown = grow("first")
    probe = _open(db, replay=False)
    assert replaystate.saved_size(Path(str(db) + ".state"), probe) == grown
    probe.close()
    shutil.copy2(tmp_path / "backup.sqlite", db)  # restored: the state is longer
    _refused(db, caplog, "the database fewer")
    state = Path(str(db) + ".state").read_bytes()
    led = _open(db, resume=False)
    led._state_path = None
    streams = sorted(s for s, info in led.state.streams.items()
                     if s.startswith("target/") and info.owner == "ZC-SCJGJ"
                     and not info.ended)[:6]
    led.submit([sign_statement(key, "target.updated", s, "ZC-SCJGJ",
                               {"uscc": s.split("/")[1], "dept": "ZC-SCJGJ", "risk": "C"},
                               sid=f"other-{s}") for s in streams])  # another history
    assert led.size >= grown
    led.close()
    Path(str(db) + ".state").write_bytes(state)  # the first history's state again
    _refused(db, caplog, "rewritten or rolled back")
