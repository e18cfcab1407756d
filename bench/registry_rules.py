"""Registry field rules per body: verifier._registry's fast path against its full path.

    python bench/registry_rules.py [--bodies N] [--runs R]

Generates N valid ``target.added`` and N valid ``inspector.added`` bodies shaped like
``ledger._demo.build_demo``'s (random USCCs, certificate numbers and names; departments,
registries, industries, towns, units, matter lists and dates repeating as they do across a
district's registries), then times over R runs (medians, microseconds per body):

- full: ``verifier._registry._check_body_full``, the rules as they were before the fast
  path (a ``_Report`` and ``Problem`` objects per body, NFKC on the USCC, ...);
- fast: ``check_body``, which answers a clean body from the fast path;
- floor: ``json.loads`` of the same body's JSON text, the least an auditor does per entry
  before any rule.

Each variant gets freshly parsed bodies, 250 at a time, parsed untimed just before they
are timed: as in an audit, a body is checked right after it was parsed (still in the CPU
caches; its strings' hashes not computed yet). The fast path's
per-value caches are warm after the first run (on a real registry they are warm after the
first few hundred entries). Times are this process's CPU time (``time.process_time``);
the variants take turns on each chunk and the garbage collector is off while timing.
Before timing, both paths must agree on every body and find nothing wrong.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ledger import _demo as demo  # noqa: E402
from verifier._registry import _check_body_full, check_body  # noqa: E402
from verifier._uscc import USCC_CHARSET, org_code_check_char, uscc_check_char  # noqa: E402

TARGET_US = 6.0  # the goal for a valid body on the fast path
CHUNK = 250  # bodies parsed, then timed, at a time
# The demo's vocabulary (the bench times the verifier; ledger only supplies sample data).
_DEPTS = [code for code, _ in demo.DEPARTMENTS]
_WEIGHTS = [8 if d == "ZC-SCJGJ" else 1 for d in _DEPTS]
_SURNAMES, _GIVEN, _TRADES = demo._SURNAMES, demo._GIVEN, demo._TRADES
_FORMS, _TOWNS = demo._FORMS, demo._TOWNS


def make_uscc(rng: random.Random) -> str:
    org8 = "MA" + "".join(rng.choice(USCC_CHARSET) for _ in range(6))
    body = "9" + rng.choice("123") + "370302" + org8 + org_code_check_char(org8)
    return body + uscc_check_char(body)


def target_body(rng: random.Random) -> dict[str, Any]:
    dept = rng.choices(_DEPTS, _WEIGHTS)[0]
    industry, trade = rng.choice(_TRADES)
    return {"uscc": make_uscc(rng), "dept": dept, "registry": f"{dept}/{industry[0]}",
            "name": (f"淄博{rng.choice(_SURNAMES)}{rng.choice(_GIVEN)}{trade}"
                     f"{rng.choice(_FORMS)}"),
            "industry": industry, "region": "370302", "risk": rng.choice("AABBBCCD"),
            "status": "存续", "unit": rng.choice(_TOWNS) + "市场监管所"}


def inspector_body(rng: random.Random, i: int) -> dict[str, Any]:
    dept = rng.choices(_DEPTS, _WEIGHTS)[0]
    matters = [f"{dept}-{k:03d}" for k in range(1, 4 if dept == "ZC-SCJGJ" else 2)]
    unit = rng.choice(_TOWNS) + "市场监管所" if dept == "ZC-SCJGJ" else dept + "执法大队"
    return {"cert_no": f"37030{2 + i % 3}{rng.randrange(10**6):06d}", "dept": dept,
            "unit": unit, "name": rng.choice(_SURNAMES) + rng.choice(_GIVEN) + rng.choice(_GIVEN),
            "expert": i % 25 == 0, "qualifications": matters,
            "valid_from": date(2024, rng.randrange(1, 13), 1).isoformat(),
            "valid_to": date(2029, rng.randrange(1, 13), 28).isoformat()}


def median_us(texts: list[str], fns: dict[str, Callable[[list[Any]], object]],
              runs: int) -> dict[str, float]:
    """Median CPU microseconds per body for each variant, on freshly parsed bodies.

    Bodies are parsed (untimed) and checked CHUNK at a time, so that, as in an audit, the
    bodies checked were parsed just before and are still in the CPU caches. The variants
    take turns on each chunk, so the machine's noise hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    chunks = [texts[i:i + CHUNK] for i in range(0, len(texts), CHUNK)]
    for _ in range(runs):
        totals = dict.fromkeys(fns, 0.0)
        gc.collect()
        gc.disable()
        try:
            for chunk in chunks:
                for name, fn in fns.items():
                    arg: list[Any] = chunk if name == "floor" else [json.loads(t) for t in chunk]
                    start = time.process_time()
                    fn(arg)
                    totals[name] += time.process_time() - start
        finally:
            gc.enable()
        for name, total in totals.items():
            times[name].append(total)
    return {name: statistics.median(t) / len(texts) * 1e6 for name, t in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bodies", type=int, default=20_000, help="bodies of each kind")
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()

    rng = random.Random(2026)
    kinds = {"target.added": [target_body(rng) for _ in range(args.bodies)],
             "inspector.added": [inspector_body(rng, i) for i in range(args.bodies)]}
    for type_, bodies in kinds.items():
        for body in bodies:
            if check_body(type_, body) != ([], []) or _check_body_full(type_, body) != ([], []):
                raise AssertionError(f"{type_}: a bench body is not clean: {body}")

    print(f"Registry field rules: {args.bodies:,} valid bodies of each kind, median of "
          f"{args.runs} runs, Python {sys.version.split()[0]}; us per body (CPU time)")
    header = (f"{'body':<16} {'full (before)':>14} {'fast (after)':>13} {'floor':>8} "
              f"{'speedup':>8} {'fast/floor':>11}")
    print(header)
    print("-" * len(header))
    missed = []
    for type_, bodies in kinds.items():
        texts = [json.dumps(b, ensure_ascii=False) for b in bodies]

        def full(batch: list[dict[str, Any]], type_: str = type_) -> None:
            for body in batch:
                _check_body_full(type_, body)

        def fast(batch: list[dict[str, Any]], type_: str = type_) -> None:
            for body in batch:
                check_body(type_, body)

        def floor(batch: list[str]) -> None:
            for text in batch:
                json.loads(text)

        m = median_us(texts, {"full": full, "fast": fast, "floor": floor}, args.runs)
        print(f"{type_:<16} {m['full']:12.2f}us {m['fast']:11.2f}us {m['floor']:6.2f}us "
              f"{m['full'] / m['fast']:7.1f}x {m['fast'] / m['floor']:10.2f}x")
        if m["fast"] > TARGET_US:
            missed.append(f"{type_} {m['fast']:.2f}us")
    print(f"target (valid body <= {TARGET_US:g}us on the fast path):",
          "met" if not missed else "missed by " + "; ".join(missed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
