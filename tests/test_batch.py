"""Batch statements (SPEC.md 4.2): an import's rows share one department signature."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger import InputError, Ledger, LogKeys, build_demo
from tests.helpers import entry_obj, read_entries, rewrite_history, run_audit
from verifier import EXIT_CLEAN, EXIT_INTEGRITY, make_entry
from verifier._uscc import uscc_check_char


def rows(n: int, dept: str = "ZC-SCJGJ", first: int = 0
         ) -> list[tuple[str, str, dict[str, object]]]:
    out = []
    for i in range(first, first + n):
        body17 = f"91370302MA{i:07d}"
        uscc = body17 + uscc_check_char(body17)
        out.append(("target.added", f"target/{uscc}",
                    {"uscc": uscc, "dept": dept, "name": f"淄博批量{i}有限公司",
                     "registry": f"{dept}/F", "risk": "B", "industry": "F5299",
                     "region": "370302", "status": "存续", "unit": "昆仑镇市场监管所"}))
    return out


@pytest.fixture
def imported(tmp_path: Path) -> tuple[Ledger, LogKeys, Path, int]:
    keys = LogKeys(tmp_path / "keys")
    ledger = Ledger(str(tmp_path / "db.sqlite"))
    build_demo(ledger, keys, targets=3, inspectors=1)
    record = {"kind": "targets", "file_sha256": "ab" * 32, "file_name": "名录.csv"}
    result = ledger.submit_import(keys.load("dept-ZC-SCJGJ"), "ZC-SCJGJ", record, rows(40))
    assert not result.already and result.rows == 40
    ledger.checkpoint(keys.load("log"))
    ledger.export(tmp_path / "out")
    yield ledger, keys, tmp_path / "out", result.seq
    ledger.close()


def test_import_audits_clean_with_one_signature_for_the_rows(
        imported: tuple[Ledger, LogKeys, Path, int]) -> None:
    ledger, _, out, seq = imported
    report = run_audit(out)
    assert report.findings == [] and report.exit_code == EXIT_CLEAN
    assert report.signatures_checked == report.entries - 40 + 1
    head = entry_obj(read_entries(out)[seq])
    assert head["type"] == "import.recorded" and head["body"]["rows"] == 40
    assert ledger.record("target/" + rows(1)[0][2]["uscc"]).version == 1  # type: ignore[operator]


def test_reimporting_the_same_file_writes_nothing(
        imported: tuple[Ledger, LogKeys, Path, int]) -> None:
    ledger, keys, _, seq = imported
    size = ledger.size
    record = {"kind": "targets", "file_sha256": "ab" * 32, "file_name": "名录.csv"}
    again = ledger.submit_import(keys.load("dept-ZC-SCJGJ"), "ZC-SCJGJ", record, rows(40))
    assert again.already and again.seq == seq and again.rows == 40
    assert ledger.refresh() == size


def test_empty_import_is_refused(imported: tuple[Ledger, LogKeys, Path, int]) -> None:
    ledger, keys, _, _ = imported
    with pytest.raises(InputError, match="no data rows"):
        ledger.submit_import(keys.load("dept-ZC-SCJGJ"), "ZC-SCJGJ",
                             {"kind": "targets", "file_sha256": "cd" * 32, "file_name": "x"}, [])


def test_a_bad_row_rejects_the_whole_import(imported: tuple[Ledger, LogKeys, Path, int]) -> None:
    ledger, keys, _, _ = imported
    size = ledger.size
    bad = rows(5, first=1000)
    bad[3] = ("target.added", bad[3][1], {**bad[3][2], "dept": "ZC-SWJ"})
    with pytest.raises(InputError, match="statement 4"):
        ledger.submit_import(keys.load("dept-ZC-SCJGJ"), "ZC-SCJGJ",
                             {"kind": "targets", "file_sha256": "ef" * 32, "file_name": "x"},
                             bad)
    assert ledger.refresh() == size
    assert ledger.state.batch is None


def test_member_edited_breaks_the_batch_signature(
        imported: tuple[Ledger, LogKeys, Path, int]) -> None:
    _, keys, out, seq = imported
    lines = read_entries(out)
    k = seq + 7
    obj = entry_obj(lines[k])
    obj["body"]["risk"] = "A"
    lines[k] = make_entry(obj["seq"], bytes.fromhex(obj["prev"]), obj["time"], obj["stream"],
                          obj["version"], {f: obj[f] for f in ("actor", "body", "sig", "type")})
    # A colluding log re-chains everything after it and re-signs a checkpoint.
    rewrite_history(out, keys.load("log"), lines, k + 1)
    report = run_audit(out)
    assert report.exit_code == EXIT_INTEGRITY
    sig = [f for f in report.findings if f.rule == "V1.signature"]
    assert len(sig) == 1 and sig[0].seq == seq + 1 and sig[0].seq_end == seq + 40
    assert json.dumps(report.to_json())  # serialisable


def test_member_dropped_is_an_interrupted_batch(
        imported: tuple[Ledger, LogKeys, Path, int]) -> None:
    _, keys, out, seq = imported
    lines = read_entries(out)
    del lines[seq + 5]
    rewrite_history(out, keys.load("log"), lines, seq + 5)
    report = run_audit(out)
    assert report.exit_code == EXIT_INTEGRITY
    assert ("V1.batch", seq + 5) in {(f.rule, f.seq) for f in report.findings}
