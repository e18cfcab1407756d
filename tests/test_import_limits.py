"""Import limits (docs/IMPORT.md, "Limits"): hostile workbooks and CSV files are refused by
a named limit, in bounded memory and time, with at most 1,000 problems listed and a count;
formulas and formula injection are refused by row and column; rows that conflict with the
log are named by spreadsheet row and column. Workbooks are written with zipfile and raw XML
(not openpyxl), so that a hostile one takes seconds to make."""

from __future__ import annotations

import csv
import itertools
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from ledger import InputError, Ledger, Parties, build_demo
from ledger._admin import import_file
from regfile import MAX_ERRORS, RegistryFileError, RowError, format_errors, parse_file
from regfile._parse import _xlsx_rows
from regfile._xlsx import MAX_CELL_CHARS, MAX_COLUMNS, MAX_ROWS, Formula, read_xlsx
from tests.test_import_ledger import HEAD, rows, write_csv

DRAWLEDGER = str(Path(sys.executable).parent / "drawledger")
RSS_LIMIT_KIB = 300 * 1024
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_TYPES = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
          'package/2006/content-types"><Default Extension="rels" ContentType="application/'
          'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType='
          '"application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/'
          'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName='
          '"/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
          'officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.'
          'xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
          'sharedStrings+xml"/></Types>')
_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
         'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
         'schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
         'Target="xl/workbook.xml"/></Relationships>')
_BOOK = (f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{MAIN}" xmlns:r="http://'
         'schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name='
         '"Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>')
_BOOK_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
              'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type='
              '"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
              'Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.'
              'openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target='
              '"sharedStrings.xml"/></Relationships>')


def _inline(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def header_row() -> str:
    return '<row r="1">' + "".join(_inline(f"{chr(65 + i)}1", h) for i, h in enumerate(HEAD)) \
        + "</row>"


def write_workbook(path: Path, sheet_rows: Iterable[str],
                   strings: Iterable[str] | None = None, prolog: str = "") -> Path:
    """A minimal .xlsx: the sheet's ``<row>`` elements and the shared-string table's
    content streamed into the archive as given (``prolog`` before the sheet's root)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", _TYPES)
        zf.writestr("_rels/.rels", _RELS)
        zf.writestr("xl/workbook.xml", _BOOK)
        zf.writestr("xl/_rels/workbook.xml.rels", _BOOK_RELS)
        with zf.open("xl/worksheets/sheet1.xml", "w") as out:
            out.write(f'<?xml version="1.0" encoding="UTF-8"?>{prolog}<worksheet xmlns='
                      f'"{MAIN}"><sheetData>'.encode())
            batch: list[str] = []
            for row in sheet_rows:
                batch.append(row)
                if len(batch) >= 10_000:
                    out.write("".join(batch).encode())
                    batch = []
            out.write(("".join(batch) + "</sheetData></worksheet>").encode())
        with zf.open("xl/sharedStrings.xml", "w") as out:
            out.write(f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{MAIN}">'.encode())
            for chunk in strings or ():
                out.write(chunk.encode())
            out.write(b"</sst>")
    return path


@pytest.fixture
def log(tmp_path: Path) -> tuple[Path, Parties]:
    keys = Parties(tmp_path / "parties")
    ledger = Ledger(str(tmp_path / "db.sqlite"))
    try:
        build_demo(ledger, keys, targets=5, inspectors=2)
    finally:
        ledger.close()
    return tmp_path / "db.sqlite", keys


def entries(db: Path) -> int:
    ledger = Ledger(str(db))
    try:
        return ledger.refresh()
    finally:
        ledger.close()


# Started from this small process, the importer's peak RSS is its own (and its forked
# children's, which wait4 includes), not the high-water mark of the pytest process that an
# exec right after a fork would carry over.
_MEASURE = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
print(usage.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_import(db: Path, path: Path, kind: str = "targets", dept: str = "ZC-SCJGJ"
               ) -> tuple[int, str, int, float]:
    """``drawledger import`` as its own process: exit code, stderr, the peak RSS (KiB) of
    that process and the children it forked, seconds taken."""
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", _MEASURE, DRAWLEDGER, "--db", str(db),
                           "import", kind, str(path), "--department", dept],
                          capture_output=True, text=True, check=False)
    return proc.returncode, proc.stderr, int(proc.stdout), time.monotonic() - start


def assert_refused(code: int, err: str, limit: str) -> list[str]:
    assert code == 1, err[-2000:]
    assert "Traceback" not in err
    assert limit in err, err[-2000:]
    lines = err.splitlines()
    problems = [line for line in lines if line.startswith(("第 ", "文件: "))]
    assert len(problems) <= MAX_ERRORS + 2  # the first 1,000, then the limit that fired
    return lines


def test_row_flood_workbook_refused_by_the_row_limit(log: tuple[Path, Parties],
                                                     tmp_path: Path) -> None:
    """Hostile workbook (a) of issue 12: ~10 MB, 2,000,000 rows each with a value under no
    header (before: 162 s, 9.65 GB, 1.87 GB of error text)."""
    db, _ = log
    rows_xml = (f'<row r="{n}">{_inline(f"J{n}", "x")}</row>' for n in range(2, 2_000_002))
    path = write_workbook(tmp_path / "flood.xlsx", itertools.chain([header_row()], rows_xml))
    before = entries(db)
    code, err, rss, seconds = run_import(db, path)
    lines = assert_refused(code, err, f"more than {MAX_ROWS:,} rows, the limit")
    # Nine problems a row (a value under no header, eight empty fields): the first 1,000
    # problems reach row 112; every data row after row 111 is counted.
    assert sum(1 for line in lines if line.startswith("第 ")) == MAX_ERRORS + 1
    assert f"problems on {MAX_ROWS - 1 - 111:,} more row(s) not listed" in err
    assert rss < RSS_LIMIT_KIB, (rss, seconds)
    assert entries(db) == before
    print(f"row flood: {path.stat().st_size:,} bytes, {seconds:.1f} s, peak RSS {rss:,} KiB")


def test_shared_string_bomb_refused_by_the_table_size_limit(log: tuple[Path, Parties],
                                                            tmp_path: Path) -> None:
    """Hostile workbook (b) of issue 12: ~310 KB whose shared-string table is one 300 MB
    string (before: 673 MB and an IndexError traceback)."""
    db, _ = log
    chunk = "A" * (1 << 20)
    path = write_workbook(tmp_path / "bomb.xlsx",
                          [header_row(), '<row r="2"><c r="A2" t="s"><v>0</v></c></row>'],
                          ["<si><t>", *(chunk for _ in range(300)), "</t></si>"])
    assert path.stat().st_size < 1 << 20
    before = entries(db)
    code, err, rss, seconds = run_import(db, path)
    assert_refused(code, err, "part xl/sharedStrings.xml (the shared-string table) "
                   "decompresses to more than 256 MiB")
    assert rss < RSS_LIMIT_KIB, (rss, seconds)
    assert entries(db) == before
    print(f"string bomb: {path.stat().st_size:,} bytes, {seconds:.1f} s, peak RSS {rss:,} KiB")


def test_one_long_shared_string_refused_as_it_is_read(tmp_path: Path) -> None:
    """A string under the table's size limit but longer than a cell may hold is refused
    at its entry, before the rest of it is kept."""
    path = write_workbook(tmp_path / "long.xlsx", [header_row()],
                          ["<si><t>short</t></si><si><t>", "甲" * (MAX_CELL_CHARS + 1),
                           "</t></si>"])
    parsed = parse_file(path, "targets", "ZC-SCJGJ")
    assert [e.reason for e in parsed.errors] == [
        f"entry 2 of the shared-string table is longer than {MAX_CELL_CHARS:,} characters, "
        "the limit for a cell"]


def test_zip_bomb_ratio_and_lying_header_refused(tmp_path: Path) -> None:
    """A sheet that inflates more than 200 times is refused from its header; a header that
    understates a part's size ends the read at the stated size (a damaged workbook), so the
    real size is never decompressed."""
    path = write_workbook(tmp_path / "ratio.xlsx", [header_row(), " " * (8 << 20)])
    parsed = parse_file(path, "targets", "ZC-SCJGJ")
    assert "times its compressed size (a zip bomb?)" in parsed.errors[-1].reason
    # Understate the sheet's size in both its local and central headers.
    lying = tmp_path / "lying.xlsx"
    write_workbook(lying, [header_row(), *(f'<row r="{n}">{_inline(f"A{n}", "x")}</row>'
                                           for n in range(2, 2000))])
    data = bytearray(lying.read_bytes())
    with zipfile.ZipFile(lying) as zf:
        info = zf.getinfo("xl/worksheets/sheet1.xml")
    small, name = (1000).to_bytes(4, "little"), info.filename.encode()
    data[info.header_offset + 22:info.header_offset + 26] = small
    central = data.find(b"PK\x01\x02")
    while data[central + 46:central + 46 + len(name)] != name:
        central = data.find(b"PK\x01\x02", central + 4)
    data[central + 24:central + 28] = small
    lying.write_bytes(bytes(data))
    parsed = parse_file(lying, "targets", "ZC-SCJGJ")
    assert "the workbook is damaged" in parsed.errors[-1].reason


def test_cell_past_the_column_limit_and_far_row_refused_at_once(tmp_path: Path) -> None:
    """One cell in a far column, or one row numbered past the limit, costs nothing: the
    limit fires where it stands, naming the row and column."""
    path = write_workbook(tmp_path / "wide.xlsx", [header_row(), '<row r="2"><c r="IW2">'
                                                   "<v>1</v></c></row>"])
    [error] = parse_file(path, "targets", "ZC-SCJGJ").errors
    assert (error.row, error.column) == (2, "IW")
    assert f"more than {MAX_COLUMNS} columns" in error.reason
    path = write_workbook(tmp_path / "far.xlsx", [header_row(), '<row r="2000000000"><c r='
                                                  '"A2000000000"><v>1</v></c></row>'])
    start = time.monotonic()
    [error] = parse_file(path, "targets", "ZC-SCJGJ").errors
    assert error.row == 2_000_000_000 and f"more than {MAX_ROWS:,} rows" in error.reason
    assert time.monotonic() - start < 5


def test_csv_limits_name_the_limit_and_the_row(tmp_path: Path) -> None:
    """A CSV line, a cell, the columns and the rows each have a limit."""
    header = ",".join(HEAD) + "\n"
    cases = {
        "line.csv": (header + "x" * (2 << 20), 2, "a line longer than 1,048,576 characters"),
        "cell.csv": (header + "y" * (MAX_CELL_CHARS + 1) + "\n", 2,
                     f"more than {MAX_CELL_CHARS:,} characters"),
        "columns.csv": (header + "," * MAX_COLUMNS + "\n", 2,
                        f"more than {MAX_COLUMNS} columns"),
        "rows.csv": (header + "\n" * MAX_ROWS, MAX_ROWS + 1, f"more than {MAX_ROWS:,} rows"),
    }
    for name, (text, row, limit) in cases.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        errors = parse_file(tmp_path / name, "targets", "ZC-SCJGJ").errors
        assert errors and errors[-1].row == row and limit in errors[-1].reason, (name, errors)


def test_error_flood_keeps_the_first_thousand_and_counts_the_rest(tmp_path: Path) -> None:
    """A problem on each of 3,000 rows: the first 1,000 kept, 2,000 rows counted; a
    warning on each row likewise (the last line counts the rest)."""
    data = rows(3000)
    for row in data:
        row[5] = "Z"
        row[0] = str(row[0]).lower()
    parsed = parse_file(write_csv(tmp_path / "bad.csv", data), "targets", "ZC-SCJGJ")
    assert len(parsed.errors) == MAX_ERRORS and parsed.errors_omitted == 2000
    assert parsed.errors[-1].row == MAX_ERRORS + 1
    assert len(parsed.warnings) == MAX_ERRORS + 1 and parsed.warnings_omitted >= 2000
    assert parsed.warnings[-1].reason.startswith(
        f"{parsed.warnings_omitted:,} more warning(s) not listed")
    assert "problems on 2,000 more row(s) not listed" in format_errors(parsed.errors, 2000)


def test_formula_injection_refused_by_row_and_column(tmp_path: Path) -> None:
    """Text a spreadsheet would run as a formula is refused where it stands; a plain
    number with a sign and a lone dash are text like any other."""
    data = rows(9)
    data[0][1] = '=HYPERLINK("http://evil.example","点我")'
    data[1][1] = "=1+2"
    data[2][7] = "@SUM(A1)"
    data[3][1] = "+cmd|' /C calc'!A0"
    data[4][7] = "-2+3+cmd|' /C calc'!Z0"
    data[5][1] = "＝1+2"  # full-width: NFKC makes it =1+2
    data[6][1] = " \u3000=A1"  # whitespace stripped first
    data[7][7] = "-5"
    data[8][7] = "-"
    parsed = parse_file(write_csv(tmp_path / "inject.csv", data), "targets", "ZC-SCJGJ")
    injected = {(e.row, e.column) for e in parsed.errors if "formula injection" in e.reason}
    assert injected == {(2, "名称"), (3, "名称"), (4, "监管单位"), (5, "名称"), (6, "监管单位"),
                        (7, "名称"), (8, "名称")}
    assert {e.row for e in parsed.errors} == {2, 3, 4, 5, 6, 7, 8}
    assert all(e.reason_zh.startswith("公式注入") for e in parsed.errors)


def test_formula_cell_in_xlsx_says_it_is_a_formula(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(HEAD)
    good = rows(2)
    good[1][7] = '=CONCATENATE("昆仑","镇")'
    for row in good:
        ws.append(row)
    wb.save(tmp_path / "formula.xlsx")
    [error] = parse_file(tmp_path / "formula.xlsx", "targets", "ZC-SCJGJ").errors
    assert (error.row, error.column) == (3, "监管单位") and error.reason_zh.startswith("是公式")


def test_reader_gives_the_values_openpyxl_gives(tmp_path: Path) -> None:
    """The bounded reader against openpyxl's read-only values: shared and inline strings,
    rich text, numbers, booleans, dates, gaps between rows and cells."""
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["文本", 12, 3.5, True, date(2024, 5, 6), datetime(2024, 5, 6, 7, 8, 9), None,
               "  空格  ", "x005F_y"])
    ws["C3"] = "gap"
    ws["K5"] = -7
    ws["B5"].number_format = "yyyy/m/d"
    ws["B5"] = 45000
    wb.save(tmp_path / "normal.xlsx")
    wo = openpyxl.Workbook(write_only=True)
    sheet = wo.create_sheet()
    sheet.append(["内联", 1, None, "b"])
    sheet.append([])
    sheet.append([None, None, 2.25])
    wo.save(tmp_path / "inline.xlsx")
    for name in ("normal.xlsx", "inline.xlsx"):
        book = openpyxl.load_workbook(tmp_path / name, read_only=True, data_only=True)
        ws_ro = book.worksheets[0]
        ws_ro.reset_dimensions()
        expected = [tuple(r) for r in ws_ro.iter_rows(values_only=True)]
        book.close()
        assert [tuple(r) for r in read_xlsx(tmp_path / name)] == expected, name


def test_malformed_workbook_parts_give_messages(tmp_path: Path) -> None:
    """Missing parts, bad XML, a DTD and a shared-string index past the table are
    messages, never a traceback (the IndexError of issue 12)."""
    path = write_workbook(tmp_path / "index.xlsx", [header_row(), '<row r="2"><c r="A2" '
                                                    't="s"><v>5</v></c></row>'])
    [error] = parse_file(path, "targets", "ZC-SCJGJ").errors
    assert "refers to shared string 5, but the table has 0" in error.reason
    path = write_workbook(tmp_path / "bad.xml", [header_row(), "<row><c><v>1</row>"])
    errors = list(_problems(path))
    assert "not well-formed XML" in errors[-1]
    bomb = write_workbook(tmp_path / "dtd.xlsx", [header_row()],
                          prolog='<!DOCTYPE worksheet [<!ENTITY a "aaaa">]>')
    assert "DTD" in list(_problems(bomb))[-1]
    broken = tmp_path / "nosheet.xlsx"
    with zipfile.ZipFile(broken, "w") as zf:
        zf.writestr("_rels/.rels", _RELS)
        zf.writestr("xl/workbook.xml", _BOOK)
    with pytest.raises(RegistryFileError, match="no worksheet"):
        list(read_xlsx(broken))
    assert Formula("A1") == Formula("A1")


def _problems(path: Path) -> list[str]:
    problems: list[RowError] = []
    for _ in _xlsx_rows(path, problems):
        pass
    return [p.reason for p in problems]


def test_rows_conflicting_with_the_log_named_by_row_and_column(log: tuple[Path, Parties],
                                                               tmp_path: Path) -> None:
    """Another department's USCCs: every such row is named by spreadsheet row and the
    USCC column (not `statement N rejected`, not only the first); nothing is written."""
    db, keys = log
    ledger = Ledger(str(db))
    try:
        first = rows(20, seed=3)
        import_file(ledger, keys.load("dept-ZC-SCJGJ"), "ZC-SCJGJ", "targets",
                    write_csv(tmp_path / "first.csv", first), background=False)
        size = ledger.refresh()
        theirs = rows(10, seed=4)
        for row in theirs:
            row[2] = "F"
        for at in (1, 4, 9):
            theirs[at][0] = first[at][0]
        path = tmp_path / "second.csv"
        with path.open("w", encoding="utf-8", newline="") as fh:
            csv.writer(fh).writerows([HEAD, *theirs])
        for background in (False, True):
            with pytest.raises(InputError) as info:
                import_file(ledger, keys.load("dept-ZC-WLJ"), "ZC-WLJ", "targets", path,
                            background=background)
            text = str(info.value)
            assert "3 row(s) conflict with the log" in text and "statement" not in text
            for row in (3, 6, 11):
                assert f"row {row} [统一社会信用代码]: conflicts with the log" in text
                assert f"第 {row} 行 [统一社会信用代码]: 与日志冲突" in text
            assert ledger.refresh() == size
    finally:
        ledger.close()
