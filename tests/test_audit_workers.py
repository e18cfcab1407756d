"""The audit on every core (issue 17 item 4, verifier._pipeline): worker processes decode,
hash and check signatures while one process replays the rules in order, so the report is
the same, byte for byte, whatever ``--workers`` says: on the demo year, the violations
year, and an export tampered in every way the stateless pass judges."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import verifier._pipeline as pipeline
from ledger import Ledger, Parties, build_demo
from tests.helpers import audit_export, copy_export, entry_obj, read_entries, write_entries
from verifier import MAX_ENTRY_BYTES, LogState, parse_entry

ROOT = Path(__file__).resolve().parent.parent
NOW = "2030-01-01T00:00:00+08:00"  # fixed, so every run judges deadlines and clocks alike


def _year(root: Path, violations: bool) -> Path:
    """The year ``drawledger demo`` builds by default (20,000 targets, 300 inspectors)."""
    ledger = Ledger(str(root / "db.sqlite"))
    try:
        build_demo(ledger, Parties(root / "parties"), targets=20_000, inspectors=300,
                   violations=violations)
        ledger.export(root / "export")
    finally:
        ledger.close()
    return root / "export"


@pytest.fixture(scope="module")
def demo_year(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _year(tmp_path_factory.mktemp("demo"), False)


@pytest.fixture(scope="module")
def violations_year(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _year(tmp_path_factory.mktemp("violations"), True)


def _cli_report(export: Path, workers: int) -> bytes:
    proc = subprocess.run([sys.executable, "-m", "verifier", "audit", str(export), "--json",
                           "--now", NOW, "--workers", str(workers)],
                          capture_output=True, cwd=ROOT, timeout=600, check=False)
    assert proc.returncode in (0, 1, 2, 3), proc.stderr.decode()
    return proc.stdout


@pytest.fixture(scope="module")
def sealed_year(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A v2 violations year (SPEC.md 21): ``public`` without openings, ``auditor`` with."""
    root = tmp_path_factory.mktemp("sealed")
    ledger = Ledger(str(root / "db.sqlite"))
    try:
        build_demo(ledger, Parties(root / "parties"), targets=5000, inspectors=100,
                   violations=True, spec=2)
        ledger.export(root / "public")
        ledger.export(root / "auditor", auditor=True)
    finally:
        ledger.close()
    return root


@pytest.mark.parametrize("which", ["public", "auditor"])
def test_sealed_year_same_report_with_one_and_two_workers(which: str, sealed_year: Path
                                                          ) -> None:
    """With openings the replay judges the opened bodies, not the sealed ones the
    workers saw: the workers' verdict on the body is not used for those."""
    export = sealed_year / which
    assert (export / "openings.jsonl").exists() == (which == "auditor")
    one, two = _cli_report(export, 1), _cli_report(export, 2)
    assert one == two
    rules = {f["rule"] for f in json.loads(one)["findings"]}
    assert ("SEAL.unopened" in rules) == (which == "public")


@pytest.mark.parametrize("which", ["demo_year", "violations_year"])
def test_same_report_bytes_with_one_and_two_workers(which: str,
                                                     request: pytest.FixtureRequest) -> None:
    export: Path = request.getfixturevalue(which)
    one, two = _cli_report(export, 1), _cli_report(export, 2)
    assert one == two
    report = json.loads(one)
    assert report["entries"] > 2 * pipeline.CHUNK  # several chunks, so several tasks
    assert report["signatures_checked"] > 0 and report["draws"]["verified"] > 0
    if which == "violations_year":
        assert report["exit_code"] == 1 and report["findings"]


def _tampered(export: Path) -> list[str]:
    """Edit the export every way the workers judge; returns what was done, by line."""
    lines = read_entries(export)
    done = []

    def pick(batch: bool, after: int) -> int:
        return next(i for i in range(after, len(lines))
                    if entry_obj(lines[i])["sig"]["sid"].startswith("batch/") == batch)

    plain = pick(False, 40)
    o = entry_obj(lines[plain])
    sig = bytearray(base64.b64decode(o["sig"]["value"]))
    sig[5] ^= 1
    lines[plain] = lines[plain].replace(o["sig"]["value"].encode(),
                                        base64.b64encode(bytes(sig)))
    done.append(f"{plain}: a plain statement's signature altered")
    member = pick(True, plain + 3)
    lines[member] = lines[member].replace(b'"name":"', b'"name":"X', 1)
    done.append(f"{member}: a batch member's body altered")
    spaced = member + 5
    lines[spaced] = lines[spaced].replace(b'","', b'", "', 1)
    done.append(f"{spaced}: not canonical")
    lines[spaced + 3], lines[spaced + 4] = lines[spaced + 4], lines[spaced + 3]
    done.append(f"{spaced + 3}: swapped with the next")
    lines[spaced + 9] = b"{not json"
    done.append(f"{spaced + 9}: not JSON")
    lines.insert(spaced + 12, b"x" * (MAX_ENTRY_BYTES + 10))
    done.append(f"{spaced + 12}: a line over the size limit")
    write_entries(export, lines)
    with (export / "entries.jsonl").open("r+b") as fh:  # the last line loses its newline
        fh.truncate(fh.seek(0, 2) - 1)
    return done


def _report(export: Path, workers: int) -> Any:
    report = audit_export(export, workers=workers, now=datetime.fromisoformat(NOW))
    return json.dumps(report.to_json(), ensure_ascii=False, sort_keys=True)


def test_tampered_export_same_findings_for_any_workers(demo_year: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Small chunks, so the tampered lines fall on both sides of chunk boundaries (a
    chunk's first line is linked by the replay, the others by the worker)."""
    export = copy_export(demo_year, tmp_path / "export")
    done = _tampered(export)
    monkeypatch.setattr(pipeline, "CHUNK", 7)
    reports = {w: _report(export, w) for w in (1, 2, 3)}
    assert reports[1] == reports[2] == reports[3], done
    found = json.loads(reports[1])["findings"]
    rules = {f["rule"] for f in found}
    assert {"V1.signature", "V1.format", "V1.seq", "V1.chain", "V1.checkpoint"} <= rules
    assert any(f["rule"] == "V1.signature" and f["seq"] == int(done[0].split(":")[0])
               for f in found), found[:10]


def test_workers_rely_only_on_the_key_the_replay_resolves(demo_year: Path) -> None:
    """A worker's "verified" names the key it used: the replay takes it only when that
    is the key it resolves itself for the statement, and checks the signature otherwise;
    a worker told a wrong key verifies nothing."""
    lines = read_entries(demo_year)[:400]
    at = next(i for i, line in enumerate(lines)
              if i > 20 and not entry_obj(line)["sig"]["sid"].startswith("batch/"))
    o = entry_obj(lines[at])
    forged = bytearray(base64.b64decode(o["sig"]["value"]))
    forged[0] ^= 1
    lines[at] = lines[at].replace(o["sig"]["value"].encode(), base64.b64encode(bytes(forged)))
    state = LogState()
    for seq, line in enumerate(lines[:at]):
        e = parse_entry(line)
        state.check(seq, e.stream, e.version, e.type, e.actor, e.body, e.sig,
                    e.signed_bytes(), e.signature())
        state.apply(seq, e.stream, e.version, e.type, e.actor, e.body, e.sig)
    e = parse_entry(lines[at])
    right = state.keys[e.sig["key"]].verifier.public_key
    other = Ed25519PrivateKey.generate().public_key().public_bytes_raw()

    def rules(verified: bytes | None) -> set[str]:
        return {f.rule for f in state.check(at, e.stream, e.version, e.type, e.actor, e.body,
                                            e.sig, e.signed_bytes(), e.signature(), verified)}
    assert "V1.signature" in rules(None)
    assert "V1.signature" in rules(other)  # not the resolved key: checked, and it fails
    assert "V1.signature" not in rules(right)  # the resolved key: the worker's word
    decoded = pipeline.decode_chunk([lines[at]], {e.sig["key"]: right}, True, True)
    assert decoded[0] is not None and decoded[0][4] is None  # the worker caught it too
    clean = pipeline.decode_chunk([lines[at - 1]], {e.sig["key"]: other}, True, True)
    assert clean[0] is not None and clean[0][4] is None
