"""Tamper fixtures, each named after the attack: the audit must exit 2 and name the entry.

One demo log is built per module; every test edits a copy of its export the way an attacker
(or a colluding log operator holding the log key) would, then runs the verifier.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ledger import Ledger, Parties, sign_statement
from tests.helpers import (
    build_export,
    copy_export,
    entry_obj,
    read_entries,
    resign_checkpoint,
    rewrite_history,
    run_audit,
    write_entries,
)
from verifier import (
    EXIT_CLEAN,
    EXIT_INTEGRITY,
    INTEGRITY,
    Checkpoint,
    MerkleTree,
    NoteSigner,
    Report,
    audit,
    entry_hash,
    load_trust,
    make_entry,
    sign_note,
)
from verifier._cli import read_lines
from verifier._uscc import uscc_check_char

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Parties]:
    return build_export(tmp_path_factory.mktemp("demo"))


@pytest.fixture
def export(demo: tuple[Path, Parties], tmp_path: Path) -> Path:
    return copy_export(demo[0], tmp_path / "export")


def first_integrity(report: Report) -> int | None:
    found = [f for f in report.findings if f.kind == INTEGRITY]
    assert found, f"no integrity finding in {report.findings}"
    return found[0].seq


def rules(report: Report) -> set[str]:
    return {f.rule for f in report.findings}


def target_line(lines: list[bytes], start: int) -> int:
    """Index of the first target.added entry at or after ``start``, else the last one
    before it (the draws follow the registries)."""
    found = [i for i, line in enumerate(lines) if entry_obj(line)["type"] == "target.added"]
    assert found, "no target entry"
    return next((i for i in found if i >= start), found[-1])


def test_untouched_export_is_clean(export: Path) -> None:
    report = run_audit(export)
    assert report.findings == []
    assert report.exit_code == EXIT_CLEAN
    assert report.checkpoints_verified == report.checkpoints >= 3
    sids = [entry_obj(line)["sig"]["sid"] for line in read_entries(export)]
    members = [sid for sid in sids if sid.startswith("batch/")]
    batches = {sid.split("/")[1] for sid in members}
    assert batches and report.signatures_checked == len(sids) - len(members) + len(batches)


def test_byte_edited_in_entry(export: Path) -> None:
    lines = read_entries(export)
    k = target_line(lines, len(lines) // 2)
    edited = lines[k].replace("淄博".encode(), "淄川".encode(), 1)
    assert edited != lines[k]
    lines[k] = edited
    write_entries(export, lines)
    report = run_audit(export)
    assert report.exit_code == EXIT_INTEGRITY
    assert ("V1.chain", k) in {(f.rule, f.seq) for f in report.findings}
    # The row was imported as part of a batch: its one signature fails over a range that
    # holds the edited entry.
    signature = [f for f in report.findings if f.rule == "V1.signature"]
    assert len(signature) == 1
    lo, hi = signature[0].seq, signature[0].seq_end or signature[0].seq
    assert lo is not None and lo <= k <= hi
    assert "V1.checkpoint" in rules(report)


def test_byte_edited_outside_signature(export: Path) -> None:
    # The log's own fields (time) are not signed by the department: the chain catches it.
    lines = read_entries(export)
    k = len(lines) // 3
    obj = entry_obj(lines[k])
    lines[k] = lines[k].replace(obj["time"].encode(), obj["time"][:-9].encode() + b"999+08:00")
    write_entries(export, lines)
    report = run_audit(export)
    assert report.exit_code == EXIT_INTEGRITY
    assert ("V1.chain", k) in {(f.rule, f.seq) for f in report.findings}
    assert "V1.signature" not in rules(report)


def test_entry_dropped(export: Path) -> None:
    lines = read_entries(export)
    k = len(lines) // 2
    del lines[k]
    write_entries(export, lines)
    report = run_audit(export)
    assert report.exit_code == EXIT_INTEGRITY
    assert first_integrity(report) == k
    assert report.findings[0].rule == "V1.seq"


def test_two_entries_swapped(export: Path) -> None:
    lines = read_entries(export)
    k = len(lines) // 2
    lines[k], lines[k + 1] = lines[k + 1], lines[k]
    write_entries(export, lines)
    report = run_audit(export)
    assert report.exit_code == EXIT_INTEGRITY
    assert first_integrity(report) == k


def test_entry_inserted(export: Path, tmp_path: Path) -> None:
    lines = read_entries(export)
    k = target_line(lines, len(lines) // 2)
    victim = entry_obj(lines[k])
    rogue = NoteSigner.generate(victim["sig"]["key"])  # same name, not the registered key
    uscc = "91370302MA3C00000" + uscc_check_char("91370302MA3C00000")
    body = dict(victim["body"], uscc=uscc, name="插入的企业")
    s = sign_statement(rogue, "target.added", f"target/{uscc}", victim["actor"], body)
    state = {"actor": s.actor, "body": s.body, "sig": s.sig, "type": s.type}
    forged = make_entry(k, entry_hash(lines[k - 1]), victim["time"], s.stream, 1, state)
    lines.insert(k, forged)
    write_entries(export, lines)
    report = run_audit(export)
    assert report.exit_code == EXIT_INTEGRITY
    assert first_integrity(report) == k
    assert "V1.signature" in rules(report)


def test_tail_truncated_below_checkpoint(export: Path) -> None:
    lines = read_entries(export)
    keep = len(lines) - 5
    write_entries(export, lines[:keep])
    report = run_audit(export)
    assert report.exit_code == EXIT_INTEGRITY
    truncated = [f for f in report.findings if f.rule == "V1.truncated"]
    assert truncated and truncated[0].seq == keep


def test_checkpoint_resigned_with_another_key(export: Path) -> None:
    lines = read_entries(export)
    origin = entry_obj(lines[0])["body"]["origin"]
    impostor = NoteSigner.generate(origin)  # same name as the log key, different key
    latest = sorted((export / "checkpoints").iterdir())[-1]
    text = latest.read_text(encoding="utf-8").split("\n\n", 1)[0] + "\n"
    latest.write_text(sign_note(text, [impostor]), encoding="utf-8")
    report = run_audit(export)
    assert report.exit_code == EXIT_INTEGRITY
    found = [f for f in report.findings if f.rule == "V1.checkpoint"]
    assert found and found[0].seq == len(lines) - 1


def test_forked_checkpoints(export: Path, demo: tuple[Path, Parties]) -> None:
    # The log operator signs a second history that differs at entry k.
    lines = read_entries(export)
    k = target_line(lines, len(lines) // 2)
    other = list(lines)
    other[k] = other[k].replace("淄博".encode(), "淄川".encode(), 1)
    tree = MerkleTree(entry_hash(line) for line in other)
    origin = entry_obj(lines[0])["body"]["origin"]
    note = sign_note(Checkpoint(origin, tree.size, tree.root()).text, [demo[1].load("log")])
    (export / "checkpoints" / f"{tree.size:012d}.fork.note").write_text(note, encoding="utf-8")
    report = run_audit(export)
    assert report.exit_code == EXIT_INTEGRITY
    forks = [f for f in report.findings if f.rule == "V1.fork"]
    assert len(forks) == 1 and forks[0].seq == tree.size - 1
    mismatch = [f for f in report.findings if f.rule == "V1.checkpoint"]
    assert len(mismatch) == 1 and ".fork.note" in mismatch[0].en


def test_byte_edited_is_located_between_checkpoints(export: Path) -> None:
    lines = read_entries(export)
    k = target_line(lines, len(lines) // 2)
    lines[k] = lines[k].replace("淄博".encode(), "淄川".encode(), 1)
    write_entries(export, lines)
    mismatch = [f for f in run_audit(export).findings if f.rule == "V1.checkpoint"]
    lo, hi = mismatch[0].seq, mismatch[0].seq_end
    assert lo is not None and hi is not None and lo <= k <= hi


def _append_forged(export: Path, keys: Parties, signer: NoteSigner, dept: str) -> int:
    """Append a chained entry signed by ``signer`` and re-sign a checkpoint over it."""
    lines = read_entries(export)
    last = entry_obj(lines[-1])
    uscc = "91370302MA3C00001" + uscc_check_char("91370302MA3C00001")
    s = sign_statement(signer, "target.added", f"target/{uscc}", dept,
                       {"uscc": uscc, "dept": dept, "name": "淄博某某有限公司",
                        "registry": f"{dept}/F", "industry": "F5299", "region": "370302",
                        "risk": "B", "status": "存续", "unit": "昆仑镇市场监管所"})
    state = {"actor": s.actor, "body": s.body, "sig": s.sig, "type": s.type}
    seq = len(lines)
    lines.append(make_entry(seq, entry_hash(lines[-1]), last["time"], s.stream, 1, state))
    write_entries(export, lines)
    resign_checkpoint(export, keys.load("log"), lines)
    return seq


def test_statement_signed_by_unregistered_key(export: Path, demo: tuple[Path, Parties]) -> None:
    seq = _append_forged(export, demo[1], NoteSigner.generate("ZC-SCJGJ-rogue"), "ZC-SCJGJ")
    report = run_audit(export)
    assert report.exit_code == EXIT_INTEGRITY
    assert [f.seq for f in report.findings if f.kind == INTEGRITY] == [seq]
    # The re-signed checkpoint has no cosignature: the new entry is also unwitnessed.
    assert rules(report) == {"V1.key", "V1.unwitnessed"}


def test_statement_signed_by_revoked_key(tmp_path: Path) -> None:
    export, keys = build_export(tmp_path / "log", targets=10, inspectors=2)
    # Right after the demo year (its last entries are January's), before any next-year
    # batch is due: only the revocation is new.
    ledger = Ledger(str(tmp_path / "log" / "db.sqlite"),
                    clock=lambda: datetime(2026, 1, 21, 9, tzinfo=timezone(timedelta(hours=8))))
    try:
        dept_key = keys.load("dept-ZC-SCJGJ")
        revoke = sign_statement(keys.load("authority"), "key.revoked", f"key/{dept_key.name}",
                                "authority", {"name": dept_key.name, "reason": "lost"})
        ledger.submit([revoke])
        ledger.checkpoint(keys.load("log"), keys.witness_tools())
        ledger.export(export)
    finally:
        ledger.close()
    assert run_audit(export).exit_code == EXIT_CLEAN
    seq = _append_forged(export, keys, dept_key, "ZC-SCJGJ")
    report = run_audit(export)
    assert report.exit_code == EXIT_INTEGRITY
    assert [(f.rule, f.seq) for f in report.findings] == [("V1.key", seq),
                                                          ("V1.unwitnessed", seq)]
    assert "revoked" in report.findings[0].en


def test_backdated_entry(export: Path) -> None:
    lines = read_entries(export)
    k = len(lines) // 2
    obj = entry_obj(lines[k])
    lines[k] = lines[k].replace(obj["time"].encode(), b"2020-01-01T00:00:00.000000+08:00")
    write_entries(export, lines)
    report = run_audit(export)
    assert report.exit_code == EXIT_INTEGRITY
    assert ("V1.time", k) in {(f.rule, f.seq) for f in report.findings}


def test_cli_names_the_entry(export: Path) -> None:
    lines = read_entries(export)
    k = len(lines) // 2
    del lines[k]
    write_entries(export, lines)
    proc = subprocess.run([sys.executable, "-m", "verifier", "audit", str(export), "--json"],
                          capture_output=True, text=True, cwd=ROOT, check=False)
    assert proc.returncode == EXIT_INTEGRITY, proc.stderr
    report = json.loads(proc.stdout)
    assert report["exit_code"] == EXIT_INTEGRITY
    assert report["findings"][0]["seq"] == k
    assert report["findings"][0]["rule"] == "V1.seq"


@pytest.mark.parametrize("workers", [0, 1])
def test_statement_edited_and_rechained(export: Path, demo: tuple[Path, Parties],
                                        workers: int) -> None:
    """A colluding log edits a plan after the fact and re-chains and re-signs everything:
    the department's signature tells, in the replay or in a worker process; the draws
    committed after it tell that the log under them changed (V8.history)."""
    lines = read_entries(export)
    k = next(i for i, line in enumerate(lines) if entry_obj(line)["type"] == "plan.filed")
    lines[k] = lines[k].replace(b'"load_cap":20', b'"load_cap":21', 1)
    rewrite_history(export, demo[1].load("log"), lines, k)
    trust = load_trust((export / "trust.json").read_bytes())
    cps = [(p.name, p.read_bytes()) for p in sorted((export / "checkpoints").iterdir())]
    with (export / "entries.jsonl").open("rb") as fh:
        report = audit(read_lines(fh), cps, trust, workers=workers)
    assert report.exit_code == EXIT_INTEGRITY
    integrity = [(f.rule, f.seq) for f in report.findings if f.kind == INTEGRITY]
    assert [x for x in integrity if x[0] != "V8.history"] == [("V1.signature", k)]
    assert all(seq is not None and seq > k for rule, seq in integrity if rule == "V8.history")
