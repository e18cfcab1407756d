"""`drawledger witness cosign`: a witness cosigns only a tree that extends the one it
cosigned last, refuses a fork or a rollback, and its later cosignatures are evidence."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ledger import Ledger, Parties, build_demo
from ledger._cli import main as cli_main
from ledger._witness import ForkError, Witness
from tests.helpers import run_audit
from verifier import EXIT_CLEAN, NoteVerifier, parse_checkpoint, parse_note

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


@pytest.fixture
def log(tmp_path: Path) -> tuple[Path, Parties]:
    keys = Parties(tmp_path / "parties")
    ledger = Ledger(str(tmp_path / "db.sqlite"))
    try:
        build_demo(ledger, keys, targets=60, inspectors=12, now=lambda: NOW)
    finally:
        ledger.close()
    return tmp_path, keys


def test_cosign_again_is_evidence(log: tuple[Path, Parties],
                                  capsys: pytest.CaptureFixture[str]) -> None:
    root, _ = log
    db = ["--db", str(root / "db.sqlite")]
    assert cli_main([*db, "witness", "cosign"]) == 0
    assert capsys.readouterr().out.count("已联署 / cosigned") == 2
    assert cli_main([*db, "export", str(root / "out")]) == 0
    extra = sorted((root / "out" / "checkpoints").glob("*.*.note"))
    assert len(extra) >= 4  # the demo's re-cosignature after the filing deadline and ours
    report = run_audit(root / "out")
    assert report.exit_code == EXIT_CLEAN, report.findings
    last = max(report.still_latest)
    assert report.still_latest[last] > report.witnessed[last]


def test_fork_and_rollback_are_refused(log: tuple[Path, Parties]) -> None:
    root, keys = log
    tool = keys.witness_tools()[0]
    ledger = Ledger(str(root / "db.sqlite"))
    try:
        size, _, note = ledger.chain.checkpoints()[-1]
        log_key = NoteVerifier.from_vkey(ledger.genesis()["log_key"])
        origin = parse_checkpoint(parse_note(note).text).origin
        state = json.loads(tool.state_path.read_text(encoding="utf-8"))
        assert state[origin]["size"] == size
        # The witness had cosigned a different tree of the same size: a fork.
        forged = {origin: {"size": size, "root": "00" * 32}}
        tool.state_path.write_text(json.dumps(forged), encoding="utf-8")
        with pytest.raises(ForkError, match="fork"):
            ledger.witness_latest(tool)
        # ... or a bigger tree than the log now shows: a rollback.
        bigger = {origin: {"size": size + 5, "root": "00" * 32}}
        tool.state_path.write_text(json.dumps(bigger), encoding="utf-8")
        with pytest.raises(ForkError, match="rolled back"):
            ledger.witness_latest(tool)
        assert json.loads(tool.state_path.read_text(encoding="utf-8")) == bigger
        # An older tree it cosigned, extended consistently: it cosigns.
        first = ledger.chain.checkpoints()[1]
        tool.state_path.write_text(json.dumps({origin: {"size": first[0],
                                                        "root": first[1].hex()}}),
                                   encoding="utf-8")
        line = ledger.witness_latest(tool)
        assert line.startswith("— ") and tool.signer.name in line
        # A note the log key did not sign is never cosigned.
        other = Witness(tool.signer, root / "other.json")
        with pytest.raises(Exception, match=r"not signed|trusted"):
            other.cosign(note.replace(log_key.name, "someone-else"), log_key,
                         lambda old: [], 0)
    finally:
        ledger.close()
    assert cli_main(["--db", str(root / "db.sqlite"), "witness", "cosign", "--key",
                     str(keys.path("witness-audit")), "--state",
                     str(keys.store("witness-audit") / "witness-audit.state.json")]) == 0
