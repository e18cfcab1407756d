"""Verifier audit throughput, scaling, resumption and memory against a floor of the same run.

    python bench/audit.py [--entries N] [--runs R] [--codec orjson|stdlib] [--skip-api]

Builds (once, cached under var/bench/) a district year of about N entries through the
ledger (registries, plans, every batch drawn through commitment, dev beacon and reveals,
inspections and results), exports it, then prints, in one run:

- floor: per entry, json.loads + canonical re-encode + SHA-256 with the standard library on
  one core (the least any verifier of canonical entries must do), wall and CPU time;
- the floor's work through the verifier's codec (orjson where exact), for comparison;
- integrity audit (chain, hashes, roots, checkpoint and cosignature signatures, keys,
  roles, batches; no statement signatures, no field rules), one process;
- full audit with 1 worker (one process: wall, and entries per CPU second) and with 2
  (a decoding and signing worker beside the replay: wall), as ratios to the floor;
- the time per entry of the full audit of years of 100k, 300k and N entries built alike
  with the big year's roster: linear when within 20 %;
- resumption: the full audit of the first half saved as a state, then the rest resumed
  from it (``audit(resume=...)``), against one audit of the whole;
- peak RSS of a fresh process auditing the export streamed from the file (2 workers);
- the API's start on the ledger's database: the first start (full replay, then the state
  saved) and the next, from the persisted state (issue 17 item 6), until /v1/status answers.

Every audit streams the export from the file as the CLI does: the harness holds no copy
of the year, so `make bench` runs on a small machine.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ledger import Ledger, Parties, build_demo  # noqa: E402
from tests.helpers import free_port  # noqa: E402
from verifier import audit, load_trust  # noqa: E402
from verifier._canonical import CODEC_ENV, codec, loads_canonical, use_codec  # noqa: E402
from verifier._cli import read_lines  # noqa: E402

# A district's year at scale: registries of about the log's size, draws of a few hundred
# targets per batch as real plans give them (0.1-0.5 % of a pool this large), their results.
BENCH_RATIOS = {"A": 1_000, "B": 1_500, "C": 2_500, "D": 5_000}
Checkpoints = list[tuple[str, bytes]]


def roster(entries: int) -> int:
    """Inspectors of a year of ``entries``: the district's roster grows with its registry."""
    return max(300, entries // 330)


def build(entries: int, inspectors: int | None = None) -> Path:
    """The year's directory (db.sqlite, parties/, export/), built once; ``inspectors``
    other than ``roster(entries)`` is named in the directory."""
    name = f"audit-{entries}" if inspectors in (None, roster(entries)) else \
        f"audit-{entries}-r{inspectors}"
    root = ROOT / "var" / "bench" / name
    export = root / "export"
    if (export / "entries.jsonl").exists():
        return root
    ledger = Ledger(str(root / "db.sqlite"))
    try:
        if not ledger.refresh():
            build_demo(ledger, Parties(root / "parties"), targets=int(entries * 0.93),
                       inspectors=inspectors or roster(entries), ratios=BENCH_RATIOS)
        ledger.export(export)
    finally:
        ledger.close()
    return root


def cpu() -> float:
    """CPU seconds of this process and its reaped children (the audit's workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed(fns: dict[str, Callable[[], None]], runs: int) -> dict[str, tuple[float, float]]:
    """(wall, CPU) seconds per variant, medians over ``runs`` rounds; the variants are
    interleaved in each round, so machine noise hits all alike. The collector runs as in
    the CLI (it costs the 1M audit about 6 %)."""
    walls: dict[str, list[float]] = {name: [] for name in fns}
    cpus: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            gc.collect()
            t, c = time.perf_counter(), cpu()
            fn()
            walls[name].append(time.perf_counter() - t)
            cpus[name].append(cpu() - c)
    return {name: (statistics.median(walls[name]), statistics.median(cpus[name]))
            for name in fns}


def size_of(note: bytes) -> int:
    """A checkpoint note's tree size (its second line)."""
    return int(note.split(b"\n", 2)[1])


def covered(cps: Checkpoints, count: int) -> Checkpoints:
    """The checkpoints an export cut after ``count`` entries still holds."""
    return [(name, note) for name, note in cps if size_of(note) <= count]


_PEAK = """
import sys
sys.path.insert(0, {root!r})
from pathlib import Path
from verifier import audit, load_trust
from verifier._cli import read_lines
export = Path({export!r})
trust = load_trust((export / "trust.json").read_bytes())
cps = [(p.name, p.read_bytes()) for p in sorted((export / "checkpoints").iterdir())]
with (export / "entries.jsonl").open("rb") as fh:
    report = audit(read_lines(fh), cps, trust, workers={workers})
peak = 0
for line in open("/proc/self/status"):  # VmHWM starts afresh at exec (ru_maxrss does not)
    if line.startswith("VmHWM:"):
        peak = int(line.split()[1])
print(report.exit_code, peak)
"""


def peak_rss(export: Path, workers: int) -> tuple[int, float]:
    """(exit code, peak RSS in MiB) of a fresh process auditing the export from the file;
    the workers' own peaks are not added (each holds one chunk)."""
    proc = subprocess.run([sys.executable, "-c", _PEAK.format(root=str(ROOT),
                                                               export=str(export),
                                                               workers=workers)],
                          capture_output=True, text=True, check=True, timeout=3600,
                          env={**os.environ, CODEC_ENV: codec()})
    code, kib = proc.stdout.split()
    return int(code), int(kib) / 1024


def api_start(root: Path) -> float:
    """Seconds from launching ``python -m api`` on the year's database until /v1/status
    answers; the server is then stopped (SIGTERM: the ledger saves its state on close)."""
    port = free_port()
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "api", "--db", str(root / "db.sqlite"),
                             "--keys", str(root / "parties" / "log"), "--port", str(port),
                             "--no-access-log"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"the API exited with {proc.returncode} before answering")
            if time.perf_counter() - t > 600:
                raise SystemExit("the API did not answer within 600 s")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/status",
                                            timeout=5) as resp:
                    resp.read()
                    return time.perf_counter() - t
            except OSError:
                time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(timeout=600)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--codec", choices=("orjson", "stdlib"), default=None,
                        help="the verifier's codec (default: orjson when installed)")
    parser.add_argument("--skip-api", action="store_true", help="do not time the API's start")
    args = parser.parse_args()
    use_codec(args.codec)
    root = build(args.entries)
    export = root / "export"
    path = export / "entries.jsonl"
    trust = load_trust((export / "trust.json").read_bytes())
    cps = [(p.name, p.read_bytes()) for p in sorted((export / "checkpoints").iterdir())]
    encoder = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    sha = hashlib.sha256
    with path.open("rb") as fh:
        n = sum(1 for _ in fh)
    size = path.stat().st_size

    def stream() -> Iterator[bytes]:
        with path.open("rb") as fh:
            yield from fh

    def floor() -> None:
        for line in stream():
            sha(b"\x00" + encoder.encode(json.loads(line)).encode()).digest()

    def floor_codec() -> None:
        for line in stream():
            loads_canonical(line[:-1])
            sha(b"\x00" + line[:-1]).digest()

    def run(count: int | None = None, notes: Sequence[tuple[str, bytes]] = cps,
            **options: Any) -> Any:
        with path.open("rb") as fh:
            lines = read_lines(fh)
            if count is not None:
                lines = itertools.islice(lines, count)
            return audit(lines, notes, trust, **options)

    def integrity() -> None:
        report = run(signatures=False, body_rules=False, workers=1)
        assert report.checkpoints_verified == len(cps) and report.count("integrity") == 0

    def full(workers: int) -> Callable[[], None]:
        def go() -> None:
            report = run(workers=workers)
            assert report.exit_code == 0, report.findings[:3]
        return go

    print(f"export: {n:,} entries, {size / n:.0f} bytes/entry on average, {len(cps)} "
          f"checkpoint notes; codec {codec()}; {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.2f} at the start; medians of {args.runs} interleaved runs")
    names = {
        "floor": "floor: json.loads + canonical dumps + SHA-256",
        "codec": f"canonical parse ({codec()}, profile checks) + SHA-256",
        "integrity": "integrity audit (1 worker)",
        "full1": "full audit, 1 worker",
        "full2": "full audit, 2 workers",
    }
    times = timed({names["floor"]: floor, names["codec"]: floor_codec,
                   names["integrity"]: integrity, names["full1"]: full(1),
                   names["full2"]: full(2)}, args.runs)
    f_wall, f_cpu = times[names["floor"]]
    for name, (wall, spent) in times.items():
        print(f"  {name:<52} {n / wall:>9,.0f} entries/s wall {f_wall / wall:5.2f}x floor; "
              f"{n / spent:>9,.0f}/CPU s {f_cpu / spent:5.2f}x floor")
    w1, c1 = times[names["full1"]]
    w2, _ = times[names["full2"]]
    print(f"goals: 2 workers >= 1.0x floor wall: {'met' if f_wall / w2 >= 1 else 'NOT met'} "
          f"({f_wall / w2:.2f}x); 1 worker >= 0.5x floor per CPU second: "
          f"{'met' if f_cpu / c1 >= 0.5 else 'NOT met'} ({f_cpu / c1:.2f}x); 2 workers faster "
          f"than 1: {'yes' if w2 < w1 else 'NO'} ({w1 / w2:.2f}x)")

    # Years of 100k and 300k entries built the same way (same mix of entries: registries,
    # plans, draws, results) and with the big year's roster, audited whole: the time per
    # entry must not grow with the log. (A roster grown with the registry too would make
    # the matching, every drawn target ranking every able inspector of its departments
    # (SPEC 14.8), grow as drawn targets x roster: that is the draw rule's cost.)
    per: list[tuple[int, float]] = []
    for scale in sorted({s for s in (100_000, 300_000) if s < args.entries}):
        year = build(scale, roster(args.entries)) / "export"
        notes = [(p.name, p.read_bytes()) for p in sorted((year / "checkpoints").iterdir())]
        year_trust = load_trust((year / "trust.json").read_bytes())
        walls, count = [], 0
        for _ in range(args.runs):
            gc.collect()
            t = time.perf_counter()
            with (year / "entries.jsonl").open("rb") as fh:
                report = audit(read_lines(fh), notes, year_trust, workers=1)
            walls.append(time.perf_counter() - t)
            assert report.exit_code == 0, report.findings[:3]
            count = report.entries
        per.append((count, statistics.median(walls) / count))
    per.append((n, w1 / n))
    for count, cost in per:
        print(f"  full audit of a year of {count:>9,} entries, {roster(args.entries):,} "
              f"inspectors (1 worker): "
              f"{cost * 1e6:6.1f} us/entry")
    costs = [cost for _, cost in per]
    spread = max(costs) / min(costs) - 1
    if len(costs) < 2:
        print("  linear within 20 %: not judged (one size: --entries above 300,000 adds 100k "
              "and 300k years)")
    else:
        print(f"  linear within 20 %: {'yes' if spread <= 0.2 else 'NO'} (spread {spread:.0%})")

    # The split: the checkpoint nearest the middle (a state is saved at a checkpoint).
    half = min((size_of(note) for _, note in cps if 0 < size_of(note) < n),
               key=lambda k: abs(k - n // 2))
    t = time.perf_counter()
    run(half, covered(cps, half), workers=1)
    t_prefix = time.perf_counter() - t
    t = time.perf_counter()
    first = run(half, covered(cps, half), workers=1, save=True, expect=half)
    t_first = time.perf_counter() - t
    state = first.state
    assert state is not None and state.size == half, "no state at the split"

    def resumed(save: bool) -> tuple[float, Any]:
        t = time.perf_counter()
        with path.open("rb") as fh:
            fh.seek(state.offset)
            report = audit(read_lines(fh), cps, trust, workers=1, resume=state, save=save,
                           expect=n)
        return time.perf_counter() - t, report

    t_rest, rest = resumed(False)
    t_saved, _ = resumed(True)
    assert rest.exit_code == 0, rest.findings[:3]
    w_full = times[names["full1"]][0]
    tail = n - half
    print(f"  resume at the checkpoint nearest the middle: entries 0..{half:,} audited in "
          f"{t_prefix:.1f} s ({t_first:.1f} s when saving the state too); the other {tail:,} "
          f"resumed in {t_rest:.1f} s ({t_saved:.1f} s when saving the new state too), where "
          f"one audit of all "
          f"({w_full:.1f} s) spends {w_full - t_prefix:.1f} s on them: the resumed run costs "
          f"{t_rest / max(w_full - t_prefix, 1e-9):.2f}x the new entries' share")

    code, peak = peak_rss(export, workers=2)
    print(f"  peak RSS of a full audit (2 workers) streamed from the file: {peak:,.0f} MiB "
          f"(exit {code}); goal < 500 MB: {'met' if peak * 1.048576 < 500 else 'NOT met'}")
    if not args.skip_api:
        cold = api_start(root)
        warm = [api_start(root) for _ in range(3)]
        print(f"  API start on {n:,} entries: {cold:.1f} s (whatever state it found), then "
              f"{statistics.median(warm):.2f} s median of 3 from the persisted state "
              f"(goal < 5 s: {'met' if statistics.median(warm) < 5 else 'NOT met'})")
    print(f"  load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
