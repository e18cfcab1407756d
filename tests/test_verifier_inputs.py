"""Crafted inputs to the verifier's command line, each named after the trap: a finding or a
clear error with the documented exit code, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger import LogKeys
from ledger._cli import main as ledger_main
from tests.helpers import build_export, copy_export, entry_obj, read_entries
from tests.test_audit_input import assert_no_traceback, cli
from verifier import EXIT_INTEGRITY, EXIT_USAGE

HUGE = b"9" * 5000  # over Python's 4,300-digit int-string limit


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, LogKeys]:
    return build_export(tmp_path_factory.mktemp("demo"), targets=12, inspectors=4)


@pytest.fixture
def export(demo: tuple[Path, LogKeys], tmp_path: Path) -> Path:
    return copy_export(demo[0], tmp_path / "export")


# --- item 10: the fuzz corpus of crafted entries.jsonl lines -------------------------------

LINE = 3  # the line (0-based seq) every crafted entry replaces


def _version(line: bytes, literal: bytes) -> bytes:
    assert b'"version":1' in line
    return line.replace(b'"version":1', b'"version":' + literal, 1)


CRAFTED: dict[str, tuple[object, str]] = {
    # name: (how to make the line from the genuine one, a word the finding must contain)
    "integer_of_5000_digits": (lambda line: _version(line, HUGE), "2^53"),
    "negative_integer_of_5000_digits": (lambda line: _version(line, b"-" + HUGE), "2^53"),
    "integer_of_17_digits": (lambda line: _version(line, b"1" * 17), "2^53"),
    "deep_nesting": (lambda line: b"[" * 100_000 + b"]" * 100_000, "deep"),
    "nan": (lambda line: _version(line, b"NaN"), "NaN"),
    "infinity": (lambda line: _version(line, b"-Infinity"), "Infinity"),
    "float": (lambda line: _version(line, b"1.5"), "float"),
    "duplicate_key": (lambda line: b'{"seq":3,' + line[1:], "canonical"),
    "lone_surrogate": (lambda line: line.replace(b'"actor":"', b'"actor":"\\ud800', 1),
                       "canonical"),
    "nul_byte": (lambda line: line.replace(b'"actor":"', b'"actor":"\x00', 1), "JSON"),
    "crlf": (lambda line: line + b"\r", "canonical"),
    "not_utf8": (lambda line: line[:30] + b"\xc3\x28" + line[32:], "UTF-8"),
}


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_crafted_entry_is_an_integrity_finding(export: Path, name: str) -> None:
    make, word = CRAFTED[name]
    lines = read_entries(export)
    lines[LINE] = make(lines[LINE])  # type: ignore[operator]
    (export / "entries.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
    proc = cli("audit", str(export), "--json", "--workers", "0")
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_INTEGRITY, proc.stderr
    first = json.loads(proc.stdout)["findings"][0]
    assert first["rule"] == "V1.format" and first["seq"] == LINE, first
    assert word.lower() in first["en"].lower(), first


def test_line_of_100_mb_is_an_integrity_finding(export: Path) -> None:
    lines = read_entries(export)
    with (export / "entries.jsonl").open("wb") as fh:
        for i, line in enumerate(lines):
            if i == LINE:
                fh.write(b'{"a":"' + b"x" * (100 << 20) + b'"}\n')
            fh.write(line + b"\n")
    proc = cli("audit", str(export), "--json", "--workers", "0")
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_INTEGRITY
    first = json.loads(proc.stdout)["findings"][0]
    assert first["rule"] == "V1.format" and first["seq"] == LINE and "limit" in first["en"]


TRUST_CRAFTS = {
    "integer_of_5000_digits": (lambda t: t.replace(b'"quorum":', b'"quorum":' + HUGE + b","
                                                   b'"x":', 1), "2^53"),
    "deep_nesting": (lambda t: t.replace(b'"version":', b'"x":' + b"[" * 10_000 + b"]" * 10_000
                                         + b',"version":', 1), "deep"),
    "nan": (lambda t: t.replace(b'"quorum":', b'"quorum":NaN,"x":', 1), "NaN"),
    "lone_surrogate": (lambda t: t.replace(b'"origin":"', b'"origin":"\\udc00', 1),
                       "surrogate"),
    "not_utf8": (lambda t: b"\xff" + t, "UTF-8"),
}


@pytest.mark.parametrize("name", sorted(TRUST_CRAFTS))
def test_crafted_trust_is_a_usage_error(export: Path, tmp_path: Path, name: str) -> None:
    make, word = TRUST_CRAFTS[name]
    compact = json.dumps(json.loads((export / "trust.json").read_bytes()),
                         separators=(",", ":")).encode()
    trust = tmp_path / "trust.json"
    trust.write_bytes(make(compact))  # type: ignore[operator]
    proc = cli("audit", str(export), "--trust", str(trust))
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_USAGE, proc.stdout + proc.stderr
    assert "trust" in proc.stderr and word.lower() in proc.stderr.lower(), proc.stderr


def test_beacon_argument_with_an_integer_of_5000_digits(export: Path) -> None:
    trust = json.loads((export / "trust.json").read_bytes())
    proc = cli("audit", str(export), "--origin", trust["origin"], "--log-key", trust["log_key"],
               "--authority-key", trust["authority_keys"][0],
               "--beacon", '{"genesis":' + HUGE.decode() + "}")
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_USAGE
    assert "--beacon" in proc.stderr and "2^53" in proc.stderr


def test_statement_body_with_an_integer_of_5000_digits(
        demo: tuple[Path, LogKeys], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "db.sqlite"
    db.write_bytes((demo[0].parent / "db.sqlite").read_bytes())
    line = read_entries(demo[0])[-1]
    o = entry_obj(line)
    statement = (b'{"stream":"inspection/x","type":"inspection.completed","actor":"'
                 + o["actor"].encode() + b'","body":{"n":' + HUGE + b'},"sig":{}}')
    path = tmp_path / "stmt.json"
    path.write_bytes(statement)
    code = ledger_main(["--db", str(db), "inspection", "complete", "--statement", str(path)])
    err = capsys.readouterr().err
    assert code == 1 and "stmt.json" in err and "2^53" in err, err
