"""Registry import parsing throughput and memory, against floors measured in the same run.

    python bench/import_parse.py [--rows N] [--runs R] [--regen]

Generates (once, cached under var/bench/import/) N valid ``target.added`` rows with the
documented Chinese headers as

- a UTF-8-BOM .csv;
- an .xlsx written by openpyxl (write-only mode), which stores every string inline in the
  sheet (``t="inlineStr"``);
- an .xlsx written here with a shared-string table (``t="s"``), as Excel and WPS write
  them; openpyxl reads these about twice as fast as inline strings,

then times over R runs (medians, rows/s):

- floor, csv.reader: decode and split the CSV, nothing else;
- floor, openpyxl read-only: load the workbook and iterate the first sheet's cell values
  as ``parse_file`` does (``regfile._parse.load_read_only``, which skips openpyxl's scan
  for the used range, then ``reset_dimensions``), nothing else;
- parse_file: ``regfile.parse_file`` (hash, NFKC, conversions, the verifier's body
  rules, duplicate index, bodies kept).

Memory is measured in a fresh child process per variant: the peak RSS of that process
(Linux ``VmHWM``, else ``ru_maxrss``), including the interpreter and imports (a bare
child's figure is printed as the baseline), and in a second child the peak of Python
allocations traced by ``tracemalloc``.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import random
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from regfile._parse import load_read_only, parse_file  # noqa: E402
from verifier._uscc import USCC_CHARSET, org_code_check_char, uscc_check_char  # noqa: E402

OUT = ROOT / "var" / "bench" / "import"
DEPT = "ZC-SCJGJ"
HEAD = ["统一社会信用代码", "名称", "分库", "行业代码", "行政区划代码", "风险等级", "登记状态",
        "监管单位", "注册号(可选)"]
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"
_TRADES = [("F5299", "商贸"), ("H6210", "餐饮"), ("C1391", "食品加工"), ("F5251", "药店"),
           ("O8040", "美容美发"), ("E4890", "建筑工程"), ("G5430", "运输")]
_LINES = ["食品经营", "药品零售", "餐饮服务", "一般经营"]
_TOWNS = ["般阳路街道", "松龄路街道", "钟楼街道", "将军路街道", "昆仑镇", "罗村镇", "双杨镇"]


def generate_rows(n: int, seed: int = 2026) -> list[list[str]]:
    rng = random.Random(seed)
    seen: set[str] = set()
    rows: list[list[str]] = []
    while len(rows) < n:
        org8 = "MA" + "".join(rng.choice(USCC_CHARSET) for _ in range(6))
        body = "9" + rng.choice("123") + "370302" + org8 + org_code_check_char(org8)
        code = body + uscc_check_char(body)
        if code in seen:
            continue
        seen.add(code)
        industry, trade = rng.choice(_TRADES)
        name = (f"淄博{rng.choice(_SURNAMES)}{rng.choice(_GIVEN)}{trade}{len(rows)}"
                f"{rng.choice(['有限公司', '经营部', '有限责任公司'])}")
        rows.append([code, name, rng.choice(_LINES), industry, "370302",
                     rng.choice("AABBBCCD"), "存续", rng.choice(_TOWNS) + "市场监管所", ""])
    return rows


_NS = "http://schemas.openxmlformats.org"
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<Types xmlns="{_NS}/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<Relationships xmlns="{_NS}/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{_NS}/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>')
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<workbook xmlns="{_NS}/spreadsheetml/2006/main" '
    f'xmlns:r="{_NS}/officeDocument/2006/relationships"><sheets>'
    '<sheet name="检查对象" sheetId="1" r:id="rId1"/></sheets></workbook>')
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<Relationships xmlns="{_NS}/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{_NS}/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_NS}/officeDocument/2006/relationships/sharedStrings" '
    'Target="sharedStrings.xml"/></Relationships>')


def _letter(index: int) -> str:
    letters, index = "", index + 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def write_shared_strings_xlsx(path: Path, rows: list[list[str]]) -> None:
    """A minimal .xlsx whose cells all refer to a shared-string table, as Excel writes."""
    strings: dict[str, int] = {}
    sheet = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
             f'<worksheet xmlns="{_NS}/spreadsheetml/2006/main">'
             f'<dimension ref="A1:{_letter(len(rows[0]) - 1)}{len(rows)}"/><sheetData>']
    for r, row in enumerate(rows, start=1):
        cells = "".join(f'<c r="{_letter(i)}{r}" t="s"><v>{strings.setdefault(v, len(strings))}'
                        "</v></c>" for i, v in enumerate(row) if v)
        sheet.append(f'<row r="{r}">{cells}</row>')
    sheet.append("</sheetData></worksheet>")
    sst = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
           f'<sst xmlns="{_NS}/spreadsheetml/2006/main" count="{len(strings)}" '
           f'uniqueCount="{len(strings)}">']
    sst.extend(f"<si><t>{escape(v)}</t></si>" for v in strings)
    sst.append("</sst>")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _CONTENT_TYPES)
        z.writestr("_rels/.rels", _ROOT_RELS)
        z.writestr("xl/workbook.xml", _WORKBOOK)
        z.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        z.writestr("xl/worksheets/sheet1.xml", "".join(sheet))
        z.writestr("xl/sharedStrings.xml", "".join(sst))


def build(n: int, regen: bool) -> dict[str, Path]:
    OUT.mkdir(parents=True, exist_ok=True)
    files = {"csv": OUT / f"targets-{n}.csv", "xlsx": OUT / f"targets-{n}.xlsx",
             "xlsx-shared": OUT / f"targets-{n}-shared-strings.xlsx"}
    if all(p.exists() for p in files.values()) and not regen:
        return files
    import openpyxl

    rows = generate_rows(n)
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("检查对象")
    ws.append(HEAD)
    for row in rows:
        ws.append([c or None for c in row])
    wb.save(files["xlsx"])
    write_shared_strings_xlsx(files["xlsx-shared"], [HEAD, *rows])
    with files["csv"].open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEAD)
        writer.writerows(rows)
    return files


def floor_csv(path: Path) -> int:
    with path.open("r", encoding="utf-8-sig", newline="") as f:
        return sum(1 for _ in csv.reader(f)) - 1


def floor_openpyxl(path: Path) -> int:
    wb = load_read_only(path)  # as parse_file loads it: no scan for the used range
    try:
        sheet = wb.worksheets[0]
        sheet.reset_dimensions()  # as parse_file does
        return sum(1 for _ in sheet.iter_rows(values_only=True)) - 1
    finally:
        wb.close()


def parse(path: Path) -> int:
    result = parse_file(path, "targets", DEPT)
    if result.errors or result.warnings:
        raise SystemExit(f"unexpected problems: {result.errors[:3]} {result.warnings[:3]}")
    return len(result.rows)


VARIANTS: dict[str, tuple[str, Callable[[Path], int]]] = {
    "floor, csv.reader (.csv)": ("csv", floor_csv),
    "parse_file (.csv)": ("csv", parse),
    "floor, openpyxl read-only (.xlsx, inline strings)": ("xlsx", floor_openpyxl),
    "parse_file (.xlsx, inline strings)": ("xlsx", parse),
    "floor, openpyxl read-only (.xlsx, shared strings)": ("xlsx-shared", floor_openpyxl),
    "parse_file (.xlsx, shared strings)": ("xlsx-shared", parse),
}


def peak_rss_kib() -> int:
    """This process's peak RSS. Linux: VmHWM, which starts afresh at exec (ru_maxrss would
    carry over the parent's peak across fork and exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(name: str, path: Path, traced: bool) -> None:
    """Run one variant once in this (fresh) process and print its memory figures."""
    fn = VARIANTS[name][1] if name != "baseline" else (lambda p: 0)
    if traced:
        tracemalloc.start()
    fn(path)
    out = {"maxrss_kib": peak_rss_kib()}
    if traced:
        out["traced_peak"] = tracemalloc.get_traced_memory()[1]
    print(json.dumps(out))


def measure(name: str, path: Path, traced: bool) -> dict[str, int]:
    proc = subprocess.run([sys.executable, __file__, "--child", name, "--path", str(path)]
                          + (["--traced"] if traced else []),
                          capture_output=True, text=True, check=True)
    return dict(json.loads(proc.stdout))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--regen", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, Path(args.path), args.traced)
        return

    files = build(args.rows, args.regen)
    sizes = ", ".join(f"{p.name} {p.stat().st_size / 1e6:.1f} MB" for p in files.values())
    print(f"files: {args.rows:,} rows in {OUT.relative_to(ROOT)}: {sizes}")
    base = measure("baseline", files["csv"], False)["maxrss_kib"]
    print(f"medians of {args.runs} runs; memory in a fresh process per variant "
          f"(bare child peak RSS {base / 1024:.0f} MiB)")
    rates: dict[str, float] = {}
    for name, (kind, fn) in VARIANTS.items():
        times = []
        for _ in range(args.runs):
            gc.collect()
            t0 = time.perf_counter()
            n = fn(files[kind])
            times.append(time.perf_counter() - t0)
            if n != args.rows:
                raise SystemExit(f"{name}: {n} rows, expected {args.rows}")
        median = statistics.median(times)
        rates[name] = args.rows / median
        rss = measure(name, files[kind], False)["maxrss_kib"] / 1024
        traced = measure(name, files[kind], True)["traced_peak"] / 2**20
        print(f"  {name:<50} {rates[name]:>9,.0f} rows/s  {median:6.2f} s  "
              f"peak RSS {rss:6.0f} MiB  tracemalloc peak {traced:6.0f} MiB")
    for label, kind in ((".csv", "csv"), (".xlsx inline", "xlsx"),
                        (".xlsx shared", "xlsx-shared")):
        floor = next(rates[n] for n, (k, fn) in VARIANTS.items() if k == kind and fn is not parse)
        full = next(rates[n] for n, (k, fn) in VARIANTS.items() if k == kind and fn is parse)
        print(f"ratio parse_file / floor, {label}: {full / floor:.2f}x")

if __name__ == "__main__":
    main()
