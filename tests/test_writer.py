"""Imports written by a forked ChildWriter: the same log as in process, or nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from eventsourcing.persistence import IntegrityError

from ledger import InputError, Ledger, Parties, _app, build_demo
from ledger._writer import ChildWriter
from tests.helpers import read_entries, run_audit
from tests.test_batch import rows
from verifier import EXIT_CLEAN
from verifier._entry import entry_hash

RECORD = {"kind": "targets", "file_sha256": "ef" * 32, "file_name": "名录.csv"}


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The child writer for any import of 10 rows or more, 7 rows at a time."""
    monkeypatch.setattr(_app, "CHILD_WRITER_MIN_ROWS", 10)
    monkeypatch.setattr(_app, "_WRITE_CHUNK", 7)


def demo_log(root: Path) -> tuple[Ledger, Parties]:
    keys = Parties(root / "parties")
    ledger = Ledger(str(root / "db.sqlite"))
    build_demo(ledger, keys, targets=4, inspectors=1, conflicts=0)
    return ledger, keys


def test_child_writer_writes_what_the_recorder_would(tmp_path: Path,
                                                      small_chunks: None) -> None:
    ledger, keys = demo_log(tmp_path)
    forks = []
    real = ChildWriter.__enter__

    def counted(self: ChildWriter) -> ChildWriter:
        forks.append(self)
        return real(self)

    ChildWriter.__enter__ = counted  # type: ignore[method-assign]
    try:
        base = ledger.size
        result = ledger.submit_import(keys.load("dept-ZC-SCJGJ"), "ZC-SCJGJ", RECORD,
                                      rows(50))
    finally:
        ChildWriter.__enter__ = real  # type: ignore[method-assign]
    assert len(forks) == 1 and forks[0].pid == 0  # used, committed and reaped
    assert result.seq == base and result.rows == 50 and ledger.size == base + 51
    # The tree this process extended is the one a fresh replay of the database builds,
    # and the chain rows hold the hashes of the entries rebuilt from the stored events.
    again = Ledger(str(tmp_path / "db.sqlite"))
    assert again.size == ledger.size and again.tree.root() == ledger.tree.root()
    assert again.state.targets == ledger.state.targets
    entries = again.chain.read_entries(base, ledger.size)
    assert [entry_hash(e) for _, e in entries] == again.chain.read_hashes(base, ledger.size)
    ledger.checkpoint(keys.load("log"), keys.witness_tools())
    ledger.export(tmp_path / "out")
    report = run_audit(tmp_path / "out")
    assert report.findings == [] and report.exit_code == EXIT_CLEAN
    assert len(read_entries(tmp_path / "out")) == ledger.size
    again.close()
    ledger.close()


def test_a_row_refused_midway_leaves_the_log_as_it_was(tmp_path: Path,
                                                        small_chunks: None) -> None:
    ledger, keys = demo_log(tmp_path)
    signer = keys.load("dept-ZC-SCJGJ")
    ledger.submit_import(signer, "ZC-SCJGJ", RECORD, rows(3, first=500))
    size, head = ledger.size, ledger.chain.head()
    batch = rows(40)
    batch[30] = rows(1, first=501)[0]  # already in the registry: refused at row 31
    with pytest.raises(InputError, match="statement 31"):
        ledger.submit_import(signer, "ZC-SCJGJ", {**RECORD, "file_sha256": "01" * 32}, batch)
    assert ledger.size == size and ledger.chain.head() == head
    again = Ledger(str(tmp_path / "db.sqlite"))
    assert again.size == size  # the child's inserts (20 rows and more) were never committed
    # The log takes the next import as if nothing had happened.
    batch[30] = rows(1, first=900)[0]
    ledger.submit_import(signer, "ZC-SCJGJ", {**RECORD, "file_sha256": "02" * 32}, batch)
    assert ledger.size == size + 41
    again.close()
    ledger.close()


def test_a_write_refused_in_the_child_is_raised_here(tmp_path: Path) -> None:
    """The child's SQLite error arrives as the library's exception; nothing is written
    and the child is gone."""
    ledger, _ = demo_log(tmp_path)
    size = ledger.size

    class Rows:
        """Two stored events, the second a stream version already in the log."""

        def __init__(self) -> None:
            self.stream = next(s for s in ledger.state.streams if s.startswith("target/"))

        def __len__(self) -> int:
            return 2

        def extend_versions(self, versions: object) -> None:
            pass

        def insert_rows(self, start: int = 0, stop: int | None = None
                        ) -> list[tuple[str, int, str, bytes]]:
            return [("import/x", 1, "import.recorded", b"{}"),
                    (self.stream, 1, "target.added", b"{}")][start:stop]

    chain = ledger.chain
    assert ChildWriter.available(chain)
    with pytest.raises(IntegrityError), ChildWriter(chain, Rows()) as writer:
        pid = writer.pid
        writer.events([1])
        writer.head()
        writer.entries([(size, b"\0" * 32, "2026-01-01T00:00:00.000000+08:00")])
        writer.commit()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    assert ledger.refresh() == size
    ledger.close()


def test_another_writer_between_refresh_and_child_insert(tmp_path: Path,
                                                         small_chunks: None) -> None:
    """Another Ledger on the same database appends after this one checked its state and
    before the child writer takes the write lock: the child chains after that entry, and
    this ledger catches up with both instead of extending a stale tree."""
    from ledger import sign_statement

    ledger, keys = demo_log(tmp_path)
    other = Ledger(str(tmp_path / "db.sqlite"))
    auth = keys.load("authority")
    real = ChildWriter.__enter__

    def slip_in(self: ChildWriter) -> ChildWriter:
        other.submit([sign_statement(auth, "department.registered", "dept/ZC-NEW",
                                     "authority", {"code": "ZC-NEW", "name": "新部门"})])
        return real(self)

    base = ledger.size
    ChildWriter.__enter__ = slip_in  # type: ignore[method-assign]
    try:
        result = ledger.submit_import(keys.load("dept-ZC-SCJGJ"), "ZC-SCJGJ", RECORD,
                                      rows(30))
    finally:
        ChildWriter.__enter__ = real  # type: ignore[method-assign]
    assert result.seq == base + 1 and result.rows == 30  # after the other writer's entry
    assert ledger.size == other.refresh() == base + 32
    assert ledger.tree.root() == other.tree.root()
    assert "ZC-NEW" in ledger.state.departments
    ledger.checkpoint(keys.load("log"), keys.witness_tools())
    ledger.export(tmp_path / "out")
    report = run_audit(tmp_path / "out")
    assert report.findings == [] and report.exit_code == EXIT_CLEAN
    other.close()
    ledger.close()
