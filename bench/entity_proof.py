"""Entity proof benchmark (SPEC.md 22): size and Python verify time beside the full bundle.

    python bench/entity_proof.py [--targets N] [--sizes 10000,100000,1000000]

1. End to end, in one run: a demo year (tests/portal_year.py, N companies, v1 log) with
   real signed entries and witnessed checkpoints; for the market bureau's first draw, a
   drawn company's entity proof (size, ``verify_entity_proof`` time, median of 5) and the
   draw's full bundle (size, ``verify_bundle`` time, one run).
2. Pools of 10k, 100k and 1M members, built directly (``bench.draw.registries`` and
   ``make_batch``: three strata whose ratios select about 500, so the execution entry
   stays small): the v1 and the v2 (sealed) pool leaves, their RFC 6962 tree, one
   member's ``pool`` item exactly as the writer makes it, and the time to verify its
   inclusion proof. The entity proof's size at that pool is the demo proof with its pool
   item replaced by this one: the entries do not grow with the pool, but the execution
   entry grows with the SAMPLE (the demo draw selects 5; each selected item adds its
   USCC, team and, in v1, stratum and score: about 150 bytes), so the figure holds for the
   demo's sample, not for make_batch's 500. The bundle's size is the sum of its pool
   leaves, the part that grows. This part is not a log of 1M registered companies.
The browser time is the JS helper's (jsverifier bench), not measured here.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.draw import make_batch, registries
from ledger import Ledger
from ledger._bundle import make_bundle
from ledger._entityproof import _pool_evidence, make_entity_proof
from tests.portal_year import DEPT, YEAR, build_year
from verifier._bundle import verify_bundle
from verifier._canonical import canonical
from verifier._entityproof import verify_entity_proof
from verifier._merkle import MerkleTree, leaf_hash, verify_inclusion
from verifier._multiproof import decode_hashes
from verifier._snapshot import build_snapshot

DRAW = f"{YEAR}-{DEPT}/T1-B1"


def _median(fn: object, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", type=int, default=200)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db, _ = build_year(Path(tmp), targets=args.targets, inspectors=40)
        led = Ledger(db, create=False)
        trust = led.trust()
        info = led.state.draws[f"draw/{DRAW}"]
        uscc = sorted(u for u, _ in info.teams)[0]
        proof = make_entity_proof(led, DRAW, uscc)
        data = canonical(proof)
        result = verify_entity_proof(data, trust)
        assert result.exit_code == 0, result.steps
        t_proof = _median(lambda: verify_entity_proof(data, trust))
        bundle = canonical(make_bundle(led, DRAW))
        t = time.perf_counter()
        report, _ = verify_bundle(bundle, trust)
        t_bundle = time.perf_counter() - t
        led.close()
    print(f"demo year ({args.targets} companies), draw {DRAW}, entity {uscc}:")
    print(f"  entity proof {len(data):,} bytes, verify {t_proof * 1000:.1f} ms "
          f"(exit {result.exit_code}); bundle {len(bundle):,} bytes, verify "
          f"{t_bundle * 1000:.1f} ms (exit {report.exit_code})")
    demo_pool = len(canonical(proof["pool"]))
    for n in (int(s) for s in args.sizes.split(",")):
        batch = make_batch(n)
        state = registries(n, 20, 0)
        snap = build_snapshot(state, "draw/bench/T2-B1", "M", batch)
        member = snap.pool[len(snap.pool) // 2].uscc
        for label, key in (("v1", None), ("v2", bytes(32))):
            snap.key = key
            t = time.perf_counter()
            item = _pool_evidence(snap, member)
            t_build = time.perf_counter() - t
            leaves = snap.leaves()["pool"]
            bundle_pool = sum(len(x) + 3 for x in leaves)
            root = MerkleTree(map(leaf_hash, leaves)).root()
            proof_hashes = decode_hashes(item["proof"], "pool.proof")
            count = len(leaves)
            t_check = _median(lambda item=item, ph=proof_hashes, r=root, k=count:
                              verify_inclusion(item["index"], k, leaf_hash(
                                  item["leaf"].encode()), ph, r), 21)
            size = len(data) - demo_pool + len(canonical(item))
            print(f"pool {n:>9,} {label}: entity proof ~{size:,} bytes (pool item "
                  f"{len(canonical(item)):,}, {len(item['proof'])} hashes; inclusion check "
                  f"{t_check * 1e6:.0f} us; writer's tree {t_build:.1f} s); bundle pool "
                  f"list alone {bundle_pool / 1e6:.1f} MB")
            del leaves
    print(json.dumps({"demo_proof_bytes": len(data), "demo_bundle_bytes": len(bundle)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
