"""Read a department's registry spreadsheet (.xlsx or .csv) into event bodies.

``parse_file(path, kind, dept)`` streams the rows of the file, normalises each cell, builds
one ``target.added`` or ``inspector.added`` body per row and checks it with the same rules
the verifier applies (:mod:`verifier._registry`). Every problem in the file is reported in
one pass, with its spreadsheet row number (the header is row 1) and Chinese column header;
nothing is written here (``Ledger.submit_import`` signs and writes the bodies).

Column layouts (the header row is row 1; column order is free)
---------------------------------------------------------------

``kind="targets"`` (检查对象名录), one ``target.added`` body per row:

==================  ============  ========  ==============================================
header              body field    required  cell
==================  ============  ========  ==============================================
统一社会信用代码    ``uscc``      yes       18 characters, GB 32100-2015; text, not number
名称                ``name``      yes       registered name
分库                ``registry``  yes       business line (``食品经营``), or the full
                                            ``<dept>/<line>``; the line alone gets
                                            ``<dept>/`` put in front
行业代码            ``industry``  yes       GB/T 4754-2017, e.g. ``F5251``
行政区划代码        ``region``    yes       6 digits, GB/T 2260
风险等级            ``risk``      yes       ``A``, ``B``, ``C`` or ``D``
登记状态            ``status``    yes       存续 在业 迁入 迁出 停业 清算 吊销 注销 撤销; the
                                            公示系统 long forms (``存续（在营、开业、在册）``,
                                            在营/开业/在册 -> 存续, ``吊销，未注销`` -> 吊销,
                                            ``吊销，已注销`` -> 注销) are accepted with a
                                            warning
监管单位            ``unit``      yes       supervising unit
注册号(可选)        ``reg_no``    no        legacy 15-digit 注册号; text, not number
==================  ============  ========  ==============================================

``kind="inspectors"`` (执法检查人员名录), one ``inspector.added`` body per row:

==========================================  ==================  ==========================
header                                      body field          cell
==========================================  ==================  ==========================
执法证号                                    ``cert_no``         e.g. ``370302190001``,
                                                                ``鲁C0301-0012``
姓名                                        ``name``            2-20 characters
单位                                        ``unit``            the inspector's unit
执法资质(以；或;分隔的事项编号)             ``qualifications``  matter ids separated by
                                                                ``；`` or ``;``; may be
                                                                empty
证件有效期起                                ``valid_from``      a date (see below)
证件有效期止                                ``valid_to``        a date, not before 起
是否专家(是/否)                             ``expert``          ``是`` or ``否``
==========================================  ==================  ==========================

All inspector columns are required (the 执法资质 cell may be empty). Every body also gets
``"dept": dept``.

Headers match after NFKC normalisation (full-width letters and brackets become ASCII),
with whitespace and ``*`` marks removed and a trailing parenthesised remark ignored:
``统一社会信用代码`` with spaces around it, ``*名称`` and ``注册号（可选）`` all match.
An unknown column is an error naming it (a column that holds personal data, such as
身份证号 or 联系电话, says so); all missing required columns are one error. With header
errors the rows are not read.

Cells: every text cell except names (名称, 姓名: NFC only, so （集团） keeps its full-width
brackets as registered) is NFKC-normalised (``Ａ１`` -> ``A1``) and stripped of surrounding
whitespace (and zero-width spaces). The USCC and 执法证号 are then upper-cased, with a
warning when that changed anything. A USCC or 注册号 that Excel turned into a number is an
error telling the user to format the column as text and re-export: a numeric xlsx cell,
text in scientific notation (``9.13703E+17``, ``9.13703E17``) or with a decimal point, or an
18-digit all-digit USCC ending in ``000`` whose check character fails (digits after the
15th lost). Dates: xlsx date cells, or text ``YYYY-MM-DD``, ``YYYY/M/D``, ``YYYY.M.D``,
``YYYY年M月D日`` or ``YYYYMMDD`` (an optional ``00:00:00`` time is ignored); a number in a
date column is an error. Entirely empty rows are skipped.

Files: ``.xlsx`` is read by :mod:`regfile._xlsx` (first sheet, openpyxl's read-only
values, a formula cell refused, every limit of docs/IMPORT.md checked as the bytes arrive);
``.csv`` (comma-separated) is decoded as UTF-8, with or without a BOM, when the
whole file is valid UTF-8, else as GB18030 (what a Chinese-locale Excel writes);
``ParsedImport.encoding`` says which (``utf-8-sig``, ``utf-8``, ``gb18030`` or ``xlsx``).
``file_sha256`` is the SHA-256 of the raw file bytes; the file is hashed again after
parsing and a change in between raises :class:`RegistryFileError`.

Within a file, a key (USCC or 执法证号) given twice is an error on the later row naming
the earlier one. ``ParsedImport.rows`` holds the bodies of the rows without errors, in file
order, and ``row_numbers`` their spreadsheet rows; a caller should refuse the import while
``errors`` is not empty. Memory: rows are streamed; only the bodies (with repeated values
shared) and the key index are kept. ``ParseInChild`` runs the same parse in a forked
child that streams the good rows back, so an import encodes them on another core.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import importlib
import re
import threading
import unicodedata
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from regfile._errors import RegistryFileError
from regfile._xlsx import MAX_CELL_CHARS, MAX_COLUMNS, MAX_ROWS, Formula, SheetProblem, read_xlsx
from verifier._registry import (
    EXCEL_NUMBER_EN,
    EXCEL_NUMBER_ZH,
    canonical_status,
    check_body,
    excel_mangled,
    is_personal_key,
)

__all__ = [
    "INSPECTOR_COLUMNS",
    "KINDS",
    "KIND_ALIASES",
    "TARGET_COLUMNS",
    "Column",
    "ParsedImport",
    "RowError",
    "conflict_errors",
    "format_errors",
    "parse_file",
    "statements",
]

MAX_ERRORS = 1_000  # problems a ParsedImport keeps (and an import prints); the rest are counted
MAX_CSV_LINE_CHARS = 1 << 20  # characters of one line of a CSV file


@dataclass(frozen=True)
class RowError:
    """One problem: spreadsheet row (header = 1; 0 for the file as a whole), the Chinese
    column header ("" when no single column), and why (English; ``reason_zh`` in Chinese)."""

    row: int
    column: str
    reason: str
    reason_zh: str = ""


@dataclass
class ParsedImport:
    """What a file holds: event bodies of its good rows and every problem found."""

    kind: str
    file_name: str
    file_sha256: str
    encoding: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)
    row_numbers: list[int] = field(default_factory=list)  # spreadsheet row of each body
    event_type: str = ""
    errors_omitted: int = 0  # rows with problems past the first MAX_ERRORS problems
    warnings_omitted: int = 0  # the same for warnings

    @property
    def ok(self) -> bool:
        return not self.errors

    def add_errors(self, errors: Sequence[RowError]) -> None:
        """Keep the first MAX_ERRORS problems; past them count the rows with problems: a
        file with a problem on each of a million rows must not take gigabytes to say so."""
        room = MAX_ERRORS - len(self.errors)
        if room >= len(errors):
            self.errors.extend(errors)
        else:
            self.errors.extend(errors[:max(room, 0)])
            self.errors_omitted += 1

    def add_warnings(self, warnings: Sequence[RowError]) -> None:
        """Keep the first MAX_ERRORS warnings and count the rest."""
        if not warnings:
            return
        room = MAX_ERRORS - len(self.warnings)
        self.warnings.extend(warnings[:max(room, 0)])
        self.warnings_omitted += max(len(warnings) - max(room, 0), 0)


@dataclass(frozen=True)
class Column:
    """One column of a layout: its header, the body field it fills, how its cells read."""

    header: str
    field: str
    required: bool
    kind: str  # uscc, reg_no, cert_no, text, code, registry, status, list, date, bool


TARGET_COLUMNS: tuple[Column, ...] = (
    Column("统一社会信用代码", "uscc", True, "uscc"),
    Column("名称", "name", True, "name"),
    Column("分库", "registry", True, "registry"),
    Column("行业代码", "industry", True, "code"),
    Column("行政区划代码", "region", True, "code"),
    Column("风险等级", "risk", True, "code"),
    Column("登记状态", "status", True, "status"),
    Column("监管单位", "unit", True, "text"),
    Column("注册号", "reg_no", False, "reg_no"),
)
INSPECTOR_COLUMNS: tuple[Column, ...] = (
    Column("执法证号", "cert_no", True, "cert_no"),
    Column("姓名", "name", True, "name"),
    Column("单位", "unit", True, "text"),
    Column("执法资质", "qualifications", True, "list"),
    Column("证件有效期起", "valid_from", True, "date"),
    Column("证件有效期止", "valid_to", True, "date"),
    Column("是否专家", "expert", True, "bool"),
)
# kind -> (event type, layout, key field)
KINDS: dict[str, tuple[str, tuple[Column, ...], str]] = {
    "targets": ("target.added", TARGET_COLUMNS, "uscc"),
    "inspectors": ("inspector.added", INSPECTOR_COLUMNS, "cert_no"),
}
KIND_ALIASES = {"target": "targets", "inspector": "inspectors"}


def statements(kind: str, rows: Iterable[dict[str, Any]]
               ) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(type, stream, body) of each row's statement: ``target.added`` on ``target/<uscc>``
    or ``inspector.added`` on ``inspector/<cert_no>`` (SPEC.md 6.1), for the log's import
    and the client's signed batch alike."""
    type_, _, key = KINDS[KIND_ALIASES.get(kind, kind)]
    prefix = type_.split(".")[0]
    for body in rows:
        yield type_, f"{prefix}/{body[key]}", body

_EDGE = " \t\r\n\u3000\u200b\ufeff"
_DEPT_RE = re.compile(r"\A[^\s/]{1,64}\Z")
_REMARK_RE = re.compile(r"\([^()]*\)\Z")
_DATE_RES = (
    re.compile(r"\A([0-9]{4})[-/.]([0-9]{1,2})[-/.]([0-9]{1,2})(?:[ T]0{1,2}:00(?::00)?)?\Z"),
    re.compile(r"\A([0-9]{4})年([0-9]{1,2})月([0-9]{1,2})日\Z"),
    re.compile(r"\A([0-9]{4})([0-9]{2})([0-9]{2})\Z"),
)
_SHARED_KINDS = frozenset({"code", "registry", "status", "list", "date", "text"})
_MEMO_KINDS = frozenset({"code", "registry", "status", "text"})  # read by _plain alone
_MEMO_SIZE = 4096  # distinct texts remembered per column; the rest are read each time
_MISSING_EN = "missing required field"
_CHUNK = 1 << 20


class _Skip:
    """Marker: the cell gave no value (empty, or an error already reported)."""


_SKIP = _Skip()


class _Row:
    """Problems found in one row, before they are turned into RowErrors."""

    __slots__ = ("errors", "failed", "number", "warnings")

    def __init__(self, number: int) -> None:
        self.number = number
        self.errors: list[RowError] = []
        self.warnings: list[RowError] = []
        self.failed: set[str] = set()  # fields whose cell could not be read

    def err(self, column: Column, en: str, zh: str) -> None:
        self.errors.append(RowError(self.number, column.header, en, zh))
        self.failed.add(column.field)

    def warn(self, column: Column, en: str, zh: str) -> None:
        self.warnings.append(RowError(self.number, column.header, en, zh))


# ---------------------------------------------------------------------------- cells


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip(_EDGE)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number_text(value: int | float) -> str | None:
    """The digits of an integral number (``370302.0`` -> ``"370302"``), else None."""
    if isinstance(value, float):
        if not value.is_integer():
            return None
        value = int(value)
    return str(value)


def _name(row: _Row, column: Column, value: object) -> str | _Skip:
    """A name as registered: NFC only, so full-width brackets （集团） stay as the 公示系统
    writes them (NFKC would turn them into ASCII and the name would no longer match)."""
    if isinstance(value, str):
        text = unicodedata.normalize("NFC", value).strip(_EDGE)
        return text if text else _SKIP
    return _plain(row, column, value)


def _plain(row: _Row, column: Column, value: object) -> str | _Skip:
    """A cell as normalised text; numbers become their digits; dates are refused."""
    if value is None:
        return _SKIP
    if isinstance(value, str):
        text = _norm(value)
        return text if text else _SKIP
    if _is_number(value):
        assert isinstance(value, int | float)
        digits = _number_text(value)
        return digits if digits is not None else str(value)
    if isinstance(value, bool):
        return "是" if value else "否"
    row.err(column, f"expected text, found a {type(value).__name__} cell",
            f"应为文本，实为 {type(value).__name__} 单元格")
    return _SKIP


def _code_cell(row: _Row, column: Column, value: object) -> str | _Skip:
    """USCC and 注册号: refuse what Excel made a number; the USCC is upper-cased."""
    text: str | _Skip
    if isinstance(value, str):
        text = _norm(value)  # normalised once: what both tests below read
        if not text:
            return _SKIP
        if excel_mangled(text):
            row.err(column, EXCEL_NUMBER_EN, EXCEL_NUMBER_ZH)
            return _SKIP
    elif _is_number(value):
        row.err(column, EXCEL_NUMBER_EN, EXCEL_NUMBER_ZH)
        return _SKIP
    else:
        text = _plain(row, column, value)
    if isinstance(text, str) and column.kind == "uscc" and text != text.upper():
        row.warn(column, "lower-case letters converted to upper case", "小写字母已转换为大写")
        text = text.upper()
    return text


def _cert_cell(row: _Row, column: Column, value: object) -> str | _Skip:
    if _is_number(value):
        assert isinstance(value, int | float)
        digits = _number_text(value)
        if digits is None or len(digits) > 15:
            row.err(column, EXCEL_NUMBER_EN, EXCEL_NUMBER_ZH)
            return _SKIP
        row.warn(column, "stored as a number: leading zeros may have been lost; format the "
                 "column as text", "以数字形式存储，开头的 0 可能已丢失；请将该列设为文本格式")
        return digits
    text = _plain(row, column, value)
    if isinstance(text, str) and text != text.upper():
        row.warn(column, "lower-case letters converted to upper case", "小写字母已转换为大写")
        text = text.upper()
    return text


def _date_cell(row: _Row, column: Column, value: object) -> str | _Skip:
    if isinstance(value, datetime):
        if value.time() != time(0):
            row.warn(column, "the time of day was dropped", "已忽略时间部分")
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if _is_number(value):
        row.err(column, "a number, not a date: format the cell as a date or write YYYY-MM-DD",
                "是数字而非日期：请把单元格设为日期格式或填写 YYYY-MM-DD")
        return _SKIP
    text = _plain(row, column, value)
    if isinstance(text, _Skip):
        return text
    for pattern in _DATE_RES:
        m = pattern.match(text)
        if m:
            try:
                return date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
            except ValueError:
                break
    row.err(column, f"{text!r} is not a date (use YYYY-MM-DD)",
            f"{text!r} 不是有效日期（请填写 YYYY-MM-DD）")
    return _SKIP


def _bool_cell(row: _Row, column: Column, value: object) -> bool | _Skip:
    if isinstance(value, bool):
        return value
    text = _plain(row, column, value)
    if isinstance(text, _Skip):
        return text
    if text in ("是", "否"):
        return text == "是"
    row.err(column, f"{text!r} must be 是 or 否", f"{text!r} 应填“是”或“否”")
    return _SKIP


def _list_cell(row: _Row, column: Column, value: object) -> list[str] | _Skip:
    text = _plain(row, column, value)
    if isinstance(text, _Skip):
        return [] if value is None or isinstance(value, str) else text
    return [part for part in (p.strip(_EDGE) for p in text.split(";")) if part]


# ---------------------------------------------------------------------------- files


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _scan_csv(path: Path) -> tuple[str, str]:
    """(sha256, encoding): one streaming pass hashes and checks strict UTF-8."""
    h = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    utf8, head = True, b""
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            if len(head) < 3:
                head += chunk[:3]
            if utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    if not utf8:
        return h.hexdigest(), "gb18030"
    return h.hexdigest(), "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"


def _csv_lines(f: Any, record: Callable[[], int]) -> Iterator[str]:
    """The file's lines, none longer than MAX_CSV_LINE_CHARS (a file without line breaks
    would otherwise be read whole into one string)."""
    while line := f.readline(MAX_CSV_LINE_CHARS + 1):
        if len(line) > MAX_CSV_LINE_CHARS:
            raise SheetProblem(record() + 1, "", f"a line longer than {MAX_CSV_LINE_CHARS:,} "
                               "characters, the limit", f"有一行超过 {MAX_CSV_LINE_CHARS:,} "
                               "个字符的上限")
        yield line


def _csv_record(number: int, record: list[str]) -> None:
    """The limits a record must keep: rows, columns, characters of a cell (as .xlsx)."""
    if number > MAX_ROWS:
        raise SheetProblem(number, "", f"the file has more than {MAX_ROWS:,} rows, the "
                           "limit: split the file", f"文件超过 {MAX_ROWS:,} 行的上限：请拆分文件")
    if len(record) > MAX_COLUMNS:
        raise SheetProblem(number, "", f"more than {MAX_COLUMNS} columns, the limit "
                           f"({len(record):,} columns)",
                           f"超过 {MAX_COLUMNS} 列的上限（共 {len(record):,} 列）")
    for index, cell in enumerate(record):
        if len(cell) > MAX_CELL_CHARS:
            raise SheetProblem(number, _column_letter(index), f"the cell holds more than "
                               f"{MAX_CELL_CHARS:,} characters, the limit",
                               f"单元格超过 {MAX_CELL_CHARS:,} 个字符的上限")


def _problem(exc: SheetProblem) -> RowError:
    return RowError(exc.row, exc.column, exc.en, exc.zh)


def _csv_rows(path: Path, encoding: str,
              problems: list[RowError]) -> Generator[Sequence[object], None, None]:
    number = 0
    with path.open("r", encoding=encoding, errors="strict", newline="") as f:
        reader = csv.reader(_csv_lines(f, lambda: number))
        try:
            for record in reader:
                number += 1
                _csv_record(number, record)
                yield record
        except SheetProblem as exc:
            problems.append(_problem(exc))
        except UnicodeDecodeError:
            problems.append(RowError(number + 1, "", "the file is neither UTF-8 nor GB18030 "
                                     "text; save it as CSV UTF-8 or .xlsx",
                                     "文件既不是 UTF-8 也不是 GB18030 编码；"
                                     "请另存为 CSV UTF-8 或 .xlsx"))
        except csv.Error as exc:
            problems.append(RowError(number + 1, "", f"not a readable CSV record ({exc})",
                                     f"无法解析的 CSV 记录（{exc}）"))


XlsxRows = Callable[[Path, list[RowError]], Generator[Sequence[object], None, None]]


_LOAD_LOCK = threading.Lock()


def load_read_only(path: Path) -> Any:
    """``openpyxl.load_workbook(path, read_only=True, data_only=True)`` without its scan
    for each sheet's used range.

    For a sheet that has no ``<dimension>`` element (openpyxl's own write-only mode and
    other streaming writers leave it out) that scan parses the whole sheet once more
    before a single row is read: a third of the read time of such a file. The importer
    resets the dimensions and reads every row anyway (``_xlsx_rows``), so it skips the
    scan; the sheets' size is then unknown, as after ``reset_dimensions``. Where
    openpyxl's internals differ from those this expects, the workbook loads as usual.
    """
    openpyxl: Any = importlib.import_module("openpyxl")
    try:
        sheet_class: Any = importlib.import_module(
            "openpyxl.worksheet._read_only").ReadOnlyWorksheet
        if not callable(sheet_class.__dict__.get("_get_size")):
            raise AttributeError("_get_size")
    except (ImportError, AttributeError):
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    with _LOAD_LOCK:
        get_size = sheet_class.__dict__["_get_size"]
        sheet_class._get_size = lambda self: None
        try:
            return openpyxl.load_workbook(path, read_only=True, data_only=True)
        finally:
            sheet_class._get_size = get_size


def fast_inline_strings() -> bool:
    """Have openpyxl read a plain inline string cell (``<is><t>text</t></is>``, as
    streaming writers such as Apache POI's SXSSF and openpyxl's write-only mode write
    every text cell) without building its rich-text object model: the text is the same,
    and reading such a file takes half the time. Any other inline string (rich text runs,
    phonetic guides, attributes) still goes through openpyxl's ``Text``.

    For the reading child of an import only (``ParseInChild(..., cells=True)``): it
    changes openpyxl in the process that calls it, for good. False where openpyxl's
    internals differ from those this expects (nothing is changed then).
    """
    try:
        reader: Any = importlib.import_module("openpyxl.worksheet._reader")
        text_class: Any = importlib.import_module("openpyxl.cell.text").Text
        namespace = importlib.import_module("openpyxl.xml.constants").SHEET_MAIN_NS
    except (ImportError, AttributeError):
        return False
    if reader.__dict__.get("Text") is not text_class:
        return reader.__dict__.get("Text") is _InlineText
    _InlineText.plain_tag, _InlineText.full = f"{{{namespace}}}t", text_class
    reader.Text = _InlineText
    return True


class _InlineText:
    """What openpyxl's worksheet reader needs of ``Text``: ``from_tree(node).content``."""

    __slots__ = ("content",)
    plain_tag = ""
    full: Any = None

    def __init__(self, content: str) -> None:
        self.content = content

    @classmethod
    def from_tree(cls, node: Any) -> Any:
        if not node.attrib and len(node) == 1 and node[0].tag == cls.plain_tag:
            return cls(node[0].text or "")  # Text(t=None).content is "" too
        return cls.full.from_tree(node)


def _xlsx_rows(path: Path,
               problems: list[RowError]) -> Generator[Sequence[object], None, None]:
    """The first sheet's rows (``regfile._xlsx``: bounded, every row read, the stored used
    range not trusted); a broken limit or a malformed part ends them as a problem."""
    try:
        yield from read_xlsx(path)
    except SheetProblem as exc:
        problems.append(_problem(exc))


# ---------------------------------------------------------------------------- headers


def _header_key(text: str) -> str:
    """NFKC, no whitespace or ``*``, trailing ``(remark)`` dropped."""
    key = re.sub(r"[\s*]+", "", _norm(text))
    return _REMARK_RE.sub("", key) or key


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _read_header(cells: Sequence[object], layout: tuple[Column, ...],
                 errors: list[RowError]) -> dict[int, Column] | None:
    """Map cell index -> Column; None (after errors) when the header is unusable."""
    by_key = {c.header: c for c in layout}
    mapping: dict[int, Column] = {}
    seen: dict[str, int] = {}
    ok = True
    for index, cell in enumerate(cells):
        if cell is None or (isinstance(cell, str) and not _norm(cell)):
            continue
        shown = _norm(str(cell))
        column = by_key.get(_header_key(shown))
        if column is None:
            ok = False
            if is_personal_key(shown):
                errors.append(RowError(1, shown, "personal data not allowed in the log: "
                                       "remove this column", "日志中不得记录个人信息：请删除此列"))
            else:
                expected = "、".join(c.header for c in layout)
                errors.append(RowError(1, shown, f"unknown column; the columns are: {expected}",
                                       f"未知的列；应有的列为：{expected}"))
        elif column.header in seen:
            ok = False
            first = _column_letter(seen[column.header])
            errors.append(RowError(1, column.header,
                                   f"column given twice (columns {first} and "
                                   f"{_column_letter(index)})",
                                   f"列重复（第 {first} 列和第 {_column_letter(index)} 列）"))
        else:
            seen[column.header] = index
            mapping[index] = column
    missing = [c.header for c in layout if c.required and c.header not in seen]
    if missing:
        ok = False
        errors.append(RowError(1, "、".join(missing),
                               f"missing required columns: {', '.join(missing)}",
                               f"缺少必需的列：{'、'.join(missing)}"))
    return mapping if ok else None


# ---------------------------------------------------------------------------- parse

_Reader = Callable[[_Row, Column, object], object]
_READERS: dict[str, _Reader] = {
    "uscc": _code_cell,
    "reg_no": _code_cell,
    "cert_no": _cert_cell,
    "text": _plain,
    "name": _name,
    "code": _plain,
    "registry": _plain,
    "status": _plain,
    "list": _list_cell,
    "date": _date_cell,
    "bool": _bool_cell,
}


# What NFKC turns into = + - or @ (full-width and small forms, super- and subscripts),
# and what is stripped before it (with str.isspace): first characters worth a closer look.
_FORMULA_FIRST = frozenset("=+-@\u207a\u207c\u208a\u208c\u2a75\u2a76\ufb29\ufe62\ufe63\ufe66"
                           "\ufe6b\uff0b\uff0d\uff1d\uff20" + _EDGE)
_PLAIN_NUMBER = re.compile(r"\A[+-][0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\Z")


def _injection(text: str) -> bool:
    """A spreadsheet would evaluate this text as a formula: normalised (NFKC, surrounding
    whitespace stripped) it has two characters or more, starts with = + - or @ and is not
    a plain number such as -5 or +3.2 (docs/IMPORT.md, "Formulas")."""
    text = _norm(text)
    return len(text) >= 2 and text[0] in "=+-@" and _PLAIN_NUMBER.match(text) is None


def _is_blank_cell(cell: object) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip(_EDGE))


def _is_blank(cells: Sequence[object]) -> bool:
    if type(cells) is list:  # a CSV record: text only, blank if its join is
        try:
            return not "".join(cells).strip(_EDGE)
        except TypeError:
            pass
    return all(_is_blank_cell(c) for c in cells)


class _Parser:
    """Turns rows into bodies and problems; keeps only bodies and the key index."""

    def __init__(self, result: ParsedImport, layout: tuple[Column, ...], key: str,
                 dept: str) -> None:
        self.result = result
        self.layout = layout
        self.key = key
        self.dept = dept
        self.by_field = {c.field: c for c in layout}
        self.keys: dict[str, int] = {}
        self.shared: dict[str, str] = {}
        # Text cells of these kinds read to a value (and warnings) that depend on the text
        # alone, and a registry repeats a few hundred distinct ones: each is read once.
        self.memo: dict[str, dict[str, tuple[object, tuple[tuple[str, str], ...]]]] = {
            c.field: {} for c in layout if c.kind in _MEMO_KINDS}
        # Per header mapping: each position up to the last mapped one, with its column
        # (None: no header there), field, memo and reader.
        self._plan_for: dict[int, Column] | None = None
        self._plan: list[tuple[int, Column | None, str, Any, _Reader]] = []

    def share(self, text: str) -> str:
        return self.shared.setdefault(text, text)

    def row(self, number: int, cells: Sequence[object], mapping: dict[int, Column]) -> None:
        row = _Row(number)
        body: dict[str, Any] = {}
        if mapping is not self._plan_for:
            self._plan_for, self._plan = mapping, []
            for i in range(max(mapping, default=-1) + 1):
                c = mapping.get(i)
                self._plan.append((i, c, c.field, self.memo.get(c.field), _READERS[c.kind])
                                  if c is not None else (i, None, "", None, _plain))
        self._cells(row, cells, body)
        body["dept"] = self.dept
        if row.errors and len(self.result.errors) >= MAX_ERRORS:
            self.result.errors_omitted += 1  # past the cap a bad row is counted, not checked on
            return
        errors, warnings = check_body(self.result.event_type, body)
        full = len(self.result.errors) >= MAX_ERRORS
        counted = 0
        for p in errors:
            name = p.field.split("[", 1)[0].split(".", 1)[0]
            if name in row.failed:
                continue
            if full:
                counted = 1
                break
            column = self.by_field.get(name)
            header = column.header if column else ""
            if p.en == _MISSING_EN:
                row.errors.append(RowError(number, header, "required value is empty",
                                           "必填项为空"))
            else:
                row.errors.append(RowError(number, header, p.en, p.zh))
        for p in warnings:
            column = self.by_field.get(p.field.split("[", 1)[0])
            row.warnings.append(RowError(number, column.header if column else "", p.en, p.zh))
        key = body.get(self.key)
        if isinstance(key, str):
            first = self.keys.setdefault(key, number)
            if first != number:
                header = self.by_field[self.key].header
                row.errors.append(RowError(number, header, f"duplicate of row {first} ({key})",
                                           f"与第 {first} 行重复（{key}）"))
        self.result.add_warnings(row.warnings)
        if counted:
            self.result.errors_omitted += 1
        elif row.errors:
            self.result.add_errors(row.errors)
        else:
            self.result.rows.append(body)
            self.result.row_numbers.append(number)

    def _cells(self, row: _Row, cells: Sequence[object], body: dict[str, Any]) -> None:
        """A row's cells into ``body``, in cell order: a value under no header is an
        error where it stands."""
        n = len(cells)
        for index, column, name, memo, reader in self._plan:
            if index >= n:
                return
            cell = cells[index]
            if column is None:
                if not _is_blank_cell(cell):
                    self._no_header(row, index)
                continue
            if type(cell) is str:
                if cell and (cell[0] in _FORMULA_FIRST or cell[0].isspace()) \
                        and _injection(cell):
                    row.err(column, f"formula injection: {cell[:40]!r} would run as a formula "
                            "in a spreadsheet; text may not start with = + - or @",
                            f"公式注入：{cell[:40]!r} 在电子表格中会被当作公式执行；"
                            "文本不得以 = + - @ 开头")
                    continue
            elif type(cell) is Formula:
                row.err(column, "is a formula, not a value: paste the cells as values and "
                        "re-export", "是公式，不是数值：请将单元格“粘贴为数值”后重新导出")
                continue
            if memo is not None and type(cell) is str:
                hit = memo.get(cell)
                if hit is None:
                    hit = self._read_text(column, cell)
                    if len(memo) < _MEMO_SIZE:
                        memo[cell] = hit
                value, notes = hit
                for en, zh in notes:
                    row.warn(column, en, zh)
            else:
                value = reader(row, column, cell)
                if value is _SKIP:
                    continue
                value = self.finish(row, column, value)
            if value is not _SKIP:
                body[name] = value
        for index in range(len(self._plan), n):
            if not _is_blank_cell(cells[index]):
                self._no_header(row, index)

    @staticmethod
    def _no_header(row: _Row, index: int) -> None:
        letter = _column_letter(index)
        row.errors.append(RowError(row.number, letter, f"a value in column {letter}, which "
                                   "has no header", f"第 {letter} 列没有表头却有内容"))

    def _read_text(self, column: Column, text: str
                   ) -> tuple[object, tuple[tuple[str, str], ...]]:
        """A text cell of a memoised kind read as ``row`` does: its value (or _SKIP) and
        its warnings (``_plain`` reports no error on text; ``tests/test_import.py`` checks
        that a memoised read equals a fresh one)."""
        scratch = _Row(0)
        value = _READERS[column.kind](scratch, column, text)
        if not isinstance(value, _Skip):
            value = self.finish(scratch, column, value)
        return value, tuple((w.reason, w.reason_zh) for w in scratch.warnings)

    def finish(self, row: _Row, column: Column, value: object) -> object:
        """Column-specific completion: registry prefix, status words, shared strings."""
        if isinstance(value, str):
            if column.kind == "registry" and "/" not in value:
                value = f"{self.dept}/{value}"
            elif column.kind == "status":
                word = canonical_status(value)
                if word is not None and word != value:
                    row.warn(column, f"{value!r} recorded as {word!r}", f"{value!r} 记为 {word!r}")
                    value = word
            if column.kind in _SHARED_KINDS:
                value = self.share(value)
        elif isinstance(value, list):
            value = [self.share(v) for v in value]
        return value


def parse_file(path: Path, kind: str, dept: str,
               sink: Callable[[list[dict[str, Any]], list[int]], None] | None = None,
               xlsx_rows: XlsxRows | None = None) -> ParsedImport:
    """Parse a targets or inspectors file for department ``dept``; see the module doc.

    Raises :class:`RegistryFileError` for an unknown ``kind``, a malformed ``dept``, a file type
    other than .xlsx/.csv, an unreadable workbook, or a file that changed while read.
    Everything else wrong with the file is in ``errors``. With ``sink``, the good rows go
    to it in file order, ``_CHUNK`` at a time with their row numbers, instead of into
    ``rows`` (which is then empty). ``xlsx_rows`` reads a workbook's cells in place of
    openpyxl here (``ParseInChild.xlsx_rows``: openpyxl in another process).
    """
    stream = ParseStream(path, kind, dept, xlsx_rows)
    rows: list[dict[str, Any]] = []
    for bodies, numbers in stream.chunks():
        if sink is not None:
            sink(bodies, numbers)
        else:
            rows.extend(bodies)
    result = stream.parsed()
    if sink is not None:
        result.row_numbers = []
    result.rows = rows
    return result


class ParseStream:
    """``parse_file`` as a stream: ``rows()`` (or ``chunks()``) yields the good bodies as
    they are parsed, then ``parsed()`` is the ParsedImport (``rows`` empty,
    ``row_numbers`` of every body)."""

    def __init__(self, path: Path, kind: str, dept: str,
                 xlsx_rows: XlsxRows | None = None) -> None:
        self._chunks = _parse(path, kind, dept, xlsx_rows)
        self._numbers: list[int] = []
        self.result: ParsedImport | None = None

    def chunks(self) -> Iterator[tuple[list[dict[str, Any]], list[int]]]:
        """The good bodies with their row numbers, ``_CHUNK`` at a time."""
        while True:
            try:
                bodies, numbers = next(self._chunks)
            except StopIteration as stop:
                self.result = stop.value
                self.result.row_numbers = self._numbers
                return
            self._numbers.extend(numbers)
            yield bodies, numbers

    def rows(self) -> Iterator[dict[str, Any]]:
        for bodies, _ in self.chunks():
            yield from bodies

    def parsed(self) -> ParsedImport:
        """The ParsedImport, reading whatever ``rows()`` has not read yet."""
        if self.result is None:
            for _ in self.chunks():
                pass
        if self.result is None:
            raise RuntimeError("the parse stream was left unfinished")
        return self.result


def _parse(path: Path, kind: str, dept: str, xlsx_rows: XlsxRows | None
           ) -> Generator[tuple[list[dict[str, Any]], list[int]], None, ParsedImport]:
    """The good bodies, ``_CHUNK`` at a time with their row numbers; returns the rest of
    the ParsedImport (``rows`` and ``row_numbers`` empty)."""
    path = Path(path)
    kind = KIND_ALIASES.get(kind, kind)
    if kind not in KINDS:
        raise RegistryFileError(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
    if not isinstance(dept, str) or not _DEPT_RE.match(dept):
        raise RegistryFileError(f"dept: {dept!r} is not a department code")
    event_type, layout, key = KINDS[kind]
    suffix = path.suffix.lower()
    problems: list[RowError] = []
    rows: Generator[Sequence[object], None, None]
    if suffix == ".csv":
        digest, encoding = _scan_csv(path)
        rows = _csv_rows(path, encoding, problems)
    elif suffix == ".xlsx":
        digest, encoding = _sha256(path), "xlsx"
        rows = (xlsx_rows or _xlsx_rows)(path, problems)
    else:
        raise RegistryFileError(f"{path.name}: only .xlsx and .csv files can be imported "
                         "(save .xls or .et files as .xlsx)")
    result = ParsedImport(kind, path.name, digest, encoding, event_type=event_type)
    parser = _Parser(result, layout, key, dept)
    mapping: dict[int, Column] | None = None
    number = 0
    try:
        for number, cells in enumerate(rows, start=1):
            if number == 1:
                if _is_blank(cells):
                    result.errors.append(RowError(1, "", "row 1 must hold the column headers",
                                                  "第 1 行必须是表头"))
                    break
                mapping = _read_header(cells, layout, result.errors)
                if mapping is None:
                    break
            elif mapping is not None and not _is_blank(cells):
                parser.row(number, cells, mapping)
                if len(result.rows) >= _CHUNK:
                    yield result.rows, result.row_numbers
                    result.rows, result.row_numbers = [], []
    finally:
        rows.close()  # a generator stopped early still closes its file
    if result.rows:
        yield result.rows, result.row_numbers
        result.rows, result.row_numbers = [], []
    if number == 0 and not problems:
        result.errors.append(RowError(0, "", "the file is empty", "文件为空"))
    if result.warnings_omitted:  # said where the warnings are printed, after them
        result.warnings.append(RowError(
            0, "", f"{result.warnings_omitted:,} more warning(s) not listed (only the first "
            f"{MAX_ERRORS:,} are)", f"另有 {result.warnings_omitted:,} 条警告未列出（只列出前 "
            f"{MAX_ERRORS:,} 条）"))
    result.errors.extend(problems)  # a reader stops at its first: kept past the cap
    if _sha256(path) != digest:
        raise RegistryFileError(f"{path.name}: the file changed while it was being read")
    return result


def format_errors(errors: Iterable[RowError], omitted: int = 0) -> str:
    """One line per problem, Chinese then English, then the count of those ``omitted``::

        第 12 行 [统一社会信用代码]: 校验位错误 / row 12 [统一社会信用代码]: wrong check character
    """
    lines = []
    for e in errors:
        zh = e.reason_zh or e.reason
        if e.row == 0:
            lines.append(f"文件: {zh} / file: {e.reason}")
        elif e.column:
            lines.append(f"第 {e.row} 行 [{e.column}]: {zh} / row {e.row} [{e.column}]: {e.reason}")
        else:
            lines.append(f"第 {e.row} 行: {zh} / row {e.row}: {e.reason}")
    if omitted:
        lines.append(f"另有 {omitted:,} 行有问题，未列出（只列出前 {MAX_ERRORS:,} 个问题） / "
                     f"problems on {omitted:,} more row(s) not listed (only the first "
                     f"{MAX_ERRORS:,} problems are)")
    return "\n".join(lines)


# The column a rule refused at import is about: the key's, unless the body rules name one.
_KEY_RULES = frozenset({"AUTH.lifecycle", "AUTH.owner", "AUTH.stream", "V1.replay"})


def conflict_errors(kind: str, row_numbers: Sequence[int],
                    refused: Sequence[tuple[int, Sequence[Any]]]) -> list[RowError]:
    """Rows the log's rules refused (``refused``: member index in file order and its
    findings), one RowError each by spreadsheet row and column, like the file's own
    problems: a USCC that another department registered is row 12 [统一社会信用代码]."""
    kind = KIND_ALIASES.get(kind, kind)
    _, layout, key = KINDS[kind]
    by_field = {c.field: c.header for c in layout}
    out = []
    for index, findings in refused:
        row = row_numbers[index] if 0 <= index < len(row_numbers) else 0
        column = ""
        for f in findings:
            if f.rule == "AUTH.body":
                name = str(f.en).removeprefix("invalid body: ").split(":", 1)[0]
                column = column or by_field.get(name.split("[", 1)[0].split(".", 1)[0], "")
            elif f.rule in _KEY_RULES:
                column = column or by_field[key]
        out.append(RowError(row, column,
                            "conflicts with the log: " + "; ".join(
                                f"{f.en} ({f.rule})" for f in findings),
                            "与日志冲突：" + "；".join(f"{f.zh}（{f.rule}）" for f in findings)))
    return out
