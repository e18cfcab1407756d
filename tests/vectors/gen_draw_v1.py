"""Regenerate draw-v1.json: `python tests/vectors/gen_draw_v1.py > tests/vectors/draw-v1.json`.

Everything is fixed (seed inputs, pool, roster, conflicts), so the output is stable; the
expected values come from the verifier and tests/test_draw.py recomputes them from
SPEC.md section 14 without the project's code. The data is small but chosen so that the
load cap binds, one target is unfillable and every reason code of 14.8 occurs (``in_team``
and ``recused`` in the substitution example, where alone they can). The beacon signature
is the loe-quicknet round 657413 example of SPEC.md 13.1.5, reused as fixed bytes: this
vector does not exercise the round choice of 14.4.
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from verifier._draw import (
    INELIGIBLE,
    TARGET_FIELDS,
    Candidate,
    Matcher,
    Member,
    Snapshot,
    draw_seed,
    execute,
    inspector_score,
    matches,
    pool_rule,
    reveal_commitment,
    stratum_of,
    target_score,
)
from verifier._rfc3797 import key_string
from verifier._uscc import USCC_CHARSET, org_code_check_char, uscc_check_char

PLAN_ID = "2026-ZC-SCJGJ-joint"
BATCH_ID = "T2-B1"
COMMIT_HASH = hashlib.sha256(b"draw-v1 test vector: the draw.committed entry").digest()
SIGNATURE = bytes.fromhex("b713718a38ae728dfd477991af2822e08d2f305e47718cef9f7848ce4050e7be"
                          "41076862b98fad56e91a6b85b89cd97b")
LOTTERY = [[27, 3, 31, 11, 22, 14], [9], [5, 0, 7]]  # 双色球 red, blue; 福彩3D
PARTIES = ["ZC-SCJGJ", "ZC-SWJ"]
UNITS = ["昆仑镇市场监管所", "罗村镇市场监管所", "般阳路街道市场监管所"]

BATCH: dict[str, Any] = {
    "batch_id": BATCH_ID,
    "draw_date": "2026-03-17",
    "draw_time": "10:00",
    "pool": {"registries": ["ZC-SCJGJ/F"], "status": ["存续", "在业"]},
    # Non-ASCII ids: LP lengths are UTF-8 byte counts, not characters.
    "strata": [
        {"id": "1-高风险", "filter": {"risk": ["C", "D"]}, "ratio_ppm": 312_500},
        {"id": "2-餐饮", "filter": {"industry": ["H62"]}, "ratio_ppm": 250_000},
        {"id": "3-一般", "filter": {}, "ratio_ppm": 125_000},
    ],
    "rounding": "half_up",
    "exclusion_days": 180,
    "team": {"ZC-SWJ": 2, "ZC-SCJGJ": 2},
    "conflicts": {"declared": True, "same_unit": True, "prior_days": 365},
    "load_cap": 3,
    "randomness": {"beacon": "loe-quicknet", "lottery": ["双色球 2026030", "福彩3D 2026066"],
                   "commit_reveal": PARTIES},
}


def uscc(i: int) -> str:
    """A well-formed 18-character code (GB 32100 and GB 11714 check characters right)."""
    digest = hashlib.sha256(f"draw-v1/target/{i}".encode()).digest()
    org = "MA" + "".join(USCC_CHARSET[b % 31] for b in digest[:6])
    body = "91370302" + org + org_code_check_char(org)
    return body + uscc_check_char(body)


def target(i: int) -> dict[str, str]:
    """8 high-risk (two of them caterers: the first matching stratum wins), 10 caterers,
    12 others; units cycle through three 市场监管所."""
    if i < 8:
        industry, risk = ("H6210" if i % 4 == 0 else "F5211"), "CD"[i % 2]
    elif i < 18:
        industry, risk = ("H6210", "H6231")[i % 2], "AB"[i % 2]
    else:
        industry, risk = ("F5211", "C1391", "I6510")[i % 3], "AB"[i % 2]
    return {"uscc": uscc(i), "registry": "ZC-SCJGJ/F", "industry": industry,
            "region": "370302", "risk": risk, "status": "存续" if i % 5 else "在业",
            "unit": UNITS[i % 3]}


def inspector(cert: str, dept: str, unit: str, *, qualified: bool = True,
              valid_to: str = "2028-12-31", expert: bool = False) -> dict[str, Any]:
    return {"cert_no": cert, "dept": dept, "unit": unit, "qualified": qualified,
            "valid_from": "2024-01-01", "valid_to": valid_to, "expert": expert}


ROSTER = [
    inspector("37030200101", "ZC-SCJGJ", UNITS[0]),  # same unit as a third of the pool
    inspector("37030200102", "ZC-SCJGJ", UNITS[1]),
    inspector("37030200103", "ZC-SCJGJ", "区市场监管局执法大队"),
    inspector("37030200104", "ZC-SCJGJ", "区市场监管局执法大队"),
    inspector("37030200105", "ZC-SCJGJ", "区市场监管局执法大队", expert=True),
    inspector("37030200106", "ZC-SCJGJ", "区市场监管局执法大队", qualified=False),
    inspector("37030200107", "ZC-SCJGJ", "区市场监管局执法大队", valid_to="2025-12-31"),
    inspector("37030300201", "ZC-SWJ", "区商务局执法大队"),
    inspector("37030300202", "ZC-SWJ", "区商务局执法大队"),
    inspector("37030300203", "ZC-SWJ", "区商务局执法大队"),
    inspector("37030300204", "ZC-SWJ", "区商务局执法大队"),
]
# (cert_no, target index, kind): the first two pass someone over; the third is outranked
# by rule 1 (an expert); the last two concern targets not drawn.
CONFLICTS = [("37030200101", 17, "declared"), ("37030300202", 17, "prior"),
             ("37030200105", 3, "declared"), ("37030300203", 0, "prior"),
             ("37030200102", 20, "declared")]
EXCLUDED = [30, 31]  # drawn for the same matter within exclusion_days: not in the pool


def secret(dept: str) -> bytes:
    return hashlib.sha256(f"draw-v1 test secret/{dept}".encode()).digest()


def trace(matcher: Matcher, uscc: str) -> dict[str, list[list[str]]]:
    """Who was looked at for ``uscc`` and why each was passed over ("taken" otherwise),
    department by department, as Matcher.staff walks them (stops where it stops)."""
    out: dict[str, list[list[str]]] = {}
    team: list[str] = []
    for dept in sorted(matcher.team):
        need = matcher.team[dept]
        seen: list[list[str]] = []
        for c in matcher.ranking(uscc, dept):
            if need == 0:
                break
            reason = matcher.ineligible(c, uscc, team)
            seen.append([c.cert_no, reason or "taken"])
            if reason is None:
                team.append(c.cert_no)
                need -= 1
        out[dept] = seen
        if need:
            break
    return out


def main() -> None:
    targets = [target(i) for i in range(30)]
    rule = pool_rule(BATCH)
    pool = []
    for t in targets:
        stratum = stratum_of(BATCH, t)
        assert matches(rule, t) and stratum is not None
        pool.append({**t, "stratum": stratum})
    excluded = [uscc(i) for i in EXCLUDED]
    conflicts = [{"cert_no": c, "uscc": uscc(i), "kind": k} for c, i, k in CONFLICTS]

    snapshot = Snapshot(
        [Member(p["uscc"], p["stratum"], tuple(p[f] for f in TARGET_FIELDS)) for p in pool],
        [Candidate(**r) for r in ROSTER],
        {(c["cert_no"], c["uscc"]): c["kind"] for c in conflicts}, list(excluded))
    summary = snapshot.summary(BATCH)
    leaves = snapshot.leaves()

    lottery_key = key_string(LOTTERY)
    randomness = hashlib.sha256(SIGNATURE).digest()
    reveals = [(d, secret(d)) for d in PARTIES]
    seed = draw_seed(PLAN_ID, BATCH_ID, COMMIT_HASH, randomness, lottery_key, reveals)
    unrevealed = draw_seed(PLAN_ID, BATCH_ID, COMMIT_HASH, randomness, lottery_key,
                           [(PARTIES[0], reveals[0][1]), (PARTIES[1], None)])
    draw_date = date.fromisoformat(BATCH["draw_date"])

    # The walk of every target, taken on a twin matcher whose loads follow the draw's.
    outcome, matcher = execute(seed, snapshot, BATCH, draw_date)
    twin = Matcher(seed, snapshot, BATCH["team"], BATCH["load_cap"], True, draw_date)
    traces = []
    for u, _, _ in outcome.selected:
        traces.append({"uscc": u, "walk": trace(twin, u)})
        twin.staff(u)
    assert twin.loads == matcher.loads

    # Substitution: the first SCJGJ member of the first staffed target for whom someone
    # is left recuses (the load cap binds, so most teams have nobody left).
    dept_of = {r["cert_no"]: r["dept"] for r in ROSTER}
    for sub_uscc, _, _ in outcome.selected:
        team = outcome.teams.get(sub_uscc, [])
        out_cert = next((c for c in team if dept_of[c] == "ZC-SCJGJ"), "")
        remaining = [c for c in team if c != out_cert]
        matcher.loads[out_cert] = matcher.loads.get(out_cert, 0) - 1
        if team and matcher.substitute(sub_uscc, "ZC-SCJGJ", remaining, {out_cert}):
            break
        matcher.loads[out_cert] += 1
    sub_walk = []
    new = None
    for c in matcher.ranking(sub_uscc, "ZC-SCJGJ"):
        reason = matcher.ineligible(c, sub_uscc, remaining, {out_cert})
        sub_walk.append([c.cert_no, reason or "taken"])
        if reason is None:
            new = c.cert_no
            break
    assert new == matcher.substitute(sub_uscc, "ZC-SCJGJ", remaining, {out_cert})

    seen = {r for t in traces for walk in t["walk"].values() for _, r in walk}
    seen |= {r for _, r in sub_walk}
    assert seen >= set(INELIGIBLE), f"reason codes not exercised: {set(INELIGIBLE) - seen}"
    assert outcome.unfillable, "no unfillable target"

    out = {
        "about": "SSJ-DRAW-v1 (SPEC.md section 14) golden vector: recompute every field of "
                 "`expected` from `inputs`, `batch` and `snapshot` alone. Secrets are "
                 "test-only. The beacon signature is the loe-quicknet round 657413 example "
                 "of section 13.1.5, used as fixed bytes (the round choice of 14.4 is not "
                 "exercised). The `snapshot` lists are deliberately not in leaf order "
                 "(14.3 sorts them). `ranks`, `trace`, `loads` and `substitution.walk` are "
                 "informative: who 14.8 looks at, in rank order, and why each is passed "
                 "over. The substitution is 14.10 right after the draw, `out` itself "
                 "counting as recused.",
        "inputs": {
            "plan_id": PLAN_ID,
            "batch_id": BATCH_ID,
            "commit_hash": COMMIT_HASH.hex(),
            "beacon": {"chain": "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971",
                       "signature": SIGNATURE.hex(), "randomness": randomness.hex()},
            "lottery": {"numbers": LOTTERY, "key_string": lottery_key},
            "parties": [{"dept": d, "secret": s.hex(),
                         "commitment": reveal_commitment(PLAN_ID, BATCH_ID, d, s)}
                        for d, s in reveals],
        },
        "batch": BATCH,
        "snapshot": {"pool": pool, "roster": ROSTER, "conflicts": conflicts,
                     "excluded": excluded},
        "expected": {
            "commitment": summary,
            "first_leaves": {name: ls[0].decode() for name, ls in leaves.items()},
            "seed": seed.hex(),
            "seed_if_ZC-SWJ_unrevealed": unrevealed.hex(),
            "scores": [{"uscc": m.uscc, "stratum": m.stratum,
                        "score": target_score(seed, m.stratum, m.uscc).hex()}
                       for m in snapshot.pool],
            "outcome": outcome.to_json(),
            "ranks": [{"uscc": u, "dept": d,
                       "ranking": [[c.cert_no, inspector_score(seed, u, d, c.cert_no).hex()]
                                   for c in matcher.ranking(u, d)]}
                      for u, _, _ in outcome.selected for d in sorted(BATCH["team"])],
            "trace": traces,
            "loads": dict(sorted(twin.loads.items())),
            "substitution": {"uscc": sub_uscc, "dept": "ZC-SCJGJ", "out": out_cert,
                             "in": new, "team_after": [new if c == out_cert else c
                                                       for c in team],
                             "walk": sub_walk},
        },
    }
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
