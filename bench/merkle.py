"""Merkle tree benchmark: verifier._merkle against pymerkle 7.0.0 and a plain-hashlib floor.

Run ``python bench/merkle.py``. At 100,000 leaves it times, as the median of 9 runs:

* build from entries: leaf hashing plus tree building (pymerkle only takes entries);
* build from leaf hashes: ``MerkleTree.extend`` (ours) against the floor's level build;
* inclusion: generate and verify a proof, averaged over 1,000 random leaves;
* consistency: generate and verify a proof, averaged over 1,000 random old sizes.

The floor is the straightforward minimum with ``hashlib``, ``sha256(prefix + data)`` per
node: it builds the tree level by level (promoting an odd last node, which yields the
RFC 9162 tree), reads proofs straight off those stored levels and verifies with the
shortest loops. It only serves proofs against the full tree it built, which is all the
benchmark asks; ours serves any past size. Ours can beat it because it copies a pre-fed
SHA-256 state rather than building a new hash object per node, and caches the ragged
right edge of a size.

Times are this process's CPU time (``time.process_time``), so other processes on a shared
machine do not inflate a run; runs interleave the three implementations so the rest of
the machine's noise hits all alike; the garbage collector is off while timing (as
``timeit`` does). What a verifier already knows (roots, leaf hashes) is computed before
timing, for all alike.
"""

from __future__ import annotations

import gc
import hashlib
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pymerkle

from verifier._merkle import MerkleTree, leaf_hash, verify_consistency, verify_inclusion

N = 100_000
RUNS = 9
SAMPLES = 1_000
sha256 = hashlib.sha256


# --- the floor ------------------------------------------------------------------------------

def floor_leaves(entries: list[bytes]) -> list[bytes]:
    return [sha256(b"\x00" + e).digest() for e in entries]


def floor_build(leaves: list[bytes]) -> list[list[bytes]]:
    levels = [leaves]
    cur = leaves
    while len(cur) > 1:
        nxt = [sha256(b"\x01" + cur[i] + cur[i + 1]).digest() for i in range(0, len(cur) - 1, 2)]
        if len(cur) & 1:
            nxt.append(cur[-1])
        levels.append(nxt)
        cur = nxt
    return levels


def floor_path(levels: list[list[bytes]], level: int, i: int) -> list[bytes]:
    path = []
    for nodes in levels[level:-1]:
        if i ^ 1 < len(nodes):
            path.append(nodes[i ^ 1])
        i >>= 1
    return path


def floor_inclusion(levels: list[list[bytes]], i: int) -> list[bytes]:
    return floor_path(levels, 0, i)


def floor_verify_inclusion(i: int, n: int, leaf: bytes, path: list[bytes], root: bytes) -> None:
    r = leaf
    it = iter(path)
    while n > 1:
        if i & 1:
            r = sha256(b"\x01" + next(it) + r).digest()
        elif i + 1 < n:
            r = sha256(b"\x01" + r + next(it)).digest()
        i >>= 1
        n = (n + 1) >> 1
    if next(it, None) is not None or r != root:
        raise AssertionError("floor inclusion proof failed")


def floor_consistency(levels: list[list[bytes]], m: int) -> list[bytes]:
    shift = (m & -m).bit_length() - 1
    i = (m >> shift) - 1
    seed = [] if i == 0 else [levels[shift][i]]
    return seed + floor_path(levels, shift, i)


def floor_verify_consistency(m: int, n: int, old: bytes, new: bytes, path: list[bytes]) -> None:
    shift = (m & -m).bit_length() - 1
    i = (m >> shift) - 1
    it = iter(path)
    fr = sr = old if i == 0 else next(it)
    n = (n + (1 << shift) - 1) >> shift
    while n > 1:
        if i & 1:
            c = next(it)
            fr = sha256(b"\x01" + c + fr).digest()
            sr = sha256(b"\x01" + c + sr).digest()
        elif i + 1 < n:
            sr = sha256(b"\x01" + sr + next(it)).digest()
        i >>= 1
        n = (n + 1) >> 1
    if next(it, None) is not None or fr != old or sr != new:
        raise AssertionError("floor consistency proof failed")


# --- timing ---------------------------------------------------------------------------------

def median_times(fns: list[Callable[[], object] | None]) -> list[float | None]:
    """Median CPU seconds per function (see the module docstring)."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(RUNS):
        for fn, out in zip(fns, times, strict=True):
            if fn is not None:
                gc.collect()
                gc.disable()
                try:
                    start = time.process_time()
                    fn()
                    out.append(time.process_time() - start)
                finally:
                    gc.enable()
    return [statistics.median(t) if t else None for t in times]


def main() -> int:
    rng = random.Random(2024)
    entries = [i.to_bytes(8, "big") for i in range(N)]
    leaves = floor_leaves(entries)
    indices = [rng.randrange(N) for _ in range(SAMPLES)]
    olds = [rng.randrange(1, N) for _ in range(SAMPLES)]

    ours = MerkleTree(leaves)
    levels = floor_build(leaves)
    pm = pymerkle.InmemoryTree()
    pm.append_entries(entries)
    root = ours.root()
    if not root == levels[-1][0] == pm.get_root():
        raise AssertionError("the three implementations disagree on the root")
    for i in indices[:50]:
        assert ours.inclusion_proof(i) == floor_inclusion(levels, i)
    for m in olds[:50]:
        assert ours.consistency_proof(m) == floor_consistency(levels, m)
    old_ours = {m: ours.root(m) for m in olds}
    old_pm = {m: pm.get_root(m) for m in olds}

    def ours_entries() -> None:
        MerkleTree(map(leaf_hash, entries))

    def pm_entries() -> None:
        pymerkle.InmemoryTree().append_entries(entries)

    def ours_incl() -> None:
        for i in indices:
            verify_inclusion(i, N, leaves[i], ours.inclusion_proof(i), root)

    def pm_incl() -> None:
        for i in indices:
            pymerkle.verify_inclusion(leaves[i], root, pm.prove_inclusion(i + 1))

    def floor_incl() -> None:
        for i in indices:
            floor_verify_inclusion(i, N, leaves[i], floor_inclusion(levels, i), root)

    def ours_cons() -> None:
        for m in olds:
            verify_consistency(m, N, old_ours[m], root, ours.consistency_proof(m))

    def pm_cons() -> None:
        for m in olds:
            pymerkle.verify_consistency(old_pm[m], root, pm.prove_consistency(m))

    def floor_cons() -> None:
        for m in olds:
            floor_verify_consistency(m, N, old_ours[m], root, floor_consistency(levels, m))

    rows = [
        ("build from entries (leaf hash + tree)", "ms", 1e3, 1,
         ours_entries, pm_entries, lambda: floor_build(floor_leaves(entries))),
        ("build from leaf hashes (extend)", "ms", 1e3, 1,
         lambda: MerkleTree(leaves), None, lambda: floor_build(leaves)),
        ("inclusion prove+verify, per proof", "us", 1e6, SAMPLES, ours_incl, pm_incl, floor_incl),
        ("consistency prove+verify, per proof", "us", 1e6, SAMPLES, ours_cons, pm_cons,
         floor_cons),
    ]
    print(f"Merkle benchmark: {N:,} leaves, median of {RUNS} runs, Python "
          f"{sys.version.split()[0]}, pymerkle {pymerkle.__version__}")
    header = f"{'operation':<38} {'ours':>10} {'pymerkle':>10} {'floor':>10} " \
             f"{'speedup vs pymerkle':>20} {'ours/floor':>11}"
    print(header)
    print("-" * len(header))
    missed = []
    for name, unit, scale, per, f_ours, f_pm, f_floor in rows:
        m_ours, m_pm, m_floor = median_times([f_ours, f_pm, f_floor])
        assert m_ours is not None and m_floor is not None
        t_ours, t_floor = m_ours / per, m_floor / per
        t_pm = m_pm / per if m_pm is not None else None
        pm_text = f"{t_pm * scale:8.2f}{unit}" if t_pm is not None else f"{'n/a':>10}"
        speedup = f"{t_pm / t_ours:19.1f}x" if t_pm is not None else f"{'n/a':>20}"
        print(f"{name:<38} {t_ours * scale:8.2f}{unit} {pm_text} {t_floor * scale:8.2f}{unit} "
              f"{speedup} {t_ours / t_floor:10.2f}x")
        if t_pm is not None and t_pm < 8 * t_ours:
            missed.append(f"{name.split(',')[0]}: {t_pm / t_ours:.1f}x pymerkle")
        if t_ours > 2 * t_floor:
            missed.append(f"{name.split(',')[0]}: {t_ours / t_floor:.2f}x floor")
    print("targets (>= 8x pymerkle, <= 2x floor):",
          "all met" if not missed else "missed by " + "; ".join(missed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
