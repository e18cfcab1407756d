"""Bad input to the verifier: a report and a documented exit code, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ledger import Parties
from tests.helpers import build_export, copy_export, read_entries, run_audit, write_entries
from verifier import (
    EXIT_CLEAN,
    EXIT_INTEGRITY,
    EXIT_UNVERIFIABLE,
    EXIT_USAGE,
    MAX_ENTRY_BYTES,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Parties]:
    return build_export(tmp_path_factory.mktemp("demo"), targets=20, inspectors=4)


@pytest.fixture
def export(demo: tuple[Path, Parties], tmp_path: Path) -> Path:
    return copy_export(demo[0], tmp_path / "export")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "verifier", *args], capture_output=True,
                          text=True, cwd=ROOT, check=False)


def assert_no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr


def test_clean_export_exits_zero(export: Path) -> None:
    proc = cli("audit", str(export))
    assert proc.returncode == EXIT_CLEAN, proc.stdout + proc.stderr
    assert "通过 / clean" in proc.stdout


def test_non_utf8_line(export: Path) -> None:
    lines = read_entries(export)
    lines[3] = lines[3][:40] + b"\xff\xfe" + lines[3][42:]
    write_entries(export, lines)
    proc = cli("audit", str(export), "--json")
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_INTEGRITY
    first = json.loads(proc.stdout)["findings"][0]
    assert first["rule"] == "V1.format" and first["seq"] == 3 and "UTF-8" in first["en"]


def test_line_over_the_size_limit(export: Path) -> None:
    lines = read_entries(export)
    lines.insert(5, b"{" + b" " * (MAX_ENTRY_BYTES + 10) + b"}")
    write_entries(export, lines)
    proc = cli("audit", str(export), "--json")
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_INTEGRITY
    first = json.loads(proc.stdout)["findings"][0]
    assert first["rule"] == "V1.format" and first["seq"] == 5 and "limit" in first["en"]


def test_truncated_export_mid_line(export: Path) -> None:
    data = (export / "entries.jsonl").read_bytes()
    (export / "entries.jsonl").write_bytes(data[: len(data) // 2])
    proc = cli("audit", str(export), "--json")
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_INTEGRITY
    rules = {f["rule"] for f in json.loads(proc.stdout)["findings"]}
    assert {"V1.format", "V1.truncated"} <= rules


@pytest.mark.parametrize("garbage", [b"", b"not a note\n", b"\xff\xfe\n\n\xe2\x80\x94 x y\n",
                                     b"origin\n-1\nAAAA\n\n\xe2\x80\x94 k AAAA\n"])
def test_malformed_checkpoint(export: Path, garbage: bytes) -> None:
    (export / "checkpoints" / "000000000099.note").write_bytes(garbage)
    proc = cli("audit", str(export), "--json")
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_INTEGRITY
    finding = json.loads(proc.stdout)["findings"][0]
    assert finding["rule"] == "V1.checkpoint" and "000000000099.note" in finding["en"]


def test_json_that_is_not_an_entry(export: Path) -> None:
    lines = read_entries(export)
    for bad in (b"[]", b"{}", b'{"seq":1.5}', b"null", b"{" * 5000):
        lines[2] = bad
        write_entries(export, lines)
        report = run_audit(export)
        assert report.exit_code == EXIT_INTEGRITY
        assert report.findings[0].rule == "V1.format" and report.findings[0].seq == 2


def test_non_canonical_entry(export: Path) -> None:
    lines = read_entries(export)
    lines[2] = lines[2].replace(b'","', b'", "', 1)
    write_entries(export, lines)
    report = run_audit(export)
    assert report.findings[0].rule == "V1.format"
    assert "canonical" in report.findings[0].en


def test_not_an_export_directory(tmp_path: Path) -> None:
    proc = cli("audit", str(tmp_path))
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_USAGE
    assert "entries.jsonl" in proc.stderr


def test_bad_arguments() -> None:
    for args in (("audit",), ("frobnicate",), ("audit", ".", "--quorum", "many")):
        proc = cli(*args)
        assert_no_traceback(proc)
        assert proc.returncode == EXIT_USAGE


def test_unreadable_trust(export: Path) -> None:
    (export / "trust.json").write_text("{nope")
    proc = cli("audit", str(export))
    assert_no_traceback(proc)
    assert proc.returncode == EXIT_USAGE
    assert "trust" in proc.stderr


def test_missing_trust_is_unverifiable(export: Path) -> None:
    (export / "trust.json").unlink()
    proc = cli("audit", str(export), "--json")
    assert proc.returncode == EXIT_UNVERIFIABLE
    assert json.loads(proc.stdout)["findings"][0]["rule"] == "TRUST"


def test_trust_from_the_command_line(export: Path) -> None:
    trust = json.loads((export / "trust.json").read_text())
    (export / "trust.json").unlink()
    args = ["audit", str(export), "--origin", trust["origin"], "--log-key", trust["log_key"],
            "--quorum", str(trust["quorum"])]
    for k in trust["authority_keys"]:
        args += ["--authority-key", k]
    for w in trust["witnesses"]:
        args += ["--witness", w]
    # The demo's dev beacon is trusted only when the auditor names it.
    proc = cli(*args, "--json")
    assert proc.returncode == EXIT_UNVERIFIABLE, proc.stdout
    assert {f["rule"] for f in json.loads(proc.stdout)["findings"]} == {"V5.chain"}
    for chain in trust["beacons"]:
        args += ["--beacon", json.dumps(chain)]
    proc = cli(*args)
    assert proc.returncode == EXIT_CLEAN, proc.stdout


def test_pinned_trust_that_differs_from_genesis(export: Path, tmp_path: Path) -> None:
    other = build_export(tmp_path / "other", targets=2, inspectors=1)[0]
    proc = cli("audit", str(export), "--trust", str(other / "trust.json"), "--json")
    assert proc.returncode == EXIT_INTEGRITY
    rules = {f["rule"] for f in json.loads(proc.stdout)["findings"]}
    assert {"V1.trust", "V1.checkpoint"} <= rules


def test_empty_export(export: Path) -> None:
    (export / "entries.jsonl").write_bytes(b"")
    report = run_audit(export)
    assert report.exit_code == EXIT_INTEGRITY


def test_chunked_reader_agrees_with_a_plain_split() -> None:
    """read_lines splits like bytes.split, flags lines over the limit, and keeps a last line
    without its newline, whatever the chunk boundaries."""
    import io
    import random

    from verifier._audit import Oversize
    from verifier._cli import read_lines

    def reference(data: bytes) -> list[object]:
        out: list[object] = []
        pieces = data.split(b"\n")
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            if last and not piece:
                break
            line = piece if last else piece + b"\n"
            out.append(Oversize(len(line)) if len(line) > MAX_ENTRY_BYTES + 1 else line)
        return out

    rng = random.Random(7)
    sizes = [0, 1, 5, MAX_ENTRY_BYTES - 1, MAX_ENTRY_BYTES, MAX_ENTRY_BYTES + 1,
             MAX_ENTRY_BYTES + 2, 3 * MAX_ENTRY_BYTES]
    for _ in range(25):
        data = b"\n".join(b"x" * rng.choice(sizes) for _ in range(rng.randrange(6)))
        data += rng.choice([b"", b"\n"])
        for chunk in (4096, MAX_ENTRY_BYTES // 3, 1 << 20):
            assert list(read_lines(io.BytesIO(data), chunk)) == reference(data)


def test_html_report_is_self_contained(export: Path, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    proc = cli("audit", str(export), "--html", str(page))
    assert proc.returncode == EXIT_CLEAN, proc.stdout
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and 'lang="zh-CN"' in text
    assert "审计结论" in text and "区市场监管局" in text
    for needle in ("<script", "<link", "src=", "href=", "url(", "@import"):
        assert needle not in text
