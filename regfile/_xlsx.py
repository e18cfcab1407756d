"""A bounded reader for the first worksheet of an .xlsx workbook (docs/IMPORT.md, "Limits").

openpyxl builds each row's element tree before its code sees a cell, keeps every row
element of the sheet, and loads the shared-string table whole: a 10 MB workbook can then
take gigabytes, and a string table that does not fit ends in an IndexError. This reader
streams the parts it needs through expat and checks every limit as the bytes arrive, so
memory stays bounded by the limits whatever the file claims: the decompressed size of a
part (from its header, and counted while reading, since headers can lie), the zip bomb
ratio, the shared strings (count and length), and the rows, columns and characters of
a cell. It gives the cell values openpyxl's read-only, ``data_only`` mode gives
(``tests/test_import_limits.py`` compares them), except that a formula cell is a
:class:`Formula`, which the importer refuses.
"""

from __future__ import annotations

import functools
import importlib
import lzma
import posixpath
import re
import struct
import zipfile
import zlib
from collections.abc import Generator, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from xml.etree import ElementTree
from xml.parsers import expat

from regfile._errors import RegistryFileError

__all__ = ["MAX_CELL_CHARS", "MAX_COLUMNS", "MAX_MEMBERS", "MAX_OTHER_PART_BYTES", "MAX_RATIO",
           "MAX_ROWS", "MAX_SHARED_STRINGS", "MAX_SHARED_STRINGS_BYTES", "MAX_SHEET_BYTES",
           "Formula", "SheetProblem", "read_xlsx"]

# The limits (docs/IMPORT.md lists them with their reasons).
MAX_ROWS = 1_048_576  # rows of a sheet or CSV file, the header included: Excel's own limit
MAX_COLUMNS = 256  # cells of a row, counted to its last cell, blank or not
MAX_CELL_CHARS = 32_767  # characters of one cell or shared string: Excel's own limit
MAX_MEMBERS = 10_000  # members of the zip archive
MAX_SHEET_BYTES = 1 << 30  # decompressed worksheet part
MAX_SHARED_STRINGS_BYTES = 256 << 20  # decompressed shared-string table
MAX_SHARED_STRINGS = 4 * MAX_ROWS  # entries of the shared-string table
MAX_OTHER_PART_BYTES = 32 << 20  # any other part read: relationships, workbook, styles
MAX_RATIO = 200  # decompressed / compressed size of a part, once past RATIO_GRACE bytes
RATIO_GRACE = 1 << 20

_READ = 1 << 16
_MiB = 1 << 20


class SheetProblem(RegistryFileError):
    """The workbook breaks a limit or is malformed at a place: ``row`` (0: the file or a
    part as a whole), ``column`` (a letter, or ""), and why in both languages."""

    def __init__(self, row: int, column: str, en: str, zh: str) -> None:
        self.row, self.column, self.en, self.zh = row, column, en, zh
        super().__init__(f"{zh} / {en}")


class Formula:
    """A formula cell: the importer takes values, not formulas (the cached result may be
    stale, and a formula in the log is a formula in every later export)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __reduce__(self) -> tuple[type[Formula], tuple[str]]:
        return Formula, (self.text,)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Formula) and other.text == self.text

    def __hash__(self) -> int:
        return hash(("Formula", self.text))


@functools.cache
def _openpyxl() -> tuple[Any, Any]:
    """openpyxl's number formats and date conversions (loaded when a workbook is read)."""
    return (importlib.import_module("openpyxl.styles.numbers"),
            importlib.import_module("openpyxl.utils.datetime"))


def _mib(n: int) -> str:
    return f"{n // _MiB:,} MiB"


class _Part:
    """A zip member read with its decompressed bytes counted against ``limit`` and the
    zip bomb ratio, whatever its header said."""

    def __init__(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int,
                 what_en: str, what_zh: str) -> None:
        self.info, self.limit = info, limit
        self.what_en, self.what_zh = what_en, what_zh
        self.count = 0
        self._check(info.file_size)
        self.stream: IO[bytes] = archive.open(info)

    def _check(self, size: int) -> None:
        name = self.info.filename
        if size > self.limit:
            raise SheetProblem(0, "", f"part {name} ({self.what_en}) decompresses to more than "
                               f"{_mib(self.limit)}, the limit for it",
                               f"部件 {name}（{self.what_zh}）解压后超过 {_mib(self.limit)} 的上限")
        if size > RATIO_GRACE and size > MAX_RATIO * max(self.info.compress_size, 1):
            raise SheetProblem(0, "", f"part {name} decompresses to more than {MAX_RATIO} times "
                               "its compressed size (a zip bomb?), the limit",
                               f"部件 {name} 解压后超过压缩大小的 {MAX_RATIO} 倍（疑似压缩炸弹），"
                               "超出上限")

    def read(self, n: int = _READ) -> bytes:
        data = self.stream.read(n)
        self.count += len(data)
        self._check(self.count)
        return data

    def read_all(self) -> bytes:
        chunks = []
        while data := self.read():
            chunks.append(data)
        return b"".join(chunks)

    def close(self) -> None:
        self.stream.close()


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _small_xml(part: _Part) -> ElementTree.Element:
    """A small part (at most MAX_OTHER_PART_BYTES) as a tree; OOXML has no DTDs, so one is
    refused rather than expanded."""
    data = part.read_all()
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise _malformed(part.info.filename, "a DTD, which OOXML never has", "含有 DTD")
    try:
        return ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise _malformed(part.info.filename, f"not well-formed XML ({exc})",
                         f"不是格式正确的 XML（{exc}）") from None


def _malformed(name: str, en: str, zh: str) -> SheetProblem:
    return SheetProblem(0, "", f"part {name} of the workbook is {en}",
                        f"工作簿的部件 {name} 有误：{zh}")


def _column_index(letters: str) -> int:
    index = 0
    for ch in letters:
        index = index * 26 + ord(ch) - 64
    return index


_CELL_REF = re.compile(r"\A([A-Z]{1,3})([0-9]{1,15})\Z")


def column_letter(index: int) -> str:
    """1 -> A, 27 -> AA."""
    letters = ""
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


class _Workbook:
    """What the reader needs of a workbook besides the sheet: where the first worksheet
    and the shared strings are, which styles are dates, the date epoch."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive
        names = set(archive.namelist())
        self.names = names
        book = "xl/workbook.xml"
        if "_rels/.rels" in names:
            for rel in self._tree("_rels/.rels", "the package relationships", "包关系"):
                if rel.get("Type", "").endswith("/officeDocument"):
                    book = self._resolve("", rel.get("Target", ""))
                    break
        if book not in names:
            raise SheetProblem(0, "", "the file has no workbook part: not an .xlsx workbook",
                               "文件中没有工作簿部件：不是 .xlsx 工作簿")
        folder = posixpath.dirname(book)
        rels: dict[str, tuple[str, str]] = {}
        rels_name = posixpath.join(folder, "_rels", posixpath.basename(book) + ".rels")
        if rels_name in names:
            for rel in self._tree(rels_name, "the workbook relationships", "工作簿关系"):
                rels[rel.get("Id", "")] = (rel.get("Type", ""),
                                           self._resolve(folder, rel.get("Target", "")))
        tree = self._tree(book, "the workbook", "工作簿")
        self.numbers, self.dates = _openpyxl()
        self.epoch = self.dates.WINDOWS_EPOCH
        self.sheet: str | None = None
        for node in tree.iter():
            tag = _local(node.tag)
            if tag == "workbookPr" and node.get("date1904", "").lower() in ("1", "true"):
                self.epoch = self.dates.CALENDAR_MAC_1904
            elif tag == "sheet" and self.sheet is None:
                rid = next((v for k, v in node.attrib.items()
                            if _local(k) == "id" and k.startswith("{")), "")
                kind, target = rels.get(rid, ("", ""))
                if kind.endswith("/worksheet"):
                    self.sheet = target
        self.strings_part = next((t for k, t in rels.values() if k.endswith("/sharedStrings")),
                                 None)
        styles = next((t for k, t in rels.values() if k.endswith("/styles")), None)
        self.date_styles: frozenset[int] = frozenset()
        self.timedelta_styles: frozenset[int] = frozenset()
        if styles is not None and styles in names:
            self._styles(styles)

    def _resolve(self, folder: str, target: str) -> str:
        if target.startswith("/"):
            return target[1:]
        return posixpath.normpath(posixpath.join(folder, target))

    def open(self, name: str, limit: int, what_en: str, what_zh: str) -> _Part:
        try:
            info = self.archive.getinfo(name)
        except KeyError:
            raise SheetProblem(0, "", f"the workbook has no part {name} ({what_en})",
                               f"工作簿缺少部件 {name}（{what_zh}）") from None
        return _Part(self.archive, info, limit, what_en, what_zh)

    def _tree(self, name: str, what_en: str, what_zh: str) -> ElementTree.Element:
        part = self.open(name, MAX_OTHER_PART_BYTES, what_en, what_zh)
        try:
            return _small_xml(part)
        finally:
            part.close()

    def _styles(self, name: str) -> None:
        """Styles whose number format is a date or a duration, as openpyxl indexes them."""
        tree = self._tree(name, "the styles", "样式")
        custom: dict[int, str] = {}
        xfs: list[int] = []
        for node in tree:
            tag = _local(node.tag)
            if tag == "numFmts":
                for fmt in node:
                    number = _int(fmt.get("numFmtId"))
                    if number is not None:
                        custom[number] = fmt.get("formatCode", "")
            elif tag == "cellXfs":
                xfs = [_int(xf.get("numFmtId")) or 0 for xf in node if _local(xf.tag) == "xf"]
        dates, durations = set(), set()
        for index, number in enumerate(xfs):
            code = custom[number] if number in custom else \
                self.numbers.BUILTIN_FORMATS.get(number)
            if self.numbers.is_date_format(code):
                dates.add(index)
            if self.numbers.is_timedelta_format(code):
                durations.add(index)
        self.date_styles, self.timedelta_styles = frozenset(dates), frozenset(durations)

    def shared_strings(self) -> list[str]:
        if self.strings_part is None or self.strings_part not in self.names:
            return []
        part = self.open(self.strings_part, MAX_SHARED_STRINGS_BYTES,
                         "the shared-string table", "共享字符串表")
        try:
            return _SharedStrings(part).read()
        finally:
            part.close()


def _int(text: str | None, digits: int = 9) -> int | None:
    if text is None or not text.isascii() or not text.isdigit() or len(text) > digits:
        return None
    return int(text)


class _Streamed:
    """A part parsed by expat as its bytes arrive, with no tree: the handlers keep what
    they need and check the limits (a DTD, which OOXML never has, is refused)."""

    part: _Part

    def start(self, name: str, attrs: dict[str, str]) -> None:
        raise NotImplementedError

    def end(self, name: str) -> None:
        raise NotImplementedError

    def text(self, data: str) -> None:
        raise NotImplementedError

    def doctype(self, *_: object) -> None:
        raise _malformed(self.part.info.filename, "a DTD, which OOXML never has", "含有 DTD")

    def parse(self) -> Iterator[None]:
        """Parse the part; yields after each chunk fed."""
        parser = expat.ParserCreate(namespace_separator="}")
        parser.buffer_text = True
        parser.buffer_size = _READ
        parser.StartElementHandler = self.start
        parser.EndElementHandler = self.end
        parser.CharacterDataHandler = self.text
        parser.StartDoctypeDeclHandler = self.doctype
        final = False
        while not final:
            data = self.part.read()
            final = not data
            try:
                parser.Parse(data, final)
            except expat.ExpatError as exc:
                raise _malformed(self.part.info.filename, f"not well-formed XML ({exc})",
                                 f"不是格式正确的 XML（{exc}）") from None
            yield


class _SharedStrings(_Streamed):
    """The shared-string table: each entry's text (``<t>`` and rich-text runs, not
    phonetic guides), checked against the limits as the characters arrive."""

    def __init__(self, part: _Part) -> None:
        self.part = part
        self.strings: list[str] = []
        self.pieces: list[str] = []
        self.length = 0
        self.depth_phonetic = 0
        self.in_text = False

    def read(self) -> list[str]:
        for _ in self.parse():
            pass
        return self.strings

    def start(self, name: str, attrs: dict[str, str]) -> None:
        tag = _local(name)
        if tag == "si":
            self.pieces, self.length = [], 0
            if len(self.strings) >= MAX_SHARED_STRINGS:
                raise SheetProblem(0, "", f"the shared-string table has more than "
                                   f"{MAX_SHARED_STRINGS:,} entries, the limit",
                                   f"共享字符串表超过 {MAX_SHARED_STRINGS:,} 条的上限")
        elif tag == "rPh":
            self.depth_phonetic += 1
        elif tag == "t":
            self.in_text = not self.depth_phonetic

    def end(self, name: str) -> None:
        tag = _local(name)
        if tag == "si":
            self.strings.append("".join(self.pieces).replace("x005F_", ""))  # as openpyxl
        elif tag == "rPh":
            self.depth_phonetic -= 1
        elif tag == "t":
            self.in_text = False

    def text(self, data: str) -> None:
        if self.in_text:
            self.length += len(data)
            if self.length > MAX_CELL_CHARS:
                raise SheetProblem(0, "", f"entry {len(self.strings) + 1:,} of the shared-"
                                   f"string table is longer than {MAX_CELL_CHARS:,} characters, "
                                   "the limit for a cell",
                                   f"共享字符串表第 {len(self.strings) + 1:,} 条超过单元格 "
                                   f"{MAX_CELL_CHARS:,} 个字符的上限")
            self.pieces.append(data)


class _Sheet(_Streamed):
    """The worksheet's rows as tuples of cell values, as openpyxl's read-only mode gives
    them after ``reset_dimensions`` (missing rows are empty, a row is as wide as its last
    cell), checked against the limits as the bytes arrive."""

    def __init__(self, book: _Workbook, part: _Part, strings: list[str]) -> None:
        self.book, self.part, self.strings = book, part, strings
        self.ready: list[Sequence[object]] = []
        self.row_number = 0  # the last row handed on
        self.cells: dict[int, object] | None = None  # the open row's cells by column
        self.this_row = 0
        self.column = 0
        self.cell_type = ""
        self.style = 0
        self.formula: list[str] | None = None
        self.value: list[str] | None = None
        self.inline: list[str] | None = None
        self.target: list[str] | None = None  # where character data goes now
        self.length = 0
        self.depth_phonetic = 0
        self.in_cell = False

    def rows(self) -> Generator[Sequence[object], None, None]:
        try:
            for _ in self.parse():
                if self.ready:
                    yield from self.ready
                    self.ready = []
        except SheetProblem:
            yield from self.ready  # the rows before the problem, then the problem
            raise

    def _problem(self, en: str, zh: str, column: int = 0) -> SheetProblem:
        letter = column_letter(column) if column else ""
        return SheetProblem(self.this_row, letter, en, zh)

    def start(self, name: str, attrs: dict[str, str]) -> None:
        tag = _local(name)
        if tag == "c" and self.cells is not None:
            self._start_cell(attrs)
        elif not self.in_cell:
            if tag == "row":
                self._start_row(attrs)
        elif tag == "v":
            self.target = self.value = []
        elif tag == "f":
            self.target = self.formula = []
        elif tag == "is":
            self.inline = []
        elif tag == "rPh":
            self.depth_phonetic += 1
        elif tag == "t" and self.inline is not None and not self.depth_phonetic:
            self.target = self.inline

    def _start_row(self, attrs: dict[str, str]) -> None:
        text = attrs.get("r")
        number = self.row_number + 1
        if text is not None:
            parsed = _int(text, 15)
            if parsed is None or parsed < 1:
                self.this_row = number
                raise self._problem(f"the row number {text[:20]!r} is not a number",
                                    f"行号 {text[:20]!r} 不是数字")
            number = parsed
        self.this_row = number
        if number > MAX_ROWS:
            raise self._problem(f"the sheet has more than {MAX_ROWS:,} rows, the limit (this "
                                f"is row {number:,}): split the file",
                                f"工作表超过 {MAX_ROWS:,} 行的上限（此为第 {number:,} 行）："
                                "请拆分文件")
        if number <= self.row_number:
            raise self._problem(f"row {number} comes after row {self.row_number}: the rows are "
                                "out of order", f"第 {number} 行排在第 {self.row_number} 行之后："
                                "行的顺序有误")
        for _ in range(self.row_number + 1, number):
            self.ready.append(())
        self.cells = {}
        self.column = 0

    def _start_cell(self, attrs: dict[str, str]) -> None:
        ref = attrs.get("r")
        if ref is None:
            column = self.column + 1
        else:
            m = _CELL_REF.match(ref)
            if m is None:
                raise self._problem(f"the cell reference {ref[:20]!r} is not valid",
                                    f"单元格引用 {ref[:20]!r} 无效")
            column = _column_index(m.group(1))
        if column > MAX_COLUMNS:
            raise self._problem(f"a cell in column {column_letter(column)}: more than "
                                f"{MAX_COLUMNS} columns, the limit (delete the columns to the "
                                "right of the data)", f"第 {column_letter(column)} 列有单元格："
                                f"超过 {MAX_COLUMNS} 列的上限（请删除数据右侧的列）", column)
        self.column = column
        self.in_cell = True
        self.cell_type = attrs.get("t", "n")
        self.style = _int(attrs.get("s")) or 0
        self.formula = self.value = self.inline = self.target = None
        self.length = self.depth_phonetic = 0

    def end(self, name: str) -> None:
        tag = _local(name)
        if not self.in_cell:
            if tag == "row" and self.cells is not None:
                self._end_row()
            return
        if tag == "c":
            assert self.cells is not None
            self.cells[self.column] = self._value()
            self.in_cell = False
            self.target = None
        elif tag in ("v", "f", "t"):
            self.target = None
        elif tag == "rPh":
            self.depth_phonetic -= 1

    def _end_row(self) -> None:
        cells = self.cells
        assert cells is not None
        if cells:
            values: list[object] = [None] * max(cells)
            for column, value in cells.items():
                values[column - 1] = value
            self.ready.append(tuple(values))
        else:
            self.ready.append(())
        self.row_number = self.this_row
        self.cells = None

    def text(self, data: str) -> None:
        if self.target is not None:
            self.length += len(data)
            if self.length > MAX_CELL_CHARS:
                raise self._problem(f"the cell holds more than {MAX_CELL_CHARS:,} characters, "
                                    "the limit", f"单元格超过 {MAX_CELL_CHARS:,} 个字符的上限",
                                    self.column)
            self.target.append(data)

    def _value(self) -> object:
        """The cell's value as openpyxl's ``data_only`` read gives it; a Formula for a
        formula cell."""
        if self.formula is not None or self.cell_type == "f":
            return Formula("".join(self.formula or ()))
        kind = self.cell_type
        if kind == "inlineStr":
            return None if self.inline is None else "".join(self.inline)
        text = "".join(self.value) if self.value else None
        if text is None:
            return None
        try:
            if kind == "n":
                number: int | float = float(text) if "." in text or "e" in text.lower() \
                    else int(text)
                if self.style in self.book.date_styles:
                    try:
                        converted: Any = self.book.dates.from_excel(
                            number, self.book.epoch,
                            timedelta=self.style in self.book.timedelta_styles)
                    except (OverflowError, ValueError, TypeError):
                        return "#VALUE!"  # what openpyxl gives for a date out of range
                    return converted
                return number
            if kind == "s":
                index = int(text)
                if not 0 <= index < len(self.strings):
                    raise self._problem(
                        f"the cell refers to shared string {index:,}, but the table has "
                        f"{len(self.strings):,}", f"单元格引用第 {index:,} 个共享字符串，但共享"
                        f"字符串表只有 {len(self.strings):,} 条", self.column)
                return self.strings[index]
            if kind == "b":
                return bool(int(text))
            if kind == "d":
                parsed: datetime = self.book.dates.from_ISO8601(text)
                return parsed
        except ValueError as exc:
            if isinstance(exc, SheetProblem):
                raise
            raise self._problem(f"{text[:40]!r} is not a valid value for a cell of type "
                                f"{kind[:10]!r}", f"{text[:40]!r} 不是类型为 {kind[:10]!r} 的"
                                "单元格的有效值", self.column) from None
        return text  # str, e (an error such as #N/A) and unknown types: the text


def read_xlsx(path: Path) -> Generator[Sequence[object], None, None]:
    """The first worksheet's rows of cell values.

    Raises :class:`SheetProblem` at the first limit broken or malformed place (before or
    while rows are yielded), :class:`RegistryFileError` when the file is not a zip archive.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError,
            NotImplementedError, struct.error, UnicodeDecodeError) as exc:
        raise RegistryFileError(f"{path.name}: not a readable .xlsx workbook ({exc}) / "
                         f"{path.name} 不是可读取的 .xlsx 工作簿") from None
    with archive:
        if len(archive.infolist()) > MAX_MEMBERS:
            raise SheetProblem(0, "", f"the archive has more than {MAX_MEMBERS:,} members, "
                               "the limit", f"压缩包超过 {MAX_MEMBERS:,} 个成员的上限")
        try:
            book = _Workbook(archive)
            if book.sheet is None:
                raise SheetProblem(0, "", "the workbook has no worksheet", "工作簿中没有工作表")
            strings = book.shared_strings()
            part = book.open(book.sheet, MAX_SHEET_BYTES, "the worksheet", "工作表")
            try:
                yield from _Sheet(book, part, strings).rows()
            finally:
                part.close()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, RuntimeError,
                NotImplementedError, ValueError, zlib.error, lzma.LZMAError,
                struct.error) as exc:  # damaged data, CRC, encryption, unknown compression
            if isinstance(exc, RegistryFileError):
                raise
            raise SheetProblem(0, "", f"the workbook is damaged ({type(exc).__name__}: "
                               f"{str(exc)[:200]})", f"工作簿已损坏（{type(exc).__name__}："
                               f"{str(exc)[:200]}）") from None

