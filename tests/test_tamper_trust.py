"""Attacks on what the audit trusts: the checkpoints the operator hands over, the tail no
witness vouches for, witness timestamps, and the time "not done yet" is judged at.

Each test is named after the attack (issue 12 items 1, 2, 7, 8). A demo log is built once
per module; every test edits a copy of its export as a log operator holding the log key
(or the holder of a witness key) could, then runs the verifier.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ledger import Ledger, Parties, build_demo
from tests.helpers import (
    add_cosignature,
    audit_export,
    build_export,
    copy_export,
    entry_obj,
    note_size,
    read_entries,
    resign_checkpoint,
    rewrite_history,
    run_audit,
    truncate_export,
    write_entries,
)
from verifier import (
    EXIT_CLEAN,
    EXIT_INTEGRITY,
    EXIT_UNVERIFIABLE,
    EXIT_USAGE,
    INTEGRITY,
    NoteSigner,
    Report,
    load_trust,
    parse_checkpoint,
    parse_note,
)

ROOT = Path(__file__).resolve().parent.parent
SH = timezone(timedelta(hours=8))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Parties]:
    return build_export(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def violations(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Parties]:
    """The demo with its planted violations, among them a result entered late."""
    root = tmp_path_factory.mktemp("violations")
    keys = Parties(root / "parties")
    ledger = Ledger(str(root / "db.sqlite"))
    try:
        build_demo(ledger, keys, targets=300, inspectors=48, violations=True)
        ledger.export(root / "export")
    finally:
        ledger.close()
    return root / "export", keys


@pytest.fixture
def export(demo: tuple[Path, Parties], tmp_path: Path) -> Path:
    return copy_export(demo[0], tmp_path / "export")


def rules(report: Report) -> set[str]:
    return {f.rule for f in report.findings}


def latest_note(export: Path) -> Path:
    return max((p for p in (export / "checkpoints").iterdir() if p.name.count(".") == 1),
               key=note_size)


def sizes(export: Path) -> list[int]:
    return sorted({note_size(p) for p in (export / "checkpoints").iterdir()})


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "verifier", *args], capture_output=True,
                          text=True, cwd=ROOT, check=False, timeout=300)


def first_of(lines: list[bytes], type_: str, stream: str | None = None) -> int:
    return next(i for i, line in enumerate(lines) if (o := entry_obj(line))["type"] == type_
                and (stream is None or o["stream"] == stream))


# -- item 1: tail truncation -------------------------------------------------------------


def test_tail_and_its_checkpoints_dropped_mid_checkpoint(export: Path) -> None:
    """Without a checkpoint from elsewhere the audit cannot see what is missing, but the
    entries after the last kept cosigned checkpoint are reported as unwitnessed."""
    kept = sizes(export)
    keep = kept[-3] + 2  # between two checkpoints
    truncate_export(export, keep)
    report = run_audit(export)
    assert report.exit_code == EXIT_UNVERIFIABLE
    found = [f for f in report.findings if f.rule == "V1.unwitnessed"]
    assert [(f.seq, f.seq_end) for f in found] == [(kept[-3], keep - 1)]
    assert report.relied_on is not None and report.relied_on["size"] == kept[-3]


def test_tail_and_its_checkpoints_dropped_at_a_checkpoint(export: Path) -> None:
    """Cut exactly at a cosigned checkpoint the export looks like an older honest one: the
    report names the checkpoint it relied on, for the auditor to compare with a published
    one; given the latest checkpoint from elsewhere the truncation is an integrity failure."""
    original = latest_note(export).read_bytes()
    total = len(read_entries(export))
    keep = sizes(export)[-4]
    truncate_export(export, keep)
    report = run_audit(export)
    assert report.exit_code == EXIT_CLEAN
    assert report.relied_on is not None
    assert report.relied_on["size"] == keep and not report.relied_on["outside"]
    assert report.relied_on["source"] == f"{keep:012d}.note"
    report = audit_export(export, outside=[("https://log.example/v1/checkpoint", original)])
    assert report.exit_code == EXIT_INTEGRITY
    truncated = [f for f in report.findings if f.rule == "V1.truncated"]
    assert [(f.seq, f.seq_end) for f in truncated] == [(keep, total - 1)]
    assert "https://log.example/v1/checkpoint" in truncated[0].en


def test_tail_dropped_caught_by_checkpoint_file(export: Path, tmp_path: Path) -> None:
    note = tmp_path / "latest.note"
    note.write_bytes(latest_note(export).read_bytes())
    total = len(read_entries(export))
    keep = total - 7
    truncate_export(export, keep)
    proc = cli("audit", str(export), "--checkpoint", str(note), "--json")
    assert proc.returncode == EXIT_INTEGRITY, proc.stdout + proc.stderr
    obj = json.loads(proc.stdout)
    truncated = [f for f in obj["findings"] if f["rule"] == "V1.truncated"]
    assert [(f["seq"], f["seq_end"]) for f in truncated] == [(keep, total - 1)]
    assert obj["checkpoints_outside"] == 1
    # Judged as of the outside checkpoint's witnessed time, not the truncated tail's.
    assert obj["now"]["basis"] == "witnessed" and obj["now"]["source"] == str(note)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTP server on 127.0.0.1 serving ``tmp_path/www`` (as the API or a witness
    would serve its latest checkpoint)."""
    www = tmp_path / "www"
    www.mkdir()
    handler = partial(SimpleHTTPRequestHandler, directory=str(www))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", www
    finally:
        server.shutdown()
        server.server_close()


def test_tail_dropped_caught_by_checkpoint_url(export: Path, served: tuple[str, Path]) -> None:
    base, www = served
    (www / "checkpoint").write_bytes(latest_note(export).read_bytes())
    keep = len(read_entries(export)) - 3
    truncate_export(export, keep)
    url = f"{base}/checkpoint"
    proc = cli("audit", str(export), "--checkpoint", url)
    assert proc.returncode == EXIT_INTEGRITY, proc.stdout + proc.stderr
    head = proc.stdout.splitlines()[:8]
    assert any(line.startswith(f"[integrity] V1.truncated seq={keep}..") and url in line
               for line in head), head


def test_tail_dropped_below_kept_checkpoints_cli(export: Path) -> None:
    """Dropping entries but keeping the checkpoints that cover them (the tamper table's
    other truncation): exit 2, naming the first missing entry, in the first lines."""
    total = len(read_entries(export))
    write_entries(export, read_entries(export)[:total - 4])
    proc = cli("audit", str(export))
    assert proc.returncode == EXIT_INTEGRITY
    assert any(line.startswith(f"[integrity] V1.truncated seq={total - 4}..")
               for line in proc.stdout.splitlines()[:8])


def test_outside_checkpoint_of_another_history(export: Path, demo: tuple[Path, Parties],
                                               tmp_path: Path) -> None:
    """The log shows the auditor one history and a witness another of the same size: the
    outside checkpoint's root does not match the replay, and the two notes are a fork."""
    lines = read_entries(export)
    other = tmp_path / "other"
    other.mkdir()
    (other / "checkpoints").mkdir()
    k = first_of(lines, "plan.filed")
    forked = list(lines)
    forked[k] = forked[k].replace(b'"load_cap":20', b'"load_cap":21', 1)
    assert forked[k] != lines[k]
    note = resign_checkpoint(other, demo[1].load("log"), forked)
    report = audit_export(export, outside=[("witness.note", note.encode())])
    assert report.exit_code == EXIT_INTEGRITY
    assert {"V1.fork", "V1.checkpoint"} <= rules(report)
    mismatch = [f for f in report.findings if f.rule == "V1.checkpoint"]
    assert "witness.note" in mismatch[0].en


def test_outside_checkpoint_not_signed_by_the_pinned_log_key(export: Path,
                                                             tmp_path: Path) -> None:
    lines = read_entries(export)
    impostor = NoteSigner.generate(entry_obj(lines[0])["body"]["origin"])
    (tmp_path / "checkpoints").mkdir()
    note = resign_checkpoint(tmp_path, impostor, [*lines, lines[-1]])
    report = audit_export(export, outside=[("forged.note", note.encode())])
    assert report.exit_code == EXIT_INTEGRITY
    assert [f.rule for f in report.findings if f.kind == INTEGRITY] == ["V1.checkpoint"]
    assert "V1.truncated" not in rules(report)  # a forged note proves nothing is missing


def test_checkpoint_argument_unreadable(export: Path, served: tuple[str, Path]) -> None:
    base, _ = served
    for arg in (str(export / "missing.note"), f"{base}/missing", "ftp://log.example/cp",
                "http://127.0.0.1:9/checkpoint"):
        proc = cli("audit", str(export), "--checkpoint", arg)
        assert proc.returncode == EXIT_USAGE, (arg, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr
        assert f"--checkpoint {arg}" in proc.stderr and "检查点" in proc.stderr


def test_report_names_the_checkpoint_relied_on_and_now(export: Path) -> None:
    proc = cli("audit", str(export), "--json")
    assert proc.returncode == EXIT_CLEAN, proc.stdout
    obj = json.loads(proc.stdout)
    note = latest_note(export)
    cp = parse_checkpoint(parse_note(note.read_bytes()).text)
    assert obj["relied_on"]["size"] == cp.size == len(read_entries(export))
    assert obj["relied_on"]["source"] == note.name
    assert obj["relied_on"]["witnessed"] == obj["now"]["time"]
    assert obj["now"]["basis"] == "witnessed"
    text = cli("audit", str(export)).stdout.splitlines()[:6]
    assert any(f"checkpoint relied on: {cp.size}" in line and note.name in line
               for line in text)
    assert any("judged as of" in line and obj["now"]["time"] in line for line in text)


# -- item 2: the unwitnessed tail --------------------------------------------------------


def test_unwitnessed_tail_resigned_without_cosignatures(export: Path,
                                                        demo: tuple[Path, Parties]) -> None:
    """The log key holder drops the later checkpoints (and their cosignatures) and signs
    one of its own over the same entries: nothing is altered, but no witness vouches for
    the tail, which the report says in its first lines (exit 3)."""
    lines = read_entries(export)
    witnessed = sizes(export)[-5]
    for p in (export / "checkpoints").iterdir():
        if note_size(p) > witnessed:
            p.unlink()
    resign_checkpoint(export, demo[1].load("log"), lines)
    proc = cli("audit", str(export))
    assert proc.returncode == EXIT_UNVERIFIABLE, proc.stdout
    head = proc.stdout.splitlines()[:6]
    assert any(line.startswith(f"[unverifiable] V1.unwitnessed seq={witnessed}.."
                               f"{len(lines) - 1}") for line in head), head


def test_rollback_with_log_key_after_last_cosigned_checkpoint(
        export: Path, demo: tuple[Path, Parties]) -> None:
    """The operator deletes a result's publication after the last checkpoint the witnesses
    cosigned, re-chains the rest and re-signs: every statement still verifies, and the
    rewritten range is reported as unwitnessed (exit 3, no stricter finding)."""
    lines = read_entries(export)
    witnessed = sizes(export)[-4]
    k = next(i for i, line in enumerate(lines) if i > witnessed
             and entry_obj(line)["type"] == "result.published")
    kept = {p.name: p.read_bytes() for p in (export / "checkpoints").iterdir()
            if note_size(p) <= witnessed}
    del lines[k]
    rewrite_history(export, demo[1].load("log"), lines, k)
    for name, data in kept.items():
        (export / "checkpoints" / name).write_bytes(data)
    report = run_audit(export)
    assert [f for f in report.findings if f.kind == INTEGRITY] == []
    assert report.exit_code == EXIT_UNVERIFIABLE
    found = [f for f in report.findings if f.rule == "V1.unwitnessed"]
    assert [(f.seq, f.seq_end) for f in found] == [(witnessed, len(lines) - 1)]
    assert "log key alone" in found[0].en


def test_quorum_zero_policy_reports_no_unwitnessed_tail(export: Path,
                                                        demo: tuple[Path, Parties]) -> None:
    """A policy that requires no witness anchors on the log key alone (SPEC.md 9.2)."""
    lines = read_entries(export)
    for p in (export / "checkpoints").iterdir():
        p.unlink()
    resign_checkpoint(export, demo[1].load("log"), lines)
    trust = load_trust((export / "trust.json").read_bytes())
    assert "V1.unwitnessed" in rules(audit_export(export, trust=trust))
    report = audit_export(export, trust=replace(trust, quorum=0))
    assert "V1.unwitnessed" not in rules(report)
    assert report.relied_on is not None and report.relied_on["witnessed"] is None


# -- item 7: witness timestamps ----------------------------------------------------------


def _late_result(export: Path) -> tuple[Report, int, int]:
    """The violations demo's late result, and the largest checkpoint size without it."""
    report = run_audit(export)
    late = [f for f in report.findings if f.rule == "V16.result_late"]
    assert len(late) == 1 and late[0].evidence == "claimed" and late[0].seq is not None
    size = max(s for s in sizes(export) if s <= late[0].seq)
    return report, late[0].seq, size


def test_future_dated_cosignature(violations: tuple[Path, Parties], tmp_path: Path) -> None:
    """One more cosignature of an old checkpoint, dated 2100-01-01 by a quorum-1 witness,
    would make the late result "witnessed" late; it is from the future: a finding, and
    not evidence."""
    export = copy_export(violations[0], tmp_path / "export")
    _, seq, size = _late_result(export)
    stamp = int(datetime(2100, 1, 1, tzinfo=SH).timestamp())
    note = add_cosignature(export, violations[1].load("witness-audit"), size, stamp)
    report = run_audit(export)
    assert report.exit_code == EXIT_INTEGRITY
    bad = [f for f in report.findings if f.rule == "V1.cosignature_time"]
    assert len(bad) == 1 and note.name in bad[0].en and "2100-01-01" in bad[0].en
    late = [f for f in report.findings if f.rule == "V16.result_late"]
    assert [(f.seq, f.evidence) for f in late] == [(seq, "claimed")]
    assert report.now is not None and report.now < stamp  # nor is it the audit's now


def test_future_dated_cosignature_against_given_now(export: Path,
                                                    demo: tuple[Path, Parties]) -> None:
    """With --now, a cosignature later than it (beyond the skew) is from the future."""
    before = run_audit(export)
    assert before.now is not None
    stamp = before.now + 86400  # the witness cosigns the latest tree again a day later
    add_cosignature(export, demo[1].load("witness-supervision"), sizes(export)[-1], stamp)
    assert "V1.cosignature_time" not in rules(run_audit(export))
    within = datetime.fromtimestamp(stamp - 120, SH)
    assert "V1.cosignature_time" not in rules(audit_export(export, now=within))
    # The given now decides, not the machine's clock.
    assert "V1.cosignature_time" not in rules(audit_export(export, now=within, clock=0))
    report = audit_export(export, now=datetime.fromtimestamp(stamp - 3600, SH))
    bad = [f for f in report.findings if f.rule == "V1.cosignature_time"]
    assert len(bad) == 1 and "zichuan-supervision-commission" in bad[0].en
    assert report.exit_code == EXIT_INTEGRITY


def test_out_of_order_cosignature(violations: tuple[Path, Parties], tmp_path: Path) -> None:
    """The witness cosigns an old, smaller tree with a time after it cosigned bigger ones:
    no witness keeping its state does that (SPEC.md 7.5); the late result stays claimed."""
    export = copy_export(violations[0], tmp_path / "export")
    report, seq, size = _late_result(export)
    assert report.now is not None
    stamp = report.now - 3600  # before the last cosignatures, after many bigger trees'
    note = add_cosignature(export, violations[1].load("witness-audit"), size, stamp)
    report = run_audit(export)
    assert report.exit_code == EXIT_INTEGRITY
    bad = [f for f in report.findings if f.rule == "V1.cosignature_time"]
    assert len(bad) == 1 and note.name in bad[0].en and "smaller tree" in bad[0].en
    assert [(f.seq, f.evidence) for f in report.findings if f.rule == "V16.result_late"] == \
        [(seq, "claimed")]


def test_same_tree_cosigned_twice_is_not_out_of_order(export: Path,
                                                      demo: tuple[Path, Parties]) -> None:
    """A witness cosigning the latest tree again later is honest (SPEC.md 7.5): no finding,
    and its last cosignature moves the audit's now."""
    before = run_audit(export)
    assert before.now is not None
    latest = sizes(export)[-1]
    add_cosignature(export, demo[1].load("witness-audit"), latest, before.now + 86400)
    report = run_audit(export)
    assert report.findings == [] and report.now == before.now + 86400


# -- item 8: the audit's now -------------------------------------------------------------


def test_truncated_before_execution_keeps_not_executed(export: Path, tmp_path: Path) -> None:
    """Dropping a batch's execution and everything after it (and the checkpoints over
    them) made "not executed" vanish, the last entry being before the draw day was over.
    Judged at a witnessed or given now, it does not."""
    lines = read_entries(export)
    commit = first_of(lines, "draw.committed")
    stream = entry_obj(lines[commit])["stream"]
    keep = first_of(lines, "draw.executed", stream)
    original = latest_note(export).read_bytes()
    truncate_export(export, keep)
    report = run_audit(export)
    assert "V8.not_executed" not in rules(report)
    assert report.now_basis in ("witnessed", "last_entry")
    with_outside = audit_export(export, outside=[("latest.note", original)])
    assert ("V8.not_executed", commit) in {(f.rule, f.seq) for f in with_outside.findings}
    assert with_outside.now_basis == "witnessed" and with_outside.now_source == "latest.note"
    proc = cli("audit", str(export), "--now", "2026-01-08", "--json")
    obj = json.loads(proc.stdout)
    assert ("V8.not_executed", commit) in {(f["rule"], f["seq"]) for f in obj["findings"]}
    assert obj["now"] == {"time": "2026-01-08T23:59:59+08:00", "basis": "given",
                          "source": None}


def test_truncated_before_publication_keeps_plan_not_published(export: Path) -> None:
    lines = read_entries(export)
    filed = first_of(lines, "plan.filed")
    keep = first_of(lines, "plan.received")
    truncate_export(export, keep)
    assert not {"V2.plan_not_received", "V2.plan_not_published"} & rules(run_audit(export))
    report = audit_export(export, now=datetime(2025, 3, 1, 9, tzinfo=SH))
    found = {(f.rule, f.seq) for f in report.findings}
    assert {("V2.plan_not_received", filed), ("V2.plan_not_published", filed)} <= found
    assert report.now_basis == "given"
    assert report.exit_code == EXIT_UNVERIFIABLE  # the cut tail is also unwitnessed
    assert {f.kind for f in report.findings} == {"violation", "unverifiable"}


def test_now_argument_malformed(export: Path) -> None:
    for arg in ("yesterday", "2026-01-08T10:00:00", "2026-13-01", "2026-01-08 25:00:00Z"):
        proc = cli("audit", str(export), "--now", arg)
        assert proc.returncode == EXIT_USAGE, (arg, proc.stdout)
        assert f"--now {arg}" in proc.stderr and "RFC 3339" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_now_defaults_to_the_last_entry_without_witnesses(export: Path,
                                                          demo: tuple[Path, Parties]) -> None:
    """With no quorum-cosigned checkpoint the only time is the log's own, and the report
    says so."""
    lines = read_entries(export)
    for p in (export / "checkpoints").iterdir():
        p.unlink()
    resign_checkpoint(export, demo[1].load("log"), lines)
    report = run_audit(export)
    last = datetime.fromisoformat(entry_obj(lines[-1])["time"])
    assert report.now_basis == "last_entry" and report.now == int(last.timestamp())
    proc = cli("audit", str(export))
    assert "the last entry's time, the log's own claim" in proc.stdout
