"""Mangled workbooks and CSV files through ``drawledger import``: 200 of them (seeded),
truncated, with flipped bytes, wrong or missing XML parts, bad encodings, huge numbers,
empty. Each gets a message and exit 1, never a traceback, and the log is unchanged.

Every file starts from rows that another department already registered, so that a mangled
file which still parses is refused too (its rows conflict with the log): nothing a mangle
makes can be a legitimate import."""

from __future__ import annotations

import csv
import io
import random
import zipfile
from pathlib import Path

import openpyxl
import pytest

from ledger import Ledger, Parties, build_demo
from ledger._admin import import_file
from ledger._cli import main as cli_main
from tests.test_import_ledger import HEAD, rows

CASES = 200
_INSERTS = ["<", "&", "</x>", "<x>", "\x00", "]]>", '"', "<c r='ZZZZ1'>", "<row r='-1'>",
            "<!DOCTYPE x>", "\ud800"]
_NUMBERS = ["9" * 5000, "1e999", "-1e999", "nan", "0x10", "1" * 40_000, "", "1.5.5", "١٢"]


def _xlsx_base(data: list[list[object]]) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(HEAD)
    for row in data:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _csv_base(data: list[list[object]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows([HEAD, *data])
    return out.getvalue().encode("utf-8")


def _edit(text: bytes, rng: random.Random) -> bytes:
    kind = rng.randrange(4)
    if kind == 0:  # wrong XML or CSV syntax somewhere
        at = rng.randrange(len(text) + 1)
        return text[:at] + rng.choice(_INSERTS).encode("utf-8", "surrogatepass") + text[at:]
    if kind == 1:  # a huge or malformed number
        value = rng.choice(_NUMBERS).encode()
        if b"<v>" in text:
            at = text.index(b"<v>") + 3
            return text[:at] + value + text[text.index(b"</v>", at):]
        return text.replace(b"370302", value, 1)
    if kind == 2:  # bytes that are no encoding
        at = rng.randrange(len(text) + 1)
        return text[:at] + rng.choice([b"\xff\xfe", b"\xc3", b"\x80\x80\x80", b"\xed\xa0\x80"]) \
            + text[at:]
    return text[:rng.randrange(len(text) + 1)]  # a part cut short


def _flip(base: bytes, rng: random.Random) -> bytes:
    data = bytearray(base)
    for _ in range(rng.randint(1, 20)):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return bytes(data)


def _mangle_xlsx(base: bytes, rng: random.Random) -> bytes:
    kind = rng.randrange(5)
    if kind == 0:
        return base[:rng.randrange(len(base))]
    if kind == 1:
        return _flip(base, rng)
    if kind == 2:
        return rng.choice([b"", b"PK\x05\x06" + bytes(18), b"not a zip at all", base * 2])
    with zipfile.ZipFile(io.BytesIO(base)) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    victim = rng.choice(sorted(members))
    if kind == 3:
        del members[victim]
    else:
        members[victim] = _edit(members[victim], rng)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return out.getvalue()


def _mangle_csv(base: bytes, rng: random.Random) -> bytes:
    kind = rng.randrange(4)
    if kind == 0:
        return _flip(base, rng)
    if kind == 1:
        return rng.choice([b"", b"\xef\xbb\xbf", b"\n\n\n", b'"', b"\x00" * 100,
                           base.replace(b",", b'","', 3), "统一社会信用代码".encode("utf-16")])
    return _edit(base, rng)


@pytest.fixture
def conflicting(tmp_path: Path) -> tuple[Path, list[list[object]]]:
    """A log where ZC-SCJGJ registered the rows every mangled file starts from."""
    keys = Parties(tmp_path / "parties")
    ledger = Ledger(str(tmp_path / "db.sqlite"))
    data = rows(12, seed=21)
    try:
        build_demo(ledger, keys, targets=3, inspectors=2)
        path = tmp_path / "registered.csv"
        path.write_bytes(_csv_base(data))
        import_file(ledger, keys.load("dept-ZC-SCJGJ"), "ZC-SCJGJ", "targets", path,
                    background=False)
    finally:
        ledger.close()
    for row in data:
        row[2] = "F"  # as ZC-WLJ would write its own registry
    return tmp_path / "db.sqlite", data


def test_mangled_files_get_a_message_never_a_traceback(
        conflicting: tuple[Path, list[list[object]]], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    db, data = conflicting
    rng = random.Random(1212)
    bases = {".xlsx": _xlsx_base(data), ".csv": _csv_base(data)}
    ledger = Ledger(str(db))
    size = ledger.refresh()
    seen: set[str] = set()
    try:
        for case in range(CASES):
            suffix = ".xlsx" if case % 2 == 0 else ".csv"
            mangle = _mangle_xlsx if suffix == ".xlsx" else _mangle_csv
            path = tmp_path / f"case{case}{suffix}"
            path.write_bytes(mangle(bases[suffix], rng))
            code = cli_main(["--db", str(db), "import", "targets", str(path),
                             "--department", "ZC-WLJ"])
            err = capsys.readouterr().err
            assert code == 1 and "Traceback" not in err, (case, err[-3000:])
            assert err.startswith("拒绝 / refused: "), (case, err[-3000:])
            seen.add(err.splitlines()[0][:60])
            assert ledger.refresh() == size, case
    finally:
        ledger.close()
    assert len(seen) > 20  # the mangles reached many different checks
