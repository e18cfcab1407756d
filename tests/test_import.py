"""Spreadsheet import (regfile, the parser the ledger and the client share): real .xlsx
written by openpyxl, CSV in UTF-8 and GB18030."""

from __future__ import annotations

import csv
import hashlib
import random
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from regfile import ParsedImport, RegistryFileError, RowError, format_errors, parse_file
from verifier._registry import check_body
from verifier._uscc import USCC_CHARSET, org_code_check_char, uscc_check_char

DEPT = "ZC-SCJGJ"
T_HEAD = ["统一社会信用代码", "名称", "分库", "行业代码", "行政区划代码", "风险等级", "登记状态",
          "监管单位", "注册号(可选)"]
I_HEAD = ["执法证号", "姓名", "单位", "执法资质(以；或;分隔的事项编号)", "证件有效期起",
          "证件有效期止", "是否专家(是/否)"]
EXCEL = "Excel converted this code to a number (scientific notation / 15 significant digits)"


def uscc(rng: random.Random, head: str = "91370302") -> str:
    org8 = "MA" + "".join(rng.choice(USCC_CHARSET) for _ in range(6))
    body = head + org8 + org_code_check_char(org8)
    return body + uscc_check_char(body)


def target_row(code: str, i: int = 0) -> list[Any]:
    return [code, f"淄博测试{i}商贸有限公司", "食品经营", "F5299", "370302", "ABCD"[i % 4], "存续",
            "般阳路街道市场监管所", None]


def body_of(row: list[Any]) -> dict[str, Any]:
    body = {"uscc": row[0], "name": row[1], "registry": f"{DEPT}/{row[2]}", "industry": row[3],
            "region": row[4], "risk": row[5], "status": row[6], "unit": row[7], "dept": DEPT}
    if row[8]:
        body["reg_no"] = row[8]
    return body


def write_xlsx(path: Path, rows: list[list[Any]]) -> Path:
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet()
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


def write_csv(path: Path, rows: list[list[Any]], encoding: str = "utf-8-sig") -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        csv.writer(f).writerows([["" if c is None else c for c in row] for row in rows])
    return path


def where(result: ParsedImport) -> list[tuple[int, str]]:
    return [(e.row, e.column) for e in result.errors]


@pytest.fixture()
def rng() -> random.Random:
    return random.Random(7)


# ---------------------------------------------------------------------------- good files


def test_xlsx_targets_parse_to_bodies(tmp_path: Path, rng: random.Random) -> None:
    rows = [target_row(uscc(rng), i) for i in range(5)]
    rows[1][8] = "110108000000016"
    path = write_xlsx(tmp_path / "t.xlsx", [T_HEAD, *rows])
    result = parse_file(path, "targets", DEPT)
    assert result.errors == [] and result.warnings == []
    assert result.rows == [body_of(r) for r in rows]
    assert result.row_numbers == [2, 3, 4, 5, 6]
    assert result.kind == "targets" and result.event_type == "target.added"
    assert result.encoding == "xlsx" and result.file_name == "t.xlsx"
    assert result.file_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    for body in result.rows:
        assert check_body("target.added", body) == ([], [])


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "gb18030"])
def test_csv_encodings(tmp_path: Path, rng: random.Random, encoding: str) -> None:
    rows = [target_row(uscc(rng), i) for i in range(4)]
    rows[0][1] = "淄博市淄川区鑫磊五金店（个体工商户）"  # characters beyond GB2312 still fine
    path = write_csv(tmp_path / "t.csv", [T_HEAD, *rows], encoding)
    result = parse_file(path, "targets", DEPT)
    assert result.errors == []
    assert result.encoding == encoding
    expected = [body_of(r) for r in rows]
    expected[0]["name"] = "淄博市淄川区鑫磊五金店（个体工商户）"  # names: NFC only, brackets kept
    assert result.rows == expected
    assert result.file_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_full_width_and_spaces_normalised(tmp_path: Path, rng: random.Random) -> None:
    code = uscc(rng)
    full = "".join(chr(ord(c) + 0xFEE0) for c in code)  # Ａ-Ｚ, ０-９
    head = ["  统一社会信用代码 ", "名 称", "＊分库", "行业代码", "行政区划代码", "风险等级",
            "登记状态", "监管单位", "注册号（可选）"]
    row = [f" {full}\u3000", " 淄博甲有限公司 ", "食品经营", "Ｆ５２９９", "３７０３０２", "Ａ",
           "存续", "般阳路街道市场监管所", None]
    result = parse_file(write_xlsx(tmp_path / "f.xlsx", [head, row]), "targets", DEPT)
    assert result.errors == [] and result.warnings == []
    assert result.rows[0]["uscc"] == code
    assert result.rows[0]["industry"] == "F5299" and result.rows[0]["region"] == "370302"
    assert result.rows[0]["risk"] == "A" and result.rows[0]["name"] == "淄博甲有限公司"


def test_column_order_free_and_lower_case_warned(tmp_path: Path, rng: random.Random) -> None:
    code = uscc(rng)
    head = list(reversed(T_HEAD[:8]))
    row = list(reversed(target_row(code.lower())[:8]))
    row[3] = 370302  # a numeric region cell is fine: no digits can be lost
    result = parse_file(write_xlsx(tmp_path / "o.xlsx", [head, row]), "targets", DEPT)
    assert result.errors == []
    assert result.rows[0]["uscc"] == code and result.rows[0]["region"] == "370302"
    assert [(w.row, w.column, w.reason) for w in result.warnings] == [
        (2, "统一社会信用代码", "lower-case letters converted to upper case")]


def test_registry_and_status_forms(tmp_path: Path, rng: random.Random) -> None:
    rows = [target_row(uscc(rng), i) for i in range(4)]
    rows[0][2] = f"{DEPT}/药品"
    rows[1][6] = "存续（在营、开业、在册）"
    rows[2][6] = "吊销，未注销"
    rows[3][2] = "ZC-OTHER/药品"
    result = parse_file(write_xlsx(tmp_path / "s.xlsx", [T_HEAD, *rows]), "targets", DEPT)
    assert result.rows[0]["registry"] == f"{DEPT}/药品"
    assert result.rows[1]["status"] == "存续" and result.rows[2]["status"] == "吊销"
    assert [(w.row, w.column) for w in result.warnings] == [(3, "登记状态"), (4, "登记状态")]
    assert where(result) == [(5, "分库")]


def test_inspectors_xlsx_and_csv(tmp_path: Path) -> None:
    rows: list[list[Any]] = [
        ["370302190001", "王伟", "般阳路街道市场监管所", "food；drug;general",
         datetime(2024, 1, 1), date(2027, 12, 31), "是"],
        ["鲁c0301-0012", "李娜", "昆仑镇市场监管所", None, "2024/3/5", "2028年1月2日", "否"],
        ["370302190003", "张敏", "罗村镇市场监管所", "general", "20240101", "2026-06-30",
         False],
    ]
    expected = [
        {"cert_no": "370302190001", "name": "王伟", "unit": "般阳路街道市场监管所",
         "qualifications": ["food", "drug", "general"], "valid_from": "2024-01-01",
         "valid_to": "2027-12-31", "expert": True, "dept": DEPT},
        {"cert_no": "鲁C0301-0012", "name": "李娜", "unit": "昆仑镇市场监管所",
         "qualifications": [], "valid_from": "2024-03-05", "valid_to": "2028-01-02",
         "expert": False, "dept": DEPT},
        {"cert_no": "370302190003", "name": "张敏", "unit": "罗村镇市场监管所",
         "qualifications": ["general"], "valid_from": "2024-01-01",
         "valid_to": "2026-06-30", "expert": False, "dept": DEPT},
    ]
    result = parse_file(write_xlsx(tmp_path / "i.xlsx", [I_HEAD, *rows]), "inspectors", DEPT)
    assert result.errors == []
    assert result.rows == expected
    assert result.event_type == "inspector.added"
    assert [(w.row, w.column) for w in result.warnings] == [(3, "执法证号")]  # upper-cased
    rows[0][4], rows[0][5], rows[2][6] = "2024-01-01", "2027-12-31", "否"
    csv_result = parse_file(write_csv(tmp_path / "i.csv", [I_HEAD, *rows], "gb18030"),
                            "inspectors", DEPT)
    assert csv_result.encoding == "gb18030" and csv_result.rows == expected


def test_inspector_cell_errors(tmp_path: Path) -> None:
    rows: list[list[Any]] = [
        ["370302190001", "王伟", "u", "", 45292, "2027-12-31", "是"],
        ["370302190002", "李娜", "u", "", "2024-13-01", "2027-12-31", "Y"],
        ["370302190003", "张敏", "u", "", "2025-01-01", "2024-12-31", "否"],
    ]
    result = parse_file(write_xlsx(tmp_path / "e.xlsx", [I_HEAD, *rows]), "inspectors", DEPT)
    assert where(result) == [(2, "证件有效期起"), (3, "证件有效期起"), (3, "是否专家"),
                             (4, "证件有效期止")]
    assert "a number, not a date" in result.errors[0].reason
    assert result.rows == []


def test_blank_rows_skipped_but_counted(tmp_path: Path, rng: random.Random) -> None:
    rows = [T_HEAD, target_row(uscc(rng), 0), [], [None] * 9, target_row("bad", 1)]
    result = parse_file(write_xlsx(tmp_path / "b.xlsx", rows), "targets", DEPT)
    assert len(result.rows) == 1
    assert {e.row for e in result.errors} == {5}


def test_header_only_and_empty(tmp_path: Path) -> None:
    result = parse_file(write_csv(tmp_path / "h.csv", [T_HEAD]), "targets", DEPT)
    assert result.rows == [] and result.errors == []
    (tmp_path / "e.csv").write_bytes(b"")
    empty = parse_file(tmp_path / "e.csv", "targets", DEPT)
    assert [(e.row, e.reason) for e in empty.errors] == [(0, "the file is empty")]


# ---------------------------------------------------------------------------- bad files


def test_ten_thousand_rows_three_bad(tmp_path: Path, rng: random.Random) -> None:
    rows = [target_row(uscc(rng), i) for i in range(10_000)]
    bad_code = rows[55][0][:17] + next(c for c in "0123456789" if c != rows[55][0][17])
    rows[55][0] = bad_code  # spreadsheet row 57
    rows[4319][5] = "E"  # row 4321
    rows[9997][1] = "  "  # row 9999: blank after stripping
    for path in (write_xlsx(tmp_path / "big.xlsx", [T_HEAD, *rows]),
                 write_csv(tmp_path / "big.csv", [T_HEAD, *rows])):
        result = parse_file(path, "targets", DEPT)
        assert where(result) == [(57, "统一社会信用代码"), (4321, "风险等级"), (9999, "名称")]
        assert "wrong check character" in result.errors[0].reason
        assert result.errors[2].reason == "required value is empty"
        assert len(result.rows) == 9_997 and result.warnings == []
        assert 57 not in result.row_numbers and result.row_numbers[55] == 58


def test_excel_mangled_codes(tmp_path: Path, rng: random.Random) -> None:
    rows = [target_row(uscc(rng), i) for i in range(6)]
    rows[0][0] = 9.13703021922038e17  # a number cell
    rows[1][0] = 913703021922038000  # an integer cell
    rows[2][0] = "9.13703E+17"
    rows[3][0] = "9.13703E17"
    rows[4][0] = "913703021922038000"  # 15 significant digits kept, the rest zeroed
    rows[5][8] = 370302000012348  # 注册号 as a number
    result = parse_file(write_xlsx(tmp_path / "m.xlsx", [T_HEAD, *rows]), "targets", DEPT)
    assert where(result) == [(2, "统一社会信用代码"), (3, "统一社会信用代码"),
                             (4, "统一社会信用代码"), (5, "统一社会信用代码"),
                             (6, "统一社会信用代码"), (7, "注册号")]
    for e in result.errors:
        assert e.reason.startswith(EXCEL) and e.reason.endswith(
            "format the column as text and re-export")
        assert "科学计数法" in e.reason_zh
    csv_rows = [r for r in rows if isinstance(r[0], str)]
    csv_result = parse_file(write_csv(tmp_path / "m.csv", [T_HEAD, *csv_rows]), "targets", DEPT)
    assert [e.reason.startswith(EXCEL) for e in csv_result.errors] == [True] * 3


def test_unknown_and_missing_columns(tmp_path: Path, rng: random.Random) -> None:
    head = ["统一社会信用代码", "名称", "备注", "风险等级", "Remarks"]
    rows = [head, [uscc(rng), "x", "y", "A", "z"]]
    result = parse_file(write_xlsx(tmp_path / "u.xlsx", rows), "targets", DEPT)
    assert where(result) == [(1, "备注"), (1, "Remarks"),
                             (1, "分库、行业代码、行政区划代码、登记状态、监管单位")]
    assert result.errors[0].reason.startswith("unknown column")
    assert result.errors[2].reason == ("missing required columns: 分库, 行业代码, 行政区划代码, "
                                       "登记状态, 监管单位")
    assert result.rows == []
    missing_only = parse_file(write_xlsx(tmp_path / "m.xlsx", [T_HEAD[:7]]), "targets", DEPT)
    assert len(missing_only.errors) == 1 and missing_only.errors[0].column == "监管单位"


def test_duplicate_column_and_headerless_value(tmp_path: Path, rng: random.Random) -> None:
    dup = parse_file(write_xlsx(tmp_path / "d.xlsx", [[*T_HEAD, "名称"]]), "targets", DEPT)
    assert [(e.column, e.reason) for e in dup.errors] == [
        ("名称", "column given twice (columns B and J)")]
    rows = [[*T_HEAD, None], [*target_row(uscc(rng)), "stray"]]
    stray = parse_file(write_xlsx(tmp_path / "s.xlsx", rows), "targets", DEPT)
    assert where(stray) == [(2, "J")]


def test_duplicate_keys_name_both_rows(tmp_path: Path, rng: random.Random) -> None:
    code = uscc(rng)
    rows = [target_row(code, 0), target_row(uscc(rng), 1), target_row(code.lower(), 2)]
    result = parse_file(write_xlsx(tmp_path / "d.xlsx", [T_HEAD, *rows]), "targets", DEPT)
    assert [(e.row, e.column, e.reason) for e in result.errors] == [
        (4, "统一社会信用代码", f"duplicate of row 2 ({code})")]
    assert result.row_numbers == [2, 3]
    inspectors = [I_HEAD, ["370302190001", "王伟", "u", "", "2024-01-01", "2027-12-31", "否"],
                  ["370302190001", "李娜", "u", "", "2024-01-01", "2027-12-31", "否"]]
    dup = parse_file(write_csv(tmp_path / "d.csv", inspectors), "inspectors", DEPT)
    assert [(e.row, e.reason_zh) for e in dup.errors] == [(3, "与第 2 行重复（370302190001）")]


@pytest.mark.parametrize("header", ["身份证号", "法定代表人联系电话", "手机", "phone",
                                    "home_address", "负责人住址"])
def test_personal_data_columns_rejected(tmp_path: Path, header: str) -> None:
    result = parse_file(write_xlsx(tmp_path / "p.xlsx", [[*I_HEAD, header]]), "inspectors", DEPT)
    assert [(e.row, e.column) for e in result.errors] == [(1, header)]
    assert "personal data not allowed in the log" in result.errors[0].reason


def test_undecodable_csv(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(",".join(T_HEAD).encode("gb18030") + b"\r\n\xff\xff,a\r\n")
    result = parse_file(path, "targets", DEPT)
    assert result.encoding == "gb18030"
    assert result.errors[-1].reason.startswith("the file is neither UTF-8 nor GB18030")


def test_bad_arguments(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "t.csv", [T_HEAD])
    with pytest.raises(RegistryFileError, match="kind"):
        parse_file(path, "plans", DEPT)
    with pytest.raises(RegistryFileError, match="dept"):
        parse_file(path, "targets", "ZC SCJGJ")
    (tmp_path / "t.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(RegistryFileError, match=r"only \.xlsx and \.csv"):
        parse_file(tmp_path / "t.xls", "targets", DEPT)
    (tmp_path / "t.xlsx").write_bytes(b"not a zip")
    with pytest.raises(RegistryFileError, match=r"not a readable \.xlsx"):
        parse_file(tmp_path / "t.xlsx", "targets", DEPT)


def test_format_errors() -> None:
    errors = [RowError(12, "统一社会信用代码", "wrong check character", "校验位错误"),
              RowError(1, "", "row 1 must hold the column headers", "第 1 行必须是表头"),
              RowError(0, "", "the file is empty", "文件为空"),
              RowError(3, "名称", "english only")]
    assert format_errors(errors).splitlines() == [
        "第 12 行 [统一社会信用代码]: 校验位错误 / "
        "row 12 [统一社会信用代码]: wrong check character",
        "第 1 行: 第 1 行必须是表头 / row 1: row 1 must hold the column headers",
        "文件: 文件为空 / file: the file is empty",
        "第 3 行 [名称]: english only / row 3 [名称]: english only",
    ]
    assert format_errors([]) == ""


def test_repeated_cells_read_as_the_first_time(tmp_path: Path, rng: random.Random) -> None:
    """Text cells of a registry's few distinct values (分库, codes, status, unit) are read
    once per file and remembered: every row still gets its own warnings and errors, the
    values are those a fresh read gives, and past the memo's size cells are read anew."""
    from regfile import _parse as _import

    rows = [target_row(uscc(rng), i) for i in range(6)]
    rows[1][6] = rows[4][6] = "存续（在营、开业、在册）"  # a status alias: warned on both rows
    rows[2][4] = rows[5][4] = "37030X"  # a bad region: an error on both rows
    rows[3][2] = rows[5][2] = "  ＦＯＯ "  # full width and spaces, normalised the same way
    path = write_csv(tmp_path / "t.csv", [T_HEAD, *rows])
    result = parse_file(path, "targets", DEPT)
    warned = sorted({(w.row, w.column) for w in result.warnings})
    assert warned == [(3, "登记状态"), (6, "登记状态")]
    assert sorted({e.row for e in result.errors if e.column == "行政区划代码"}) == [4, 7]
    assert [b["registry"] for b in result.rows if b["uscc"] == rows[3][0]] == [f"{DEPT}/FOO"]
    small = _import._MEMO_SIZE
    try:
        _import._MEMO_SIZE = 1
        again = parse_file(path, "targets", DEPT)
    finally:
        _import._MEMO_SIZE = small
    assert (again.rows, again.errors, again.warnings) == \
        (result.rows, result.errors, result.warnings)


def test_workbooks_load_without_the_used_range_scan(tmp_path: Path, rng: random.Random
                                                    ) -> None:
    """load_read_only reads the same cells as openpyxl's load_workbook, for a sheet with
    a <dimension> (openpyxl's normal mode) and one without (write-only mode), and leaves
    openpyxl's read-only sheets as they were."""
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    from regfile._parse import load_read_only

    rows = [T_HEAD, *(target_row(uscc(rng), i) for i in range(30))]
    streamed = write_xlsx(tmp_path / "streamed.xlsx", rows)  # no <dimension>
    wb = openpyxl.Workbook()
    for row in rows:
        wb.active.append(row)
    wb.active["K40"] = "far"  # a used range wider and longer than the rows
    wb.save(tmp_path / "normal.xlsx")
    size = ReadOnlyWorksheet.__dict__["_get_size"]
    for path in (streamed, tmp_path / "normal.xlsx"):
        plain = openpyxl.load_workbook(path, read_only=True, data_only=True)
        fast = load_read_only(path)
        sheets = plain.worksheets[0], fast.worksheets[0]
        for sheet in sheets:
            sheet.reset_dimensions()
        assert list(sheets[0].iter_rows(values_only=True)) == \
            list(sheets[1].iter_rows(values_only=True))
        plain.close()
        fast.close()
    assert ReadOnlyWorksheet.__dict__["_get_size"] is size
    assert openpyxl.load_workbook(tmp_path / "normal.xlsx", read_only=True).worksheets[0] \
        .max_row == 40


def test_inline_strings_read_as_openpyxl_reads_them(tmp_path: Path, rng: random.Random,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The reading child's plain inline strings give openpyxl's text; anything else is
    openpyxl's own Text."""
    from xml.etree.ElementTree import fromstring

    import openpyxl.worksheet._reader as reader
    from openpyxl.cell.text import Text

    from regfile._parse import _InlineText, fast_inline_strings

    monkeypatch.setattr(reader, "Text", reader.Text)  # put back after the test
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    snippets = [
        "<is {ns}><t>淄博甲有限公司</t></is>", "<is {ns}><t/></is>", "<is {ns}></is>",
        '<is {ns}><t xml:space="preserve">  两端空格 \n换行 </t></is>',
        "<is {ns}><t>a<b>inner</b>tail</t></is>",
        "<is {ns}><r><rPr><b/></rPr><t>粗</t></r><r><t>体</t></r></is>",
        "<is {ns}><t>基</t><rPh sb='0' eb='1'><t>ji</t></rPh></is>",
        "<is {ns}><t>one</t><t>two</t></is>",
        '<is xmlns="urn:other"><t>elsewhere</t></is>',
        "<is {ns}><t>_x000D_ kept as written 😀</t></is>",
    ]
    assert fast_inline_strings() and fast_inline_strings()  # installed once, then kept
    assert reader.Text is _InlineText
    for snippet in snippets:
        node = fromstring(snippet.replace("{ns}", ns))
        assert _InlineText.from_tree(node).content == Text.from_tree(node).content, snippet
    # A workbook of inline strings (openpyxl's write-only mode) reads the same both ways.
    rows = [T_HEAD, *(target_row(uscc(rng), i) for i in range(40))]
    rows[3][1] = "  名称 \n两行 "
    rows[4][1] = ""
    path = write_xlsx(tmp_path / "inline.xlsx", rows)
    fast = openpyxl.load_workbook(path, read_only=True)
    fast_rows = list(fast.worksheets[0].iter_rows(values_only=True))
    fast.close()
    monkeypatch.setattr(reader, "Text", Text)
    plain = openpyxl.load_workbook(path, read_only=True)
    assert list(plain.worksheets[0].iter_rows(values_only=True)) == fast_rows
    plain.close()


def test_values_under_no_header_are_reported_in_cell_order(tmp_path: Path,
                                                           rng: random.Random) -> None:
    head = [*T_HEAD[:3], None, *T_HEAD[3:8]]  # column D has no header
    good = target_row(uscc(rng), 0)[:8]
    rows = [head,
            [*good[:3], None, *good[3:]],                    # D blank: a good row
            [*good[:3], "备注", *good[3:], "多余"],           # D and J hold values
            ["9.13703E+17", *good[1:3], "x", *good[3:5], "Q", *good[6:]]]  # with bad cells
    rows[2][0] = uscc(rng)
    path = write_xlsx(tmp_path / "gap.xlsx", rows)
    result = parse_file(path, "targets", DEPT)
    assert result.row_numbers == [2]
    assert [(e.row, e.column) for e in result.errors] == [
        (3, "D"), (3, "J"), (4, "统一社会信用代码"), (4, "D"), (4, "风险等级")]
    assert "no header" in result.errors[0].reason
