"""Batch statements (SPEC.md 4.2): an import's rows share one department signature."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger import InputError, Ledger, Parties, build_demo
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
def imported(tmp_path: Path) -> tuple[Ledger, Parties, Path, int]:
    keys = Parties(tmp_path / "parties")
    ledger = Ledger(str(tmp_path / "db.sqlite"))
    build_demo(ledger, keys, targets=3, inspectors=1)
    record = {"kind": "targets", "file_sha256": "ab" * 32, "file_name": "名录.csv"}
    result = ledger.submit_import(keys.load("dept-ZC-SCJGJ"), "ZC-SCJGJ", record, rows(40))
    assert not result.already and result.rows == 40
    ledger.checkpoint(keys.load("log"), keys.witness_tools())
    ledger.export(tmp_path / "out")
    yield ledger, keys, tmp_path / "out", result.seq
    ledger.close()


def test_import_audits_clean_with_one_signature_for_the_rows(
        imported: tuple[Ledger, Parties, Path, int]) -> None:
    ledger, _, out, seq = imported
    report = run_audit(out)
    assert report.findings == [] and report.exit_code == EXIT_CLEAN
    assert report.signatures_checked == report.entries - 40 + 1
    head = entry_obj(read_entries(out)[seq])
    assert head["type"] == "import.recorded" and head["body"]["rows"] == 40
    assert ledger.record("target/" + rows(1)[0][2]["uscc"]).version == 1  # type: ignore[operator]


def test_reimporting_the_same_file_writes_nothing(
        imported: tuple[Ledger, Parties, Path, int]) -> None:
    ledger, keys, _, seq = imported
    size = ledger.size
    record = {"kind": "targets", "file_sha256": "ab" * 32, "file_name": "名录.csv"}
    again = ledger.submit_import(keys.load("dept-ZC-SCJGJ"), "ZC-SCJGJ", record, rows(40))
    assert again.already and again.seq == seq and again.rows == 40
    assert ledger.refresh() == size


def test_empty_import_is_refused(imported: tuple[Ledger, Parties, Path, int]) -> None:
    ledger, keys, _, _ = imported
    with pytest.raises(InputError, match="no data rows"):
        ledger.submit_import(keys.load("dept-ZC-SCJGJ"), "ZC-SCJGJ",
                             {"kind": "targets", "file_sha256": "cd" * 32, "file_name": "x"}, [])


def test_a_bad_row_rejects_the_whole_import(imported: tuple[Ledger, Parties, Path, int]) -> None:
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
        imported: tuple[Ledger, Parties, Path, int]) -> None:
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
        imported: tuple[Ledger, Parties, Path, int]) -> None:
    _, keys, out, seq = imported
    lines = read_entries(out)
    del lines[seq + 5]
    rewrite_history(out, keys.load("log"), lines, seq + 5)
    report = run_audit(out)
    assert report.exit_code == EXIT_INTEGRITY
    assert ("V1.batch", seq + 5) in {(f.rule, f.seq) for f in report.findings}


def test_clean_member_fast_path_agrees_with_check_and_apply(tmp_path: Path) -> None:
    """LogState.apply_clean_members takes exactly rows that check passes, and leaves the
    state as check and apply do; every row it refuses gets check's findings instead."""
    import hashlib

    from verifier._state import LogState

    keys = Parties(tmp_path / "parties")
    ledger = Ledger(str(tmp_path / "db.sqlite"))
    build_demo(ledger, keys, targets=6, inspectors=2, conflicts=0)
    other = Ledger(str(tmp_path / "db.sqlite"))
    dept, key = "ZC-SCJGJ", keys.load("dept-ZC-SCJGJ").name
    owned = [s for s, i in ledger.state.streams.items()
             if s.startswith("target/") and i.owner == dept and not i.ended]
    foreign = [s for s, i in ledger.state.streams.items()
               if s.startswith("target/") and i.owner != dept]
    assert owned and foreign
    new = rows(6, first=900)
    bad_region = dict(new[4][2], region="37030X")
    no_name = {k: v for k, v in new[2][2].items() if k != "name"}
    body17 = "12370302MB0000001"
    inspector = {"cert_no": "鲁370302-9001", "name": "王检", "dept": dept,
                 "unit": "昆仑镇市场监管所", "qualifications": [],
                 "valid_from": "2026-01-01", "valid_to": "2030-12-31", "expert": False}
    items: list[tuple[str, str, dict[str, object]]] = [
        new[0],                                                      # 0: first member
        new[1],                                                      # clean, new
        ("target.updated", owned[0], {"uscc": owned[0][7:], "dept": dept, "risk": "A"}),
        ("target.added", owned[1], {**new[0][2], "uscc": owned[1][7:]}),  # exists already
        ("target.updated", "target/" + body17 + uscc_check_char(body17),
         {"uscc": body17 + uscc_check_char(body17), "dept": dept}),  # no such stream
        ("target.added", "target/91370302MA0000000X", new[2][2]),    # stream != body
        ("target.added", new[2][1], no_name),                        # required field missing
        ("target.added", new[3][1], {**new[3][2], "registry": "ZC-WJJ/F"}),  # not its own
        ("target.added", new[3][1], {**new[3][2], "dept": "ZC-WJJ"}),
        ("target.updated", foreign[0], {"uscc": foreign[0][7:], "dept": dept}),  # not its own
        ("target.added", new[4][1], bad_region),                     # body rule
        ("inspector.added", f"inspector/{inspector['cert_no']}", inspector),
        ("target.removed", new[1][1], {"uscc": new[1][2]["uscc"], "dept": dept,
                                       "reason": "deregistered"}),
        ("target.updated", new[1][1], {"uscc": new[1][2]["uscc"], "dept": dept}),  # ended
        ("plan.published", "plan/x", {"plan_id": "x", "dept": dept, "url": "https://x"}),
        new[5],                                                      # last member
    ]
    count, batch_id = len(items), "b" * 32
    signed = [f"statement {i}".encode() for i in range(count)]
    digests = b"".join(hashlib.sha256(s).digest() for s in signed)
    base = ledger.size
    sig0 = {"ctime": "2026-01-05T08:00:00Z", "key": key, "value": "A" * 86 + "=="}
    record = {"kind": "targets", "dept": dept, "file_sha256": "cd" * 32, "file_name": "x.csv",
              "rows": count, "batch": batch_id}

    def run(state: LogState, fast: bool) -> tuple[list[list[str]], set[int]]:
        state.apply(base, f"import/{dept}/{'cd' * 32}", 1, "import.recorded", dept, record,
                    {**sig0, "sid": "import-sid"})
        found: list[list[str]] = [[] for _ in items]
        by_fast: set[int] = set()
        i = 0
        while i < count:
            if fast and i > 0:
                versions = state.apply_clean_members(base + 1 + i, items, i, count, dept,
                                                     digests[32 * i:])
                by_fast.update(range(i, i + len(versions)))
                i += len(versions)
                if i == count:
                    break
            type_, stream, body = items[i]
            sig = {**sig0, "sid": f"batch/{batch_id}/{i}/{count}"}
            version = state.next_version(stream)
            found[i] = [f.rule for f in state.check(base + 1 + i, stream, version, type_, dept,
                                                     body, sig, signed[i], b"x")]
            state.apply(base + 1 + i, stream, version, type_, dept, body, sig)
            i += 1
        return found, by_fast

    slow, _ = run(ledger.state, fast=False)
    quick, by_fast = run(other.state, fast=True)
    assert by_fast == {1, 2, 11, 12}
    assert all(slow[i] == [] for i in by_fast)
    assert [slow[i] for i in range(count) if i not in by_fast] == \
        [quick[i] for i in range(count) if i not in by_fast]
    assert all(slow[i] for i in (3, 4, 5, 6, 7, 8, 9, 10, 13))
    assert slow[-1] == ["V1.signature"]  # the made-up signature, in both
    for name in ("streams", "targets", "inspectors", "statements", "imports"):
        assert getattr(ledger.state, name) == getattr(other.state, name), name
    assert ledger.state.batch is None and other.state.batch is None
    other.close()
    ledger.close()
