"""The incremental audit (SPEC.md 9.4, ``audit --state``): a resumed audit says exactly what
one audit of the whole log says, reads only the new lines, and a state that does not belong
to the log, or was tampered with, is refused (exit 64), never trusted."""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger import Ledger, Parties, build_demo
from tests.helpers import (
    copy_export,
    entry_obj,
    note_size,
    read_entries,
    resign_checkpoint,
    truncate_export,
    write_entries,
)
from verifier import entry_hash, load_trust, make_entry
from verifier._audit import Oversize, audit
from verifier._cli import read_lines
from verifier._resume import AuditState, StateError, load_state, save_state

CLOCK = 2_000_000_000.0  # the audit's clock, fixed so both runs judge cosignatures alike


def _year(root: Path, violations: bool) -> tuple[Path, Parties]:
    keys = Parties(root / "parties")
    ledger = Ledger(str(root / "db.sqlite"))
    try:
        build_demo(ledger, keys, targets=600, inspectors=60, violations=violations)
        ledger.export(root / "export")
    finally:
        ledger.close()
    return root / "export", keys


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Parties]:
    return _year(tmp_path_factory.mktemp("year"), False)


@pytest.fixture(scope="module")
def violations_year(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Parties]:
    return _year(tmp_path_factory.mktemp("violations"), True)


def _inputs(export: Path) -> tuple[Any, list[tuple[str, bytes]], bytes]:
    trust = load_trust((export / "trust.json").read_bytes())
    cps = [(p.name, p.read_bytes()) for p in sorted((export / "checkpoints").iterdir())]
    return trust, cps, (export / "entries.jsonl").read_bytes()


def _split_everywhere(export: Path) -> int:
    """Audit 0..K with save, then K..end resumed, for every checkpoint size K; each report
    must equal the one audit of 0..end. Returns how many splits were compared."""
    trust, cps, data = _inputs(export)
    whole = audit(read_lines(io.BytesIO(data)), cps, trust, clock=CLOCK).to_json()
    lines = data.splitlines(keepends=True)
    sizes = sorted({note_size(Path(name)) for name, _ in cps})
    compared = 0
    for k in sizes:
        head = b"".join(lines[:k])
        # what truncate_export hands over: entries 0..k-1 and the checkpoints up to k
        kept = [(n, b) for n, b in cps if note_size(Path(n)) <= k]
        first = audit(read_lines(io.BytesIO(head)), kept, trust, clock=CLOCK, save=True)
        state = first.state
        assert state is not None and state.size == k and state.offset == len(head)
        resumed = audit(read_lines(io.BytesIO(data[state.offset:])), cps, trust,
                        clock=CLOCK, resume=state).to_json()
        assert resumed == whole, f"split at {k}: " + ", ".join(
            key for key in whole if whole[key] != resumed[key])
        compared += 1
    return compared


def test_resume_at_every_checkpoint_gives_the_report_of_one_audit(
        year: tuple[Path, Parties]) -> None:
    assert _split_everywhere(year[0]) >= 10


def test_resume_at_every_checkpoint_keeps_the_violations_year_findings(
        violations_year: tuple[Path, Parties]) -> None:
    trust, cps, data = _inputs(violations_year[0])
    whole = audit(read_lines(io.BytesIO(data)), cps, trust, clock=CLOCK)
    assert whole.findings, "the violations year must have findings to carry over"
    assert _split_everywhere(violations_year[0]) >= 10


def test_resumed_audit_parses_only_the_new_lines(year: tuple[Path, Parties]) -> None:
    trust, cps, data = _inputs(year[0])
    lines = data.splitlines(keepends=True)
    k = sorted({note_size(Path(n)) for n, _ in cps})[-3]
    kept = [(n, b) for n, b in cps if note_size(Path(n)) <= k]
    state = audit(read_lines(io.BytesIO(b"".join(lines[:k]))), kept, trust, save=True,
                  clock=CLOCK).state
    assert state is not None
    read = 0

    def counting(source: Iterator[bytes | Oversize]) -> Iterator[bytes | Oversize]:
        nonlocal read
        for line in source:
            read += 1
            yield line
    report = audit(counting(read_lines(io.BytesIO(data[state.offset:]))), cps, trust,
                   clock=CLOCK, resume=state, save=True)
    assert read == len(lines) - k and report.entries == len(lines)
    assert report.state is not None and report.state.size == len(lines)


def test_expect_saves_once_at_the_last_checkpoint(year: tuple[Path, Parties],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Told how many entries the log holds, the audit pickles its replay once, at the
    last checkpoint within them, and that state is the one saving at every checkpoint
    ends with (the CLI counts the lines for --state; a year with thousands of checkpoints
    would otherwise spend most of its time pickling)."""
    import verifier._audit as audit_module
    trust, cps, data = _inputs(year[0])
    count = data.count(b"\n")
    every = audit(read_lines(io.BytesIO(data)), cps, trust, clock=CLOCK, save=True)
    made = 0
    real = audit_module.dumps

    def counted(obj: Any) -> bytes:
        nonlocal made
        made += 1
        return real(obj)
    monkeypatch.setattr(audit_module, "dumps", counted)
    once = audit(read_lines(io.BytesIO(data)), cps, trust, clock=CLOCK, save=True,
                 expect=count)
    assert made == 1 and len({note_size(Path(n)) for n, _ in cps}) >= 10
    assert every.state is not None and once.state is not None
    assert once.state.header() == every.state.header()
    assert once.to_json() == every.to_json()
    # The two states resume alike (their pickles need not be byte-equal: memo order).
    tail = data[once.state.offset:]
    assert (audit(read_lines(io.BytesIO(tail)), cps, trust, clock=CLOCK,
                  resume=once.state).to_json()
            == audit(read_lines(io.BytesIO(tail)), cps, trust, clock=CLOCK,
                     resume=every.state).to_json() == every.to_json())


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "verifier", "audit", *map(str, args)],
                          capture_output=True, text=True, cwd=Path(__file__).parent.parent,
                          check=False)


def _saved_at(year: tuple[Path, Parties], tmp_path: Path, k: int) -> tuple[Path, Path]:
    """A state saved by the CLI over the export cut at ``k`` entries, and the full copy."""
    cut = copy_export(year[0], tmp_path / "cut")
    truncate_export(cut, k)
    state = tmp_path / "audit.state"
    run = _cli(cut, "--state", state, "--json")
    assert run.returncode == 0, run.stderr
    return state, copy_export(year[0], tmp_path / "full")


def _mid(year: tuple[Path, Parties]) -> int:
    sizes = sorted({note_size(p) for p in (year[0] / "checkpoints").iterdir()})
    return sizes[len(sizes) // 2]


def test_cli_state_resumes_and_reports_like_one_audit(year: tuple[Path, Parties],
                                                      tmp_path: Path) -> None:
    state, full = _saved_at(year, tmp_path, _mid(year))
    assert (state.with_name("audit.state.key").stat().st_mode & 0o777) == 0o600
    resumed = _cli(full, "--state", state, "--json", "--now", "2026-12-31")
    whole = _cli(full, "--json", "--now", "2026-12-31")
    assert resumed.returncode == whole.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout) == json.loads(whole.stdout)
    assert load_state(state).size == len(read_entries(full))
    again = _cli(full, "--state", state, "--json", "--now", "2026-12-31")  # nothing new
    assert json.loads(again.stdout) == json.loads(whole.stdout)


def test_state_from_another_log_is_refused(year: tuple[Path, Parties], tmp_path: Path
                                           ) -> None:
    other, _ = _year(tmp_path / "other", False)  # fresh keys: another trust policy
    state = tmp_path / "audit.state"
    assert _cli(other, "--state", state).returncode == 0
    run = _cli(year[0], "--state", state)
    assert run.returncode == 64 and "another trust policy" in run.stderr
    assert "Traceback" not in run.stderr


def test_state_of_other_options_is_refused(year: tuple[Path, Parties], tmp_path: Path) -> None:
    state, full = _saved_at(year, tmp_path, _mid(year))
    run = _cli(full, "--state", state, "--no-signatures")
    assert run.returncode == 64 and "other options" in run.stderr


def test_altered_state_file_is_refused_by_its_mac(year: tuple[Path, Parties],
                                                  tmp_path: Path) -> None:
    state, full = _saved_at(year, tmp_path, _mid(year))
    data = bytearray(state.read_bytes())
    data[-10] ^= 1
    state.write_bytes(bytes(data))
    run = _cli(full, "--state", state)
    assert run.returncode == 64 and "fails its MAC" in run.stderr


def test_state_key_readable_by_others_is_refused(year: tuple[Path, Parties],
                                                 tmp_path: Path) -> None:
    state, full = _saved_at(year, tmp_path, _mid(year))
    os.chmod(state.with_name("audit.state.key"), 0o644)
    run = _cli(full, "--state", state)
    assert run.returncode == 64 and "0600" in run.stderr


class _Evil:
    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.system, ("touch pwned",)


def test_state_pickle_calling_os_system_is_refused_even_with_a_good_mac(
        year: tuple[Path, Parties], tmp_path: Path) -> None:
    """Defence in depth: whoever holds the key still cannot make the audit run code."""
    state, full = _saved_at(year, tmp_path, _mid(year))
    good = load_state(state)
    evil = AuditState(good.size, good.root, good.origin, good.trust, good.options,
                      good.offset, pickle.dumps(_Evil()))
    save_state(state, evil)
    run = _cli(full, "--state", state)
    assert run.returncode == 64 and "system is not part of an audit state" in run.stderr
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


def test_state_of_a_newer_format_is_refused(year: tuple[Path, Parties], tmp_path: Path) -> None:
    state, full = _saved_at(year, tmp_path, _mid(year))
    magic, header, rest = state.read_bytes().split(b"\n", 2)
    head = json.loads(header)
    head["format"] = 99
    state.write_bytes(magic + b"\n" + json.dumps(head).encode() + b"\n" + rest)
    run = _cli(full, "--state", state)
    assert run.returncode == 64 and "format 99" in run.stderr


def _rechain(lines: list[bytes], start: int) -> None:
    """Re-link every entry from ``start`` on to the (altered) one before it."""
    for j in range(start, len(lines)):
        o = entry_obj(lines[j])
        lines[j] = make_entry(j, entry_hash(lines[j - 1]), o["time"], o["stream"],
                              o["version"], {f: o[f] for f in ("actor", "body", "sig", "type")})


def _alter(line: bytes) -> bytes:
    """The entry re-dated by one second: other bytes, the same length."""
    o = entry_obj(line)
    t = o["time"]
    t = t[:18] + ("2" if t[18] == "1" else "1") + t[19:]
    return make_entry(o["seq"], bytes.fromhex(o["prev"]), t, o["stream"], o["version"],
                      {f: o[f] for f in ("actor", "body", "sig", "type")})


def test_history_rewritten_before_the_state_is_caught_by_the_chain_and_next_checkpoint(
        year: tuple[Path, Parties], tmp_path: Path) -> None:
    """Entry k-1 altered after the state was saved at k, the rest re-chained but the
    log's checkpoints kept: the state still holds the true frontier and last hash, so
    entry k's prev breaks the chain (V1.chain on k-1) and the next checkpoint's root,
    continued from the state's accumulator, differs (V1.checkpoint)."""
    k = _mid(year)
    state, full = _saved_at(year, tmp_path, k)
    lines = read_entries(full)
    lines[k - 1] = _alter(lines[k - 1])
    _rechain(lines, k)
    offset = load_state(state).offset
    write_entries(full, lines)
    # same length: the CLI finds entry k where the state says
    assert len(b"".join(x + b"\n" for x in lines[:k])) == offset
    run = _cli(full, "--state", state, "--json")
    report = json.loads(run.stdout)
    rules = {(f["rule"], f["seq"]) for f in report["findings"]}
    assert ("V1.chain", k - 1) in rules
    assert any(rule == "V1.checkpoint" for rule, _ in rules) and run.returncode == 2


def test_resigned_fork_at_the_state_size_is_refused(year: tuple[Path, Parties],
                                                    tmp_path: Path) -> None:
    """A colluding log signs another tree of the state's size: the state's root is not the
    checkpoint's, so the state is refused (a fork if both are genuine)."""
    k = _mid(year)
    state, full = _saved_at(year, tmp_path, k)
    lines = read_entries(full)
    lines[0] = _alter(lines[0])
    _rechain(lines, 1)
    write_entries(full, lines)
    for p in (full / "checkpoints").iterdir():
        p.unlink()
    resign_checkpoint(full, year[1].load("log"), lines[:k])
    run = _cli(full, "--state", state)
    assert run.returncode == 64 and "signed a fork" in run.stderr


def test_receipts_with_a_resumed_state_are_refused(year: tuple[Path, Parties]) -> None:
    trust, cps, data = _inputs(year[0])
    state = audit(read_lines(io.BytesIO(data)), cps, trust, save=True, clock=CLOCK).state
    assert state is not None
    with pytest.raises(StateError, match="--receipt"):
        audit(iter(()), cps, trust, resume=state, receipts=[("r", object())])  # type: ignore[list-item]
