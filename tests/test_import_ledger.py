"""Imports through the ledger: all rows or none, every bad row named, re-import idempotent."""

from __future__ import annotations

import csv
import gc
import os
import random
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest

from ledger import InputError, Ledger, Parties, build_demo
from ledger._admin import import_file
from tests.helpers import run_audit
from verifier import EXIT_CLEAN
from verifier._uscc import USCC_CHARSET, uscc_check_char

HEAD = ["统一社会信用代码", "名称", "分库", "行业代码", "行政区划代码", "风险等级", "登记状态",
        "监管单位"]


def rows(n: int, seed: int = 7) -> list[list[object]]:
    rng = random.Random(seed)
    out: list[list[object]] = []
    seen: set[str] = set()
    while len(out) < n:
        body = "91370302MA" + "".join(rng.choice(USCC_CHARSET) for _ in range(7))
        code = body + uscc_check_char(body)
        if code in seen:
            continue
        seen.add(code)
        out.append([code, f"淄博导入测试{len(out)}有限公司", "ZC-SCJGJ/F", "F5299", "370302",
                    rng.choice("ABCD"), "存续", "昆仑镇市场监管所"])
    return out


@pytest.fixture
def log(tmp_path: Path) -> tuple[Ledger, Parties]:
    keys = Parties(tmp_path / "parties")
    ledger = Ledger(str(tmp_path / "db.sqlite"))
    build_demo(ledger, keys, targets=5, inspectors=2, conflicts=1)
    yield ledger, keys
    ledger.close()


def write_csv(path: Path, data: list[list[object]]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows([HEAD, *data])
    return path


def write_xlsx(path: Path, data: list[list[object]]) -> Path:
    wb = openpyxl.Workbook(write_only=True)
    sheet = wb.create_sheet()
    for row in [HEAD, *data]:
        sheet.append(row)
    wb.save(path)
    return path


@pytest.mark.parametrize("background", [True, False])
def test_three_bad_rows_in_ten_thousand(log: tuple[Ledger, Parties], tmp_path: Path,
                                        background: bool) -> None:
    ledger, keys = log
    data = rows(10_000)
    data[1233][0] = str(data[1233][0])[:-1] + ("0" if str(data[1233][0])[-1] != "0" else "1")
    data[4566][5] = "E"
    data[9998][0] = "9.13703E+17"
    path = write_csv(tmp_path / "targets.csv", data)
    size = ledger.refresh()
    with pytest.raises(InputError) as err:
        import_file(ledger, keys.load("dept-ZC-SCJGJ"), "ZC-SCJGJ", "targets", path,
                    background=background)
    message = str(err.value)
    assert "3 problem(s)" in message
    for row in (1235, 4568, 10000):  # spreadsheet rows: the header is row 1
        assert f"row {row} " in message
    assert "Excel" in message
    assert ledger.refresh() == size  # nothing written
    assert gc.isenabled()  # the collector paused for the import runs again
    gc.disable()
    with pytest.raises(InputError):  # and stays off where the caller had turned it off
        import_file(ledger, keys.load("dept-ZC-SCJGJ"), "ZC-SCJGJ", "targets", path,
                    background=background)
    assert not gc.isenabled()
    gc.enable()


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_parsing_in_a_child_imports_the_same_rows(tmp_path: Path, suffix: str) -> None:
    """Parsed in a forked child (a .csv) or read there and parsed here (a .xlsx), or
    inline, the same file gives the same rows, versions, warnings and replayed registry;
    the child's faults surface as the inline parse's."""
    data = rows(5_000)  # more than two chunks of the streamed parse
    data[7][6] = "在营"  # a status word recorded under its canonical name, with a warning
    write = write_csv if suffix == "csv" else write_xlsx
    path = write(tmp_path / f"targets.{suffix}", data)
    logs = []
    for background in (True, False):
        keys = Parties(tmp_path / f"parties-{background}")
        ledger = Ledger(str(tmp_path / f"db-{background}.sqlite"))
        build_demo(ledger, keys, targets=5, inspectors=2, conflicts=1)
        result, warnings = import_file(ledger, keys.load("dept-ZC-SCJGJ"), "ZC-SCJGJ",
                                       "targets", path, background=background)
        logs.append((result.rows, warnings, dict(ledger.state.targets)))
        with pytest.raises(InputError, match=r"not a readable \.xlsx"):
            bad = tmp_path / "broken.xlsx"
            bad.write_bytes(b"PK\x03\x04 not a workbook")
            import_file(ledger, keys.load("dept-ZC-SCJGJ"), "ZC-SCJGJ", "targets", bad,
                        background=background)
        ledger.close()
    assert logs[0] == logs[1] and logs[0][0] == 5_000 and logs[0][1]


def test_leaving_a_parse_early_stops_the_child(tmp_path: Path) -> None:
    from ledger._import import ParseInChild

    path = write_csv(tmp_path / "targets.csv", rows(3_000))
    with ParseInChild(path, "targets", "ZC-SCJGJ") as job:
        first = next(iter(job.rows()))
        pid = job.pid
    assert first["dept"] == "ZC-SCJGJ" and job.pid == 0
    with pytest.raises(ChildProcessError):  # killed and reaped: no zombie left
        os.waitpid(pid, os.WNOHANG)
    path = write_xlsx(tmp_path / "targets.xlsx", rows(3_000))
    with ParseInChild(path, "targets", "ZC-SCJGJ", cells=True) as job:
        header = next(job.xlsx_rows(path, []))
        pid = job.pid
    assert header[0] == "统一社会信用代码" and job.pid == 0
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_xlsx_import_then_reimport(log: tuple[Ledger, Parties], tmp_path: Path) -> None:
    ledger, keys = log
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(HEAD)
    for row in rows(200):
        ws.append(row)
    wb.save(tmp_path / "targets.xlsx")
    signer = keys.load("dept-ZC-SCJGJ")
    result, _ = import_file(ledger, signer, "ZC-SCJGJ", "targets", tmp_path / "targets.xlsx")
    assert not result.already and result.rows == 200
    size = ledger.refresh()
    again, _ = import_file(ledger, signer, "ZC-SCJGJ", "targets", tmp_path / "targets.xlsx")
    assert again.already and again.seq == result.seq and ledger.refresh() == size
    ledger.checkpoint(keys.load("log"), keys.witness_tools())
    ledger.export(tmp_path / "out")
    assert run_audit(tmp_path / "out").exit_code == EXIT_CLEAN


def test_another_departments_file_cannot_be_imported_with_its_key(
        log: tuple[Ledger, Parties], tmp_path: Path) -> None:
    ledger, keys = log
    path = write_csv(tmp_path / "t.csv", rows(5))
    size = ledger.refresh()
    with pytest.raises(InputError):
        # The rows name the market bureau's sub-registry; the commerce bureau signs.
        import_file(ledger, keys.load("dept-ZC-SWJ"), "ZC-SWJ", "targets", path)
    assert ledger.refresh() == size


def test_names_keep_their_full_width_brackets(tmp_path: Path) -> None:
    from regfile import parse_file

    data = rows(2)
    data[0][1] = "淄博某某（集团）有限公司"
    data[1][0] = "９１" + str(data[1][0])[2:]  # full-width digits in a code are normalised
    result = parse_file(write_csv(tmp_path / "t.csv", data), "targets", "ZC-SCJGJ")
    assert not result.errors
    assert result.rows[0]["name"] == "淄博某某（集团）有限公司"
    assert result.rows[1]["uscc"] == data[1][0].replace("９１", "91")  # type: ignore[union-attr]


def test_cli_import_calendar_and_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    import json

    from ledger._cli import main as cli_main
    from ledger._demo import demo_plan

    db = str(tmp_path / "cli" / "db.sqlite")
    assert cli_main(["--db", db, "demo", "--targets", "20", "--inspectors", "4"]) == 0
    good = write_csv(tmp_path / "good.csv", rows(30, seed=11))
    assert cli_main(["--db", db, "import", "targets", str(good), "--department",
                     "ZC-SCJGJ"]) == 0
    assert "imported 30 rows" in capsys.readouterr().out
    assert cli_main(["--db", db, "import", "targets", str(good), "--department",
                     "ZC-SCJGJ"]) == 0
    assert "already imported" in capsys.readouterr().out
    bad = rows(5, seed=12)
    bad[2][5] = "Z"
    assert cli_main(["--db", db, "import", "targets", str(write_csv(tmp_path / "bad.csv", bad)),
                     "--department", "ZC-SCJGJ"]) == 1
    assert "row 4 [风险等级]" in capsys.readouterr().err
    # A calendar already published is refused; the refusal names the rule.
    cal = Path(__file__).resolve().parent.parent / "ledger" / "data" / "calendar" / "cn-2026.json"
    assert cli_main(["--db", db, "calendar", "publish", str(cal)]) == 1
    assert "already exists" in capsys.readouterr().err
    plan = demo_plan("ZC-WLJ", 2028, ["ZC-WLJ/F"])
    (tmp_path / "plan.json").write_text(json.dumps(plan, ensure_ascii=False), encoding="utf-8")
    assert cli_main(["--db", db, "plan", "file", str(tmp_path / "plan.json"),
                     "--department", "ZC-WLJ"]) == 0
    assert cli_main(["--db", db, "plan", "receive", plan["plan_id"]]) == 0
    assert cli_main(["--db", db, "plan", "publish", plan["plan_id"], "--department", "ZC-WLJ",
                     "--url", "https://example.gov.cn/p"]) == 0
    broken = {**plan, "plan_id": "2028-broken", "tasks": [{**plan["tasks"][0], "batches": [
        {**plan["tasks"][0]["batches"][0], "draw_date": "2029-01-01",
         "team": {"ZC-WLJ": 1}}]}]}
    (tmp_path / "broken.json").write_text(json.dumps(broken, ensure_ascii=False),
                                          encoding="utf-8")
    assert cli_main(["--db", db, "plan", "file", str(tmp_path / "broken.json"),
                     "--department", "ZC-WLJ"]) == 1
    err = capsys.readouterr().err
    assert "outside the plan year 2028" in err and "below the policy minimum of 2" in err
    assert cli_main(["--db", db, "checkpoint"]) == 0  # the witnesses cosign the new tail
    assert cli_main(["--db", db, "export", str(tmp_path / "out")]) == 0
    assert run_audit(tmp_path / "out").exit_code == EXIT_CLEAN


def test_import_members_splice_the_same_bytes_as_the_general_encoders() -> None:
    from eventsourcing.persistence import StoredEvent

    from ledger._app import _ImportMembers
    from ledger._model import Stated, StatementMapper
    from ledger._recorder import FramedStoredEvent, _statement_frame, statement_codec
    from verifier import statement_bytes

    bodies = [
        {"uscc": "91370302MA3C8X8K1Q", "name": "淄博\"引号\"\\反斜杠（集团）", "dept": "ZC-SCJGJ",
         "expert": True, "qualifications": ["M-1", "M-2"], "n": 3, "none": None},
        {"name": "tab\there\u2028line\x1f😀", "dept": "ZC-SCJGJ", "nested": {"b": [1, {"a": ""}]}},
    ]
    members = _ImportMembers("ZC-SCJGJ")
    for i, body in enumerate(bodies):
        members.add(i, "target.added", f"target/\"{i}\\", body)
    # A batch id that needs escapes, to hold the sid's spliced JSON to the encoder's.
    members.seal("2026-03-01T08:00:00Z", "ZC-SCJGJ-导入", 'b"\\\u2028\x01' + "b" * 28,
                 len(bodies))
    value = "A" * 86 + "=="
    mapper = StatementMapper()
    for i, body in enumerate(bodies):
        stream = f"target/\"{i}\\"
        sig = {"ctime": members.ctime, "key": members.key, "sid": members.sid(i), "value": value}
        assert members.signed(i, "target.added", stream) == statement_bytes(
            "target.added", stream, "ZC-SCJGJ", body, sig)
        expected = mapper.to_stored_event(Stated(stream, 1, datetime.now(UTC), "target.added",
                                                 "ZC-SCJGJ", body, sig)).state
        state, frame = members.state(i, "target.added", value)
        assert state == expected
        # The frame the splice reports is where the scan finds the members, and the entry
        # built from it is the one built from the state alone.
        assert frame == _statement_frame(expected) or _statement_frame(expected) is None
        assert expected[frame[0]:].startswith(b',"sig":{"ctime":')
        assert expected[frame[1]:].startswith(b',"type":"target.added"}')
        framed = FramedStoredEvent(stream, 1, "target.added", state, frame)
        plain = StoredEvent(stream, 1, "target.added", state)
        assert statement_codec(i, bytes(32), "2026-03-01T16:00:00.000000+08:00", framed) == \
            statement_codec(i, bytes(32), "2026-03-01T16:00:00.000000+08:00", plain)
        # The entry spliced directly from the pieces is the codec's, for any seq and prev.
        for seq, prev in ((0, bytes(32)), (7 + i, b"\xab" * 32), (10**12, b"\x00\xff" * 16)):
            assert members.entry(i, "target.added", stream, 1 + i, value, seq, prev,
                                 b'"2026-03-01T16:00:00.000000+08:00"') == \
                statement_codec(seq, prev, "2026-03-01T16:00:00.000000+08:00",
                                StoredEvent(stream, 1 + i, "target.added", state))


def test_import_events_chain_as_the_recorder_would() -> None:
    """The hashes an import's stored events chain themselves equal _chain_rows's over the
    same stored events one by one (with another codec the events decline), and the rows
    they bind are the recorder's."""
    from array import array

    from ledger._app import _ImportEvents, _ImportMembers
    from ledger._model import Stated, StatementMapper
    from ledger._recorder import _chain_rows, _stream, opaque_codec, statement_codec

    members = _ImportMembers("ZC-SCJGJ")
    items = [("target.added", f"target/9137030{i}", {"uscc": f"9137030{i}", "dept": "ZC-SCJGJ",
                                                     "name": f"名称{i}"}) for i in range(5)]
    for i, (type_, stream, body) in enumerate(items):
        members.add(i, type_, stream, body)
    members.seal("2026-03-01T08:00:00Z", "ZC-SCJGJ-key", "c" * 32, len(items))
    members.versions = array("Q", [1, 2, 1, 5, 1])
    mapper = StatementMapper()
    first = mapper.to_stored_event(Stated(
        "import/x", 1, datetime.now(UTC), "import.recorded", "ZC-SCJGJ", {"a": "导入"},
        {"ctime": "2026-03-01T08:00:00Z", "key": "k", "sid": "s", "value": "B" * 86 + "=="}))
    events = _ImportEvents(first, items, members, "A" * 86 + "==")
    time = "2026-03-01T16:00:00.000000+08:00"
    ids = list(range(40, 46))
    expected = _chain_rows(statement_codec, list(events), ids, 9, b"\x01" * 32, time)
    assert _chain_rows(statement_codec, events, ids, 9, b"\x01" * 32, time) == expected
    assert [row[0] for row in expected] == list(range(9, 15))
    assert events.chain(opaque_codec, 9, b"\x01" * 32, time) is None
    # What the SQLite recorder binds for each is what it would read off the events.
    assert list(events.insert_rows()) == [
        (_stream(e.originator_id), e.originator_version, e.topic, e.state) for e in events]


def test_import_body_not_in_nfc_is_refused(log: tuple[Ledger, Parties]) -> None:
    ledger, keys = log
    size = ledger.refresh()
    body = {"uscc": "91370302MA3C8X8K1Q", "name": "Cafe\u0301", "dept": "ZC-SCJGJ"}
    with pytest.raises(InputError, match="NFC"):
        ledger.submit_import(keys.load("dept-ZC-SCJGJ"), "ZC-SCJGJ",
                             {"kind": "targets", "file_sha256": "12" * 32, "file_name": "x"},
                             [("target.added", f"target/{body['uscc']}", body)])
    assert ledger.refresh() == size


def _row(i: int, **changes: object) -> tuple[str, str, dict[str, object]]:
    data = rows(i + 1, seed=99)[i]
    body: dict[str, object] = dict(zip(("uscc", "name", "registry", "industry", "region", "risk",
                                        "status", "unit"), data, strict=True))
    body["dept"] = "ZC-SCJGJ"
    body.update(changes)
    return "target.added", f"target/{body['uscc']}", body


def test_body_rules_run_unless_the_importer_checked_the_bodies(
        log: tuple[Ledger, Parties]) -> None:
    ledger, keys = log
    signer = keys.load("dept-ZC-SCJGJ")
    size = ledger.refresh()
    record = {"kind": "targets", "file_sha256": "34" * 32, "file_name": "x"}
    bad = [_row(0), _row(1, risk="E")]
    with pytest.raises(InputError, match=r"statement 2 rejected: AUTH\.body: invalid body: risk"):
        ledger.submit_import(signer, "ZC-SCJGJ", record, bad)
    assert ledger.refresh() == size and ledger.state.batch is None
    # A state with other body rules runs them even for rows the importer checked.
    seen: list[str] = []

    def rules(type_: str, body: dict[str, object], state: object) -> list[str]:
        seen.append(type_)
        return ["risk: refused by a custom rule"] if body.get("risk") == "E" else []

    ledger.state.body_check = rules
    with pytest.raises(InputError, match="refused by a custom rule"):
        ledger.submit_import(signer, "ZC-SCJGJ", record, bad, bodies_checked=True)
    assert seen == ["import.recorded", "target.added", "target.added"]
    assert ledger.refresh() == size


def test_checked_import_skips_only_the_member_body_rules(
        log: tuple[Ledger, Parties], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ledger, keys = log
    calls: list[str] = []
    default = ledger.state.body_check
    assert default is not None

    def counting(type_: str, body: dict[str, object], state: object) -> list[str]:
        calls.append(type_)
        return default(type_, body, state)  # type: ignore[arg-type]

    import ledger._app as app

    monkeypatch.setattr(app, "_default_body_rules", counting)
    ledger.state.body_check = counting
    result, _ = import_file(ledger, keys.load("dept-ZC-SCJGJ"), "ZC-SCJGJ", "targets",
                            write_csv(tmp_path / "t.csv", rows(20, seed=5)))
    assert result.rows == 20 and calls == ["import.recorded"]
    ledger.state.body_check = default
    ledger.checkpoint(keys.load("log"), keys.witness_tools())
    ledger.export(tmp_path / "out")
    assert run_audit(tmp_path / "out").exit_code == EXIT_CLEAN
