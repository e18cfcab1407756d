"""What sealing costs the audit (issue 15, SPEC.md 21): the same district year built as a
v1 log and as a v2 log, then audited (wall-clock medians over R runs, in this process):

- floor: per entry of the v1 export, json.loads + canonical re-encode + SHA-256;
- v1: the full audit of the v1 export (today's audit);
- v2 opened: the auditor's audit of the v2 export with its openings.jsonl (every sealed
  entry opened, every sealed leaf recomputed);
- v2 public: the audit of the v2 export without openings (what anyone can run);

with the ratios v2/v1 and to the floor, and the sizes of the exports.

    python bench/sealed.py [--targets N] [--runs R]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ledger import Ledger, Parties, build_demo  # noqa: E402
from verifier import audit, load_trust  # noqa: E402
from verifier._cli import read_lines  # noqa: E402


def _build(root: Path, spec: int, targets: int) -> Path:
    export = root / f"v{spec}" / "export"
    if (export / "entries.jsonl").is_file():
        return export
    ledger = Ledger(str(root / f"v{spec}" / "db.sqlite"))
    build_demo(ledger, Parties(root / f"v{spec}" / "parties"), targets=targets,
               inspectors=max(48, targets // 60), spec=spec)
    ledger.export(export, auditor=True)
    ledger.close()
    return export


def _audit(export: Path, openings: bool) -> int:
    trust = load_trust((export / "trust.json").read_bytes())
    checkpoints = [(p.name, p.read_bytes()) for p in sorted((export / "checkpoints").iterdir())]
    with (export / "entries.jsonl").open("rb") as fh, \
            (export / "openings.jsonl").open("rb") as op:
        report = audit(read_lines(fh), checkpoints, trust, workers=0,
                       openings=read_lines(op) if openings else None)
    return report.exit_code


def _floor(export: Path) -> None:
    with (export / "entries.jsonl").open("rb") as fh:
        for line in fh:
            obj = json.loads(line)
            hashlib.sha256(b"\x00" + json.dumps(obj, ensure_ascii=False, sort_keys=True,
                                               separators=(",", ":")).encode()).digest()


def _median(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    root = ROOT / "var" / "bench" / f"sealed-{args.targets}"
    v1, v2 = _build(root, 1, args.targets), _build(root, 2, args.targets)
    entries = sum(1 for _ in (v1 / "entries.jsonl").open("rb"))
    sealed = sum(1 for _ in (v2 / "openings.jsonl").open("rb"))
    assert _audit(v1, False) == 0 and _audit(v2, True) == 0 and _audit(v2, False) == 3
    floor = _median(lambda: _floor(v1), args.runs)
    t1 = _median(lambda: _audit(v1, False), args.runs)
    t2 = _median(lambda: _audit(v2, True), args.runs)
    t3 = _median(lambda: _audit(v2, False), args.runs)
    mib = 1 << 20
    print(f"year: {entries:,} entries, {sealed:,} sealed (v2); exports v1 "
          f"{(v1 / 'entries.jsonl').stat().st_size / mib:.1f} MiB, v2 "
          f"{(v2 / 'entries.jsonl').stat().st_size / mib:.1f} MiB + openings "
          f"{(v2 / 'openings.jsonl').stat().st_size / mib:.1f} MiB; median of {args.runs}")
    for name, t in (("floor (stdlib decode+encode+SHA-256)", floor), ("v1 full audit", t1),
                    ("v2 audit with openings", t2), ("v2 audit without openings", t3)):
        print(f"  {name:38s} {t:8.3f} s  {entries / t:10,.0f} entries/s  "
              f"{t / t1:5.2f}x v1  {floor / t:5.2f}x floor")
    print(f"opening cost: v2 opened / v1 = {t2 / t1:.2f}x "
          f"({(t2 - t1) / max(sealed, 1) * 1e6:.1f} us per sealed entry)")


if __name__ == "__main__":
    main()
