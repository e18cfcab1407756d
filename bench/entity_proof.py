"""Entity proof benchmark (SPEC.md 22, issue 16): size and verify time in Python and in
headless Chromium for pools of 10k, 100k and 1M members, beside the full bundle's.

    python bench/entity_proof.py [--sizes 10000,100000,1000000] [--runs 9]
                                 [--browser-runs 3] [--bundle-max 1000000]

Nothing in a proof is synthetic: for each N a real log is built and every proof verifies
(exit 0) in Python and in Chromium. The log: the demo year (tests/portal_year.py, 200
companies, a v1 log with real signed entries and witnessed checkpoints), then the market
bureau imports N more companies into its registry line ZC-SCJGJ/F (one signed batch
import, N entries), files, has received and publishes a plan for the next year whose one
batch draws from that line, commits, reveals and executes the draw on a beacon round of
the demo's chain, and the witnesses cosign. So the log holds N + about 660 entries, the
genesis and keys at its start and the plan and draw after the import, and the pool is N
plus the demo's 18 ZC-SCJGJ/F companies (printed as the commitment's pool.size). What is
made up, as in the demo: the companies (generated codes and names) and the beacon chain
(ledger._demo's DevBeacon: a real BLS12-381 bls-unchained-g1-rfc9380 chain, the same
check as quicknet's, but signed locally, not by drand). The proof uses the first
checkpoint after the draw, so the draw's entries sit at that tree's right edge whatever
the log grows to later. The batch samples 1 ppm per risk class, rounded up: one
company per stratum, four in all at every N, as the demo's draws pick a handful. The
execution entry lists every selected company, so the proof grows with the SAMPLE (the
bytes per selected company are printed): the 20 KB figure holds for such a sample.

Per N: the entity proofs of a drawn and of a not-drawn pool member (bytes; Python
``verify_entity_proof`` median of --runs, each with the BLS check: the verifier's cache
of verified beacons is emptied before each run); in Chromium (jsverifier/bench/eproof.html,
the page's own modules, a fresh browser per measurement, median of --browser-runs): the
first verification after load cold, the page's background BLS warm-up (the cold BLS
check) and the first verification after it (what a user waits after pressing verify),
the warm median and the BLS check alone warm; and the draw's full bundle (size,
``verify_bundle`` time, one run) up to --bundle-max members (default: every size; the 1M
bundle is 208 MB and takes about 20 s to verify), above it only the
size of its pool list (the part that grows), not built.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._cdp import Browser, chromium, serve
from ledger import Ledger, Parties
from ledger._admin import file_plan, publish_plan, receive_plan
from ledger._bundle import make_bundle
from ledger._demo import ManualClock, _import, demo_beacon, demo_plan
from ledger._draws import commit_draw, execute_draw, reveal_secret
from ledger._entityproof import make_entity_proof
from tests.portal_year import _SHANGHAI, DEPT, YEAR, build_year
from verifier._beacon import _check
from verifier._bundle import verify_bundle
from verifier._canonical import canonical
from verifier._draw import reveal_commitment
from verifier._entityproof import verify_entity_proof
from verifier._uscc import USCC_CHARSET, uscc_check_char

ROOT = Path(__file__).resolve().parents[1]
PLAN = f"{YEAR + 1}-{DEPT}-bench"
BATCH = "T1-B1"
DRAW = f"{PLAN}/{BATCH}"
LINE = f"{DEPT}/F"


def _at(day: date, hh: int) -> datetime:
    return datetime(day.year, day.month, day.day, hh, tzinfo=_SHANGHAI)


def _rows(start: int, stop: int) -> list[tuple[str, str, dict[str, Any]]]:
    """Companies ``start..stop-1``: valid, distinct codes (an "MB" body the demo's random
    "MA" codes never take)."""
    out = []
    for i in range(start, stop):
        digits = ""
        k = i
        for _ in range(7):
            k, r = divmod(k, 31)
            digits += USCC_CHARSET[r]
        body = "91370302MB" + digits
        code = body + uscc_check_char(body)
        out.append(("target.added", f"target/{code}", {
            "uscc": code, "dept": DEPT, "registry": LINE, "name": f"淄博测试商贸{i}有限公司",
            "industry": "F5299", "region": "370302", "risk": "AABBBCCD"[i % 8],
            "status": "存续", "unit": "般阳路街道市场监管所"}))
    return out


def build_log(root: Path, n: int) -> str:
    """The demo year, N more companies, and one draw over them (see the docstring)."""
    db, parties = build_year(root, targets=200, inspectors=40, excluding=False)
    ledger = Ledger(db)
    try:
        _big_draw(ledger, parties, n)
    finally:
        ledger.close()
    return db


def _big_draw(ledger: Ledger, parties: Parties, n: int) -> None:
    beacon = demo_beacon(YEAR)
    clock = ManualClock(_at(date(YEAR + 1, 1, 10), 9))
    ledger.chain.clock = clock
    key, authority = parties.load(f"dept-{DEPT}"), parties.load("authority")
    log_key, witnesses = parties.load("log"), parties.witness_tools()
    for start in range(0, n, 100_000):  # batches of 100k rows, as large files are split
        _import(ledger, key, DEPT, "targets", f"bench-{start}.xlsx",
                _rows(start, min(n, start + 100_000)), clock())
    plan = demo_plan(DEPT, YEAR + 1, [LINE], ratios={"A": 1, "B": 1, "C": 1, "D": 1})
    task = plan["tasks"][0]
    batch = task["batches"][0]
    batch["draw_date"] = f"{YEAR + 1}-03-02"
    batch["randomness"] = {**batch["randomness"], "beacon": beacon.chain.chain_hash}
    plan.update(plan_id=PLAN, tasks=[task])
    clock.at(_at(date(YEAR + 1, 1, 20), 9))
    file_plan(ledger, key, plan, now=clock())
    clock.at(_at(date(YEAR + 1, 1, 21), 9))
    receive_plan(ledger, authority, PLAN, date(YEAR + 1, 1, 21), now=clock())
    clock.at(_at(date(YEAR + 1, 1, 22), 9))
    publish_plan(ledger, key, DEPT, PLAN, f"https://example.gov.cn/{PLAN}", now=clock())
    secret = bytes(range(32))
    clock.at(_at(date(YEAR + 1, 3, 1), 16))
    commit_draw(ledger, key, PLAN, BATCH, beacon.chain,
                {DEPT: reveal_commitment(PLAN, BATCH, DEPT, secret)}, now=clock())
    ledger.checkpoint(log_key, witnesses, now=clock)
    clock.at(_at(date(YEAR + 1, 3, 2), 8))
    reveal_secret(ledger, key, DEPT, PLAN, BATCH, secret, now=clock())
    round_ = beacon.chain.round_at(int(_at(date(YEAR + 1, 3, 2), 10).timestamp()))
    clock.at(datetime.fromtimestamp(beacon.chain.round_time(round_) + 60, _SHANGHAI))
    execute_draw(ledger, key, PLAN, BATCH, beacon.chain, beacon.sign(round_), now=clock())
    ledger.checkpoint(log_key, witnesses, now=clock)


def _median(fn: Callable[[], object], runs: int) -> float:
    """Median seconds of ``runs`` calls, each with the verifier's cache of verified
    beacons emptied first, so every call pays its BLS check as a fresh process does."""
    times = []
    for _ in range(runs):
        _check.cache_clear()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _browser(exe: str, base: str, proof: str, trust: str, runs: int, reps: int
             ) -> dict[str, float | int | None]:
    """Medians over ``reps`` fresh browsers of the bench page's figures, cold and with
    the page's warm-up."""
    got: dict[str, list[Any]] = {}
    for warmup in (False, True):
        for _ in range(reps):
            browser = Browser(exe)
            try:
                browser.open(f"{base}/jsverifier/bench/eproof.html")
                options = {"proof": proof, "trust": trust, "runs": runs, "warmup": warmup}
                out = browser.evaluate(f"window.bench({json.dumps(options)})")
            finally:
                browser.close()
            if out["exit_code"] != 0 or (warmup and not out["warmup_ok"]):
                raise SystemExit(f"Chromium: {proof} gave exit {out['exit_code']}")
            prefix = "warmed_" if warmup else "cold_"
            for k in ("first_ms", "warm_ms", "bls_warm_ms", "warmup_ms"):
                if out[k] is not None:
                    got.setdefault(prefix + k, []).append(out[k])
    return {k: statistics.median(v) for k, v in got.items()}


def measure(root: Path, n: int, args: argparse.Namespace, base: str | None,
            exe: str | None) -> dict[str, Any]:
    """Build the log of N, write its two proofs under ``root``, time them and the bundle."""
    t = time.perf_counter()
    db = build_log(root / f"log-{n}", n)
    build_s = time.perf_counter() - t
    led = Ledger(db, create=False)
    try:
        trust = led.trust()
        info = led.state.draws[f"draw/{DRAW}"]
        drawn = sorted(u for u, _ in info.teams)[0]
        other = next(r[2]["uscc"] for r in _rows(n // 2, n // 2 + 10)
                     if r[2]["uscc"] not in {u for u, _ in info.teams})
        t = time.perf_counter()
        proofs = {"drawn": make_entity_proof(led, DRAW, drawn),
                  "not_drawn": make_entity_proof(led, DRAW, other)}
        write_s = (time.perf_counter() - t) / 2
        row: dict[str, Any] = {"n": n, "log_entries": led.size, "build_s": build_s,
                               "writer_s": write_s, "pool_size": info.commit["pool"]["size"],
                               "selected": len(info.teams)}
        for name, proof in proofs.items():
            data = canonical(proof)
            result = verify_entity_proof(data, trust)
            assert result.exit_code == 0, result.steps
            row[name] = {"bytes": len(data), "verdict": (result.answer or {}).get("verdict"),
                         "python_ms": 1000 * _median(partial(verify_entity_proof, data,
                                                             trust), args.runs),
                         "parts": {k: len(canonical(v)) for k, v in proof.items()},
                         "proof_hashes": len(proof["proof"]),
                         "pool_hashes": len(proof["pool"].get("proof", []))}
            (root / f"{n}-{name}.json").write_bytes(data)
        execution = next(e for e in proofs["drawn"]["entries"] if e["type"] == "draw.executed")
        row["bytes_per_selected"] = len(canonical(execution["body"]["outcome"]["selected"])
                                        ) // max(1, row["selected"])
        (root / "trust.json").write_bytes(canonical(trust.to_json()))
        if n <= args.bundle_max:
            bundle = canonical(make_bundle(led, DRAW))
            _check.cache_clear()
            t = time.perf_counter()
            report, _ = verify_bundle(bundle, trust)
            row["bundle"] = {"bytes": len(bundle), "python_s": time.perf_counter() - t,
                             "exit_code": report.exit_code}
        else:
            row["bundle"] = {"pool_list_bytes": 0}  # filled below: not built at this size
    finally:
        led.close()
    if "pool_list_bytes" in row["bundle"]:
        leaf = len(json.loads(canonical(proofs["drawn"]["pool"]))["leaf"]) + 3
        row["bundle"]["pool_list_bytes"] = leaf * row["pool_size"]
    if base is not None and exe is not None:
        rel = root.relative_to(ROOT)
        row["chromium"] = _browser(exe, base, f"/{rel}/{n}-drawn.json", f"/{rel}/trust.json",
                                   args.runs, args.browser_runs)
        check = _browser(exe, base, f"/{rel}/{n}-not_drawn.json", f"/{rel}/trust.json", 1, 1)
        row["chromium_not_drawn_cold_ms"] = check["cold_first_ms"]
    return row


def _print(row: dict[str, Any]) -> None:
    d, b, c = row["drawn"], row["bundle"], row.get("chromium")
    print(f"pool {row['pool_size']:>9,} members, log {row['log_entries']:>9,} entries "
          f"(built in {row['build_s']:.0f} s, proof written in {row['writer_s']:.1f} s):")
    print(f"  entity proof {d['bytes']:,} bytes drawn / {row['not_drawn']['bytes']:,} not "
          f"drawn (entries {d['parts']['entries']:,}, checkpoint {d['parts']['checkpoint']:,}, "
          f"multi-proof {d['proof_hashes']} hashes {d['parts']['proof']:,}, pool path "
          f"{d['pool_hashes']} hashes, trust {d['parts']['trust']:,}); "
          f"{row['selected']} selected, ~{row['bytes_per_selected']} bytes each")
    print(f"  Python verify {d['python_ms']:.1f} ms drawn, "
          f"{row['not_drawn']['python_ms']:.1f} ms not drawn (median, BLS check included)")
    if c:
        print(f"  Chromium: cold first verify {c['cold_first_ms']:.0f} ms; page warm-up (first "
              f"BLS and Ed25519 checks) {c['warmed_warmup_ms']:.0f} ms, then verify "
              f"{c['warmed_first_ms']:.0f} ms; "
              f"warm {c['cold_warm_ms']:.0f} ms (BLS alone {c['cold_bls_warm_ms']:.0f} ms); "
              f"not drawn cold {row['chromium_not_drawn_cold_ms']:.0f} ms")
    if "bytes" in b:
        print(f"  full bundle {b['bytes']:,} bytes, Python verify {b['python_s']:.2f} s "
              f"(exit {b['exit_code']})")
    else:
        print(f"  full bundle not built at this size: its pool list alone "
              f"~{b['pool_list_bytes'] / 1e6:.0f} MB")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--browser-runs", type=int, default=3)
    ap.add_argument("--bundle-max", type=int, default=1_000_000)
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args()
    exe = None if args.no_browser else chromium()
    if exe is None and not args.no_browser:
        print("chromium not found: Python figures only (apt-get install chromium)")
    (ROOT / "var").mkdir(exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory(dir=ROOT / "var", prefix="bench-eproof-") as tmp, \
            serve(ROOT) as base:
        for n in (int(s) for s in args.sizes.split(",")):
            row = measure(Path(tmp), n, args, base if exe else None, exe)
            _print(row)
            rows.append(row)
    print(json.dumps(rows, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
