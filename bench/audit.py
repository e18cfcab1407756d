"""Verifier audit throughput and memory against a floor measured in the same run.

    python bench/audit.py [--entries N] [--runs R] [--codec orjson|stdlib]

Builds (once, cached under var/bench/) a district year of about N entries through the
ledger (registries, plans, every batch drawn through commitment, dev beacon and reveals,
inspections and results), exports it, then times over R runs (wall-clock medians):

- floor: per entry, json.loads + canonical re-encode + SHA-256 (the least any verifier of
  canonical entries must do);
- integrity audit: chain, hashes, Merkle roots against every checkpoint, checkpoint and
  cosignature signatures, keys, roles, batches, canonical form (no statement signatures,
  no field rules);
- full audit excluding signatures: everything else (field rules, plans and calendar,
  every draw recomputed, results and deadlines, the year's statistics);
- statement signatures alone (Ed25519, one per plain statement, one per batch);
- full audit with signatures in the one process, and with the signatures on the second
  core (``workers=1``);
- the floor's work through the verifier's codec (orjson where exact, verifier._canonical),
  for comparison: the floor itself stays the standard library's;

and the peak RSS of a fresh process auditing the export streamed from the file. Every
variant streams the export from the file as the CLI does (the harness holds no copy of
the year), so the figures include reading it, as an auditor's run does.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ledger import Ledger, Parties, build_demo  # noqa: E402
from verifier import NoteVerifier, audit, batch_message, load_trust, parse_entry  # noqa: E402
from verifier._canonical import CODEC_ENV, codec, loads_canonical, use_codec  # noqa: E402
from verifier._cli import read_lines  # noqa: E402

# A district's year at scale: registries of about the log's size, draws of a few hundred
# targets per batch as real plans give them (0.1-0.5 % of a pool this large), their results.
BENCH_RATIOS = {"A": 1_000, "B": 1_500, "C": 2_500, "D": 5_000}


def build(entries: int) -> Path:
    root = ROOT / "var" / "bench" / f"audit-{entries}"
    export = root / "export"
    if (export / "entries.jsonl").exists():
        return export
    ledger = Ledger(str(root / "db.sqlite"))
    try:
        if not ledger.refresh():
            build_demo(ledger, Parties(root / "parties"), targets=int(entries * 0.93),
                       inspectors=max(300, entries // 330), ratios=BENCH_RATIOS)
        ledger.export(export)
    finally:
        ledger.close()
    return export


def median_rates(fns: dict[str, Callable[[], None]], count: int, runs: int) -> dict[str, float]:
    """Entries per wall-clock second, median over ``runs`` rounds; the variants are
    interleaved in each round and the collector is off while timing, so machine noise hits
    all alike. Wall clock, not CPU time: the signature workers run in other processes."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            gc.collect()
            gc.disable()
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
            gc.enable()
    return {name: count / statistics.median(ts) for name, ts in times.items()}


_PEAK = """
import resource, sys
sys.path.insert(0, {root!r})
from pathlib import Path
from verifier import audit, load_trust
from verifier._cli import read_lines
export = Path({export!r})
trust = load_trust((export / "trust.json").read_bytes())
cps = [(p.name, p.read_bytes()) for p in sorted((export / "checkpoints").iterdir())]
with (export / "entries.jsonl").open("rb") as fh:
    report = audit(read_lines(fh), cps, trust, workers={workers})
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:  # Linux: VmHWM starts afresh at exec; ru_maxrss keeps the forking parent's peak
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1])
except OSError:
    pass
print(report.exit_code, peak)
"""


def peak_rss(export: Path, workers: int) -> tuple[int, float]:
    """(exit code, peak RSS in MiB) of a fresh process auditing the export from the file."""
    proc = subprocess.run([sys.executable, "-c", _PEAK.format(root=str(ROOT),
                                                               export=str(export),
                                                               workers=workers)],
                          capture_output=True, text=True, check=True,
                          env={**os.environ, CODEC_ENV: codec()})
    code, kib = proc.stdout.split()
    return int(code), int(kib) / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--codec", choices=("orjson", "stdlib"), default=None,
                        help="the verifier's codec (default: orjson when installed)")
    args = parser.parse_args()
    use_codec(args.codec)
    export = build(args.entries)
    path = export / "entries.jsonl"
    trust = load_trust((export / "trust.json").read_bytes())
    cps = [(p.name, p.read_bytes()) for p in sorted((export / "checkpoints").iterdir())]
    encoder = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    sha = hashlib.sha256

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

    def run(**options: Any) -> Any:
        with path.open("rb") as fh:
            return audit(read_lines(fh), cps, trust, **options)

    def integrity() -> None:
        report = run(signatures=False, body_rules=False)
        assert report.checkpoints_verified == len(cps) and report.count("integrity") == 0

    keys = {}
    types: dict[str, int] = {}
    n = size = 0
    for line in stream():
        e = parse_entry(line[:-1])
        n, size = n + 1, size + len(line)
        kind = e.type.split(".")[0]
        types[kind] = types.get(kind, 0) + 1
        if e.type == "log.genesis":
            for v in trust.authority_keys:
                keys[v.name] = v
        elif e.type == "key.registered":
            keys[e.body["name"]] = NoteVerifier.from_vkey(e.body["vkey"])

    def signatures() -> None:
        """Every statement signature: one per plain statement, one per batch (over the
        digests of its members' statements, SPEC.md 4.2); entries parsed as they come."""
        digest = hashlib.sha256()
        for line in stream():
            e = parse_entry(line[:-1])
            sid = e.sig["sid"]
            if not sid.startswith("batch/"):
                assert keys[e.sig["key"]].verify(e.signed_bytes(), e.signature())
                continue
            _, batch_id, index, count = sid.split("/")
            digest.update(hashlib.sha256(e.signed_bytes()).digest())
            if int(index) == int(count) - 1:
                message = batch_message(e.sig["key"], batch_id, e.sig["ctime"], int(count),
                                        digest.digest())
                assert keys[e.sig["key"]].verify(message, e.signature())
                digest = hashlib.sha256()

    def rules() -> None:
        report = run(signatures=False)
        assert report.count("violation") == 0 and report.draws["verified"] > 0

    def full_inline() -> None:
        report = run(signatures=True)
        assert report.exit_code == 0, report.findings[:3]

    def full_parallel() -> None:
        report = run(signatures=True, workers=1)
        assert report.exit_code == 0, report.findings[:3]

    print(f"export: {n:,} entries, {size / n:.0f} bytes/entry on average, "
          f"{len(cps)} checkpoint notes; {types}; codec {codec()}")
    print(f"wall-clock medians of {args.runs} interleaved runs on {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f} at the start")
    names = {
        "floor": "floor: json.loads + canonical dumps + SHA-256",
        "codec": f"canonical parse ({codec()}, profile checks) + SHA-256",
        "integrity": "integrity audit (chain, roots, keys, roles)",
        "rules": "full audit, signatures excluded",
        "signatures": "parse + statement signatures (batches once)",
        "inline": "full audit, signatures in this process",
        "parallel": "full audit, signatures on the second core",
    }
    rates = median_rates({
        names["floor"]: floor, names["codec"]: floor_codec, names["integrity"]: integrity,
        names["rules"]: rules, names["signatures"]: signatures, names["inline"]: full_inline,
        names["parallel"]: full_parallel,
    }, n, args.runs)
    f = rates[names["floor"]]
    for name, rate in rates.items():
        print(f"  {name:<48} {rate:>10,.0f} entries/s  {rate / f:5.2f}x floor")
    code, peak = peak_rss(export, workers=1)
    print(f"  peak RSS of a full audit streamed from the file: {peak:,.0f} MiB (exit {code})")
    print(f"  load average {os.getloadavg()[0]:.2f} at the end")
    r = rates[names["rules"]]
    print(f"targets: full audit excluding signatures >= 100,000 entries/s: "
          f"{'met' if r >= 100_000 else 'NOT met'} ({r:,.0f}); peak memory < 500 MB: "
          f"{'met' if peak * 1.048576 < 500 else 'NOT met'} ({peak * 1.048576:,.0f} MB)")


if __name__ == "__main__":
    main()
