"""The whole path on PostgreSQL: demo, checkpoint, export, audit, tamper detection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger import Ledger, Parties, build_demo
from tests.conftest import pg_db_url
from tests.helpers import read_entries, run_audit, write_entries
from verifier import EXIT_CLEAN, EXIT_INTEGRITY

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_url(pg_schema: str) -> str:
    return pg_db_url(pg_schema)


def test_demo_export_audit_on_postgres(pg_url: str, tmp_path: Path) -> None:
    ledger = Ledger(pg_url)
    try:
        build_demo(ledger, Parties(tmp_path / "parties"), targets=25, inspectors=4)
        ledger.export(tmp_path / "out")
        size = ledger.size
    finally:
        ledger.close()
    second = Ledger(pg_url)  # a new process's view replays the same log
    try:
        assert second.size == size
        assert second.trust().origin == ledger.trust().origin
    finally:
        second.close()
    assert run_audit(tmp_path / "out").exit_code == EXIT_CLEAN
    lines = read_entries(tmp_path / "out")
    del lines[size // 2]
    write_entries(tmp_path / "out", lines)
    report = run_audit(tmp_path / "out")
    assert report.exit_code == EXIT_INTEGRITY and report.findings[0].seq == size // 2


def test_stream_entries_on_postgres(pg_url: str, tmp_path: Path) -> None:
    """A stream's entries read by its index (entity proofs, ledger._entityproof) are the
    entries of that stream a read of the whole log finds, on PostgreSQL as on SQLite."""
    ledger = Ledger(pg_url)
    try:
        build_demo(ledger, Parties(tmp_path / "parties"), targets=25, inspectors=4)
        everything = list(ledger.entries())
        streams: dict[str, list[tuple[int, bytes]]] = {}
        for seq, raw in everything:
            streams.setdefault(json.loads(raw)["stream"], []).append((seq, raw))
        draws = [s for s in streams if s.startswith("draw/")]
        assert draws
        for stream in [*draws[:3], *[s for s in streams if s.startswith("plan/")][:2]]:
            assert ledger.stream_entries(stream, len(everything)) == streams[stream]
            cut = streams[stream][1][0]
            assert ledger.stream_entries(stream, cut) == streams[stream][:1]
        assert ledger.stream_entries("draw/none/such", len(everything)) == []
    finally:
        ledger.close()
