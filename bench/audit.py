"""Verifier audit throughput against a floor measured in the same run.

    python bench/audit.py [--entries N] [--runs R]

Builds (once, cached under var/bench/) a demo district log of about N entries through the
ledger, exports it, then times over R runs (medians):

- floor: per entry, json.loads + canonical re-encode + SHA-256 (the least any verifier of
  canonical entries must do);
- integrity audit: ``verifier.audit`` with statement signatures and body field rules off
  (chain, hashes, Merkle roots against every checkpoint, checkpoint signatures, keys,
  roles, batches, canonical form, plan deadlines);
- integrity + body field rules (GB 32100 codes, registry fields, plans...);
- signatures alone: Ed25519 verification of every statement (what the full audit adds);
- full audit: everything.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ledger import Ledger, LogKeys, build_demo  # noqa: E402
from verifier import NoteVerifier, audit, batch_message, load_trust, parse_entry  # noqa: E402
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
            build_demo(ledger, LogKeys(root / "keys"), targets=int(entries * 0.93),
                       inspectors=max(300, entries // 330), ratios=BENCH_RATIOS)
        ledger.export(export)
    finally:
        ledger.close()
    return export


def median_rates(fns: dict[str, Callable[[], None]], count: int, runs: int) -> dict[str, float]:
    """Entries per CPU second, median over ``runs`` rounds; the variants are interleaved in
    each round and the collector is off while timing, so machine noise hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            gc.collect()
            gc.disable()
            t = time.process_time()
            fn()
            times[name].append(time.process_time() - t)
            gc.enable()
    return {name: count / statistics.median(ts) for name, ts in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    export = build(args.entries)
    data = (export / "entries.jsonl").read_bytes()
    raw = data.splitlines()
    lines = [line + b"\n" for line in raw]
    trust = load_trust((export / "trust.json").read_bytes())
    cps = [(p.name, p.read_bytes()) for p in sorted((export / "checkpoints").iterdir())]
    n = len(lines)
    encoder = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    sha = hashlib.sha256

    def floor() -> None:
        for line in raw:
            sha(b"\x00" + encoder.encode(json.loads(line)).encode()).digest()

    def integrity() -> None:
        report = audit(lines, cps, trust, signatures=False, body_rules=False)
        assert report.checkpoints_verified == len(cps) and report.count("integrity") == 0

    def with_rules() -> None:
        report = audit(lines, cps, trust, signatures=False)
        assert report.count("violation") == 0

    entries = [parse_entry(line) for line in raw]
    keys = {}
    for e in entries:
        if e.type == "log.genesis":
            for v in trust.authority_keys:
                keys[v.name] = v
        elif e.type == "key.registered":
            keys[e.body["name"]] = NoteVerifier.from_vkey(e.body["vkey"])

    def signatures() -> None:
        """Every statement signature: one per plain statement, one per batch (over the
        digests of its members' statements, SPEC.md 4.2)."""
        digest = hashlib.sha256()
        for e in entries:
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

    def full() -> None:
        report = audit(lines, cps, trust, signatures=True)
        assert report.exit_code == 0, report.findings[:3]

    def streamed() -> None:
        with (export / "entries.jsonl").open("rb") as fh:
            audit(read_lines(fh), cps, trust, signatures=False, body_rules=False)

    print(f"export: {n} entries, {len(data) / n:.0f} bytes/entry on average, "
          f"{len(cps)} checkpoints; CPU-time medians of {args.runs} interleaved runs")
    rates = median_rates({
        "floor: json.loads + canonical dumps + SHA-256": floor,
        "integrity audit (no statement signatures)": integrity,
        "integrity audit streamed from the file": streamed,
        "integrity + body field rules": with_rules,
        "statement signatures alone (batches once)": signatures,
        "full audit (integrity + signatures)": full,
    }, n, args.runs)
    for name, rate in rates.items():
        print(f"  {name:<48} {rate:>10,.0f} entries/s")
    f = rates["floor: json.loads + canonical dumps + SHA-256"]
    i = rates["integrity audit (no statement signatures)"]
    print(f"ratio integrity audit / floor: {i / f:.2f}x (target >= 0.5x); "
          f"absolute target 150,000 entries/s: {'met' if i >= 150_000 else 'NOT met'}")


if __name__ == "__main__":
    main()
