"""End-to-end registry import into the chained log, against the raw parse of the same file.

    python bench/import.py [--rows N] [--runs R]

Uses the files of ``bench/import_parse.py`` (N valid targets as .csv and .xlsx, generated
once under var/bench/import/). Each run imports one file into a fresh SQLite log that
already holds a genesis, the department and its key: ``ledger.import_file`` parses,
validates every row, signs the rows as one batch statement and appends the import record
and the rows in one transaction (entries built, hashed and chained). Medians of R runs,
rows/s, next to the raw floor (csv.reader / openpyxl read-only iteration of the same file,
nothing else), and the memory of a child process doing one whole import: its peak RSS,
that of the children it forks (``ledger._import.ParseInChild`` parses a .csv or reads a
.xlsx while the importer works on the rows it streams back; ``ledger._writer.ChildWriter``
holds the write transaction), and the peak PSS of all of them together.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ledger import Ledger, Parties, init_log, sign_statement  # noqa: E402
from ledger._admin import import_file  # noqa: E402

_spec = importlib.util.spec_from_file_location("import_parse", ROOT / "bench" / "import_parse.py")
assert _spec is not None and _spec.loader is not None
parse_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(parse_bench)
DEPT = parse_bench.DEPT


def fresh_log(tmp: Path) -> tuple[Ledger, Parties]:
    keys = Parties(tmp / "parties")
    ledger = Ledger(str(tmp / "db.sqlite"))
    init_log(ledger, keys)
    auth = keys.load("authority")
    signer = keys.create(f"dept-{DEPT}", f"{DEPT}-bench")
    ledger.submit([
        sign_statement(auth, "department.registered", f"dept/{DEPT}", "authority",
                       {"code": DEPT, "name": "区市场监管局"}),
        sign_statement(auth, "key.registered", f"key/{signer.name}", "authority",
                       {"name": signer.name, "vkey": signer.verifier.vkey, "dept": DEPT,
                        "role": "department"})])
    return ledger, keys


def import_once(path: Path) -> float:
    with tempfile.TemporaryDirectory(dir=ROOT / "var") as tmp:
        ledger, keys = fresh_log(Path(tmp))
        try:
            t = time.perf_counter()
            result, _ = import_file(ledger, keys.load(f"dept-{DEPT}"), DEPT, "targets", path)
            elapsed = time.perf_counter() - t
            assert not result.already and result.rows > 0
        finally:
            ledger.close()
    return elapsed


def _pss_kib(pid: int) -> int:
    """Proportional set size of a process: each page shared by n processes counts 1/n."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("Pss:"))
    except (OSError, StopIteration, ValueError):
        return 0  # gone meanwhile


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def peaks(path: Path) -> tuple[int, int, int]:
    """For a fresh process importing ``path`` once: its peak RSS (MiB), the largest peak
    RSS among the children it forks (the parser, the writer; their RSS counts the pages
    they share with it), and the peak memory of the whole process tree, sampled every
    20 ms as the sum of the processes' PSS (a shared page counted once)."""
    code = ("import sys, resource; sys.argv=['x']; import runpy; "
            f"m = runpy.run_path({str(Path(__file__))!r}, run_name='child'); "
            f"m['import_once'](__import__('pathlib').Path({str(path)!r})); "
            "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1],"
            " resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT)
    tree = 0
    while proc.poll() is None:
        tree = max(tree, sum(_pss_kib(p) for p in [proc.pid, *_children(proc.pid)]))
        time.sleep(0.02)
    out, _ = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"the import in a child process failed ({proc.returncode})")
    me, child = out.strip().splitlines()[-1].split()
    return int(me) // 1024, int(child) // 1024, tree // 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    (ROOT / "var").mkdir(exist_ok=True)
    files = parse_bench.build(args.rows, False)
    print(f"{args.rows:,} target rows; medians of {args.runs} runs; end to end = parse, "
          "validate, sign as one batch, append and chain in one transaction")
    print(f"{'file':<28}{'raw parse floor':>18}{'end to end':>14}{'ratio':>8}"
          f"{'peak RSS':>11}{'children':>13}{'all':>13}")
    for name, path in files.items():
        floor_fn = parse_bench.floor_csv if path.suffix == ".csv" else parse_bench.floor_openpyxl
        floor = []
        e2e = []
        for _ in range(args.runs):
            t = time.perf_counter()
            floor_fn(path)
            floor.append(time.perf_counter() - t)
            e2e.append(import_once(path))
        f_rate = args.rows / statistics.median(floor)
        e_rate = args.rows / statistics.median(e2e)
        peak, child_peak, tree = peaks(path)
        print(f"{name:<28}{f_rate:>14,.0f}/s{e_rate:>11,.0f}/s{e_rate / f_rate:>8.2f}"
              f"{peak:>8} MiB{child_peak:>9} MiB{tree:>9} MiB")
    print("floor: csv.reader, or openpyxl read-only as openpyxl reads (the importer's "
          "reading child decodes plain inline strings itself, so .xlsx can beat it)")
    print("peak RSS: the importer; children: the largest child's peak RSS (pages shared "
          "with the importer included); all: peak PSS of importer and children together")
    print("targets: >= 20,000 rows/s for CSV, >= 5,000 rows/s for xlsx, peak < 300 MB")


if __name__ == "__main__":
    main()
