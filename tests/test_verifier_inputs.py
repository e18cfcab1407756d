"""Crafted inputs to the verifier's command line, each named after the trap: a finding or a
clear error with the documented exit code, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import verifier
from ledger import Ledger, Parties
from ledger._bundle import draw_lines, make_bundle
from ledger._cli import main as ledger_main
from tests.helpers import build_export, copy_export, entry_obj, read_entries
from tests.test_audit_input import assert_no_traceback, cli
from verifier import (
    EXIT_CLEAN,
    EXIT_INTEGRITY,
    EXIT_UNVERIFIABLE,
    EXIT_USAGE,
    canonical,
    load_trust,
)
from verifier._bundle import verify_bundle

HUGE = b"9" * 5000  # over Python's 4,300-digit int-string limit


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Parties]:
    return build_export(tmp_path_factory.mktemp("demo"), targets=12, inspectors=4)


@pytest.fixture
def export(demo: tuple[Path, Parties], tmp_path: Path) -> Path:
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
        demo: tuple[Path, Parties], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "db.sqlite"
    db.write_bytes((demo[0].parent / "db.sqlite").read_bytes())
    line = read_entries(demo[0])[-1]
    o = entry_obj(line)
    statement = (b'{"stream":"inspection/x","type":"inspection.completed","actor":"'
                 + o["actor"].encode() + b'","body":{"n":' + HUGE + b'},"sig":{}}')
    path = tmp_path / "stmt.json"
    path.write_bytes(statement)
    code = ledger_main(["--db", str(db), "submit", str(path)])
    err = capsys.readouterr().err
    assert code == 1 and "stmt.json" in err and "2^53" in err, err


# --- items 12, 14, 15, 20: the bundle and entity commands, usage errors, versions ----------

@pytest.fixture(scope="module")
def bundle(demo: tuple[Path, Parties], tmp_path_factory: pytest.TempPathFactory
           ) -> tuple[Path, Path]:
    """A draw-proof bundle of the demo's first draw, and the export's trust.json."""
    ledger = Ledger(str(demo[0].parent / "db.sqlite"))
    try:
        draw_id = next(line.split("\t")[0] for line in draw_lines(ledger)
                       if "ZC-SCJGJ/" in line)  # three drawn from a larger pool
        data = canonical(make_bundle(ledger, draw_id))
    finally:
        ledger.close()
    path = tmp_path_factory.mktemp("bundle") / "draw.json"
    path.write_bytes(data)
    return path, demo[0] / "trust.json"


def _drawn_and_missed(path: Path, trust: Path) -> tuple[str, str]:
    _, view = verify_bundle(path.read_bytes(), load_trust(trust.read_bytes()))
    assert view.execution is not None and view.snapshot is not None
    chosen = {s["uscc"] for s in view.execution.body["outcome"]["selected"]}
    missed = next(m.uscc for m in view.snapshot.pool if m.uscc not in chosen)
    return sorted(chosen)[0], missed


def _mangle(code: str) -> str:
    """How a company types its code: lower case, spaces, full-width characters."""
    full = "".join(chr(ord(c) + 0xFEE0) for c in code[:4])
    return f"  {full}{code[4:9].lower()} {code[9:].lower()} "


def test_entity_typed_in_lower_case_with_spaces_and_full_width_is_found(
        bundle: tuple[Path, Path]) -> None:
    path, trust = bundle
    drawn, _ = _drawn_and_missed(path, trust)
    proc = cli("entity", str(path), _mangle(drawn), "--trust", str(trust))
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_CLEAN, proc.stdout + proc.stderr
    assert f"对象 / entity: {drawn}" in proc.stdout and "被抽中 / drawn" in proc.stdout
    assert "得分不高于本层分界" in proc.stdout and "at or below the stratum's cut-off, hence " \
        "drawn" in proc.stdout
    assert "证明包核验通过" in proc.stdout and "the bundle checks" in proc.stdout


def test_entity_not_drawn_says_why(bundle: tuple[Path, Path]) -> None:
    path, trust = bundle
    _, missed = _drawn_and_missed(path, trust)
    proc = cli("entity", str(path), missed, "--trust", str(trust), "--json")
    assert proc.returncode == EXIT_CLEAN, proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["drawn"] is False and answer["score"] > answer["cutoff"]
    assert answer["reason"]["en"] == "score above the stratum's cut-off, hence not drawn"
    assert answer["verifier"] == {"version": verifier.__version__, "spec": "SPEC-v2"}


def test_entity_with_a_wrong_check_character_is_a_usage_error(bundle: tuple[Path, Path]
                                                              ) -> None:
    path, trust = bundle
    drawn, _ = _drawn_and_missed(path, trust)
    wrong = drawn[:17] + next(c for c in "0123456789" if c != drawn[17])
    proc = cli("entity", str(path), wrong, "--trust", str(trust))
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_USAGE
    assert "校验位" in proc.stderr and "check character" in proc.stderr
    assert "not in the pool" not in proc.stdout + proc.stderr


def test_entity_without_pinned_keys_says_what_exit_3_means(bundle: tuple[Path, Path]) -> None:
    path, trust = bundle
    drawn, _ = _drawn_and_missed(path, trust)
    proc = cli("entity", str(path), drawn)
    assert proc.returncode == EXIT_UNVERIFIABLE
    assert "无法完全验证" in proc.stdout and "the bundle's own keys" in proc.stdout


@pytest.mark.parametrize("case", ["export_dir", "trust", "checkpoint", "entries", "empty",
                                  "report"])
def test_file_that_is_not_a_bundle_is_a_usage_error(export: Path, tmp_path: Path,
                                                    case: str) -> None:
    report = tmp_path / "report.json"
    report.write_text(cli("audit", str(export), "--json").stdout, encoding="utf-8")
    (tmp_path / "empty.json").write_bytes(b"")
    target, looks = {
        "export_dir": (export, "an export directory"),
        "trust": (export / "trust.json", "a trust policy"),
        "checkpoint": (sorted((export / "checkpoints").iterdir())[0], "a signed note"),
        "entries": (export / "entries.jsonl", "an entries file"),
        "empty": (tmp_path / "empty.json", "an empty file"),
        "report": (report, "a verifier report"),
    }[case]
    proc = cli("bundle", str(target), "--json")
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_USAGE
    error = json.loads(proc.stdout)["error"]
    assert "not a draw-proof bundle" in error["en"] and looks in error["en"], error
    assert "不是抽取证明包" in error["zh"]
    assert "tampered" not in proc.stdout + proc.stderr and "None" not in proc.stdout


def test_damaged_bundle_is_still_integrity_and_names_no_entry_none(
        bundle: tuple[Path, Path], tmp_path: Path) -> None:
    path, trust = bundle
    damaged = tmp_path / "damaged.json"
    damaged.write_bytes(path.read_bytes()[:-40])
    proc = cli("bundle", str(damaged), "--trust", str(trust))
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_INTEGRITY
    assert "BUNDLE.format" in proc.stdout and "entry None" not in proc.stdout


@pytest.mark.parametrize("args", [
    ("audit", "--json", "--quorum", "many", "."),
    ("audit", "--json"),
    ("frobnicate", "--json"),
    ("audit", "--json", "{tmp}"),
    ("audit", "--json", "{export}", "--trust", "{tmp}/missing.json"),
    ("bundle", "--json", "{tmp}/missing.json"),
    ("entity", "--json", "{tmp}", "91350100M000100Y4X"),
])
def test_usage_error_under_json_prints_an_error_object(export: Path, tmp_path: Path,
                                                       args: tuple[str, ...]) -> None:
    words = [a.format(tmp=tmp_path, export=export) for a in args]
    proc = cli(*words)
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_USAGE
    obj = json.loads(proc.stdout)
    assert obj["exit_code"] == EXIT_USAGE and obj["verifier"]["spec"] == "SPEC-v2"
    assert obj["error"]["zh"] and obj["error"]["en"], obj
    assert obj["error"]["en"] in proc.stderr  # a person reading the terminal sees it too


def test_version_everywhere(export: Path, tmp_path: Path) -> None:
    version = verifier.__version__
    assert version and version != "unknown" and verifier.SPEC_VERSION == "SPEC-v2"
    for words in (("--version",), ("audit", "--version"), ("entity", "--version")):
        proc = cli(*words)
        assert proc.returncode == 0 and proc.stdout.strip() == \
            f"python -m verifier {version} (SPEC-v2)", proc.stdout
    page = tmp_path / "report.html"
    proc = cli("audit", str(export), "--json", "--html", str(page))
    assert json.loads(proc.stdout)["verifier"] == {"version": version, "spec": "SPEC-v2"}
    assert f"{version}" in page.read_text(encoding="utf-8") and "SPEC-v2" in \
        page.read_text(encoding="utf-8")
    text = cli("audit", str(export)).stdout.splitlines()
    assert text[1] == f"验证程序 / verifier: {version}, 依据规范 / checks SPEC-v2"
