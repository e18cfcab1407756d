"""SSJ-DRAW-v1 (SPEC.md section 14): the golden vector, twice, and the draw's statistics.

The first part is a minimal draw written from SPEC.md section 14 alone (hashlib, hmac,
json): it recomputes every expected value of tests/vectors/draw-v1.json, as a third party
would. The second part checks the verifier's functions give the same values. The rest
checks properties the vector cannot show: uniform selection, independence from input
order, the sample-size arithmetic and the counterfactual the audit's V4.churn relies on.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import random
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from verifier._canonical import dumps
from verifier._draw import (
    TARGET_FIELDS,
    Candidate,
    Matcher,
    Member,
    Snapshot,
    counterfactual,
    draw_seed,
    execute,
    inspector_score,
    lp,
    matches,
    pool_leaf_hashes,
    pool_rule,
    reveal_commitment,
    sample_size,
    sample_sizes,
    select,
    start_summary,
    stratum_of,
    target_score,
)
from verifier._errors import FormatError
from verifier._rfc3797 import key_string

VECTORS = Path(__file__).resolve().parent / "vectors"
V: dict[str, Any] = json.loads((VECTORS / "draw-v1.json").read_text(encoding="utf-8"))
INPUTS, BATCH, SNAP, EXPECTED = V["inputs"], V["batch"], V["snapshot"], V["expected"]


# --- an independent draw, from SPEC.md section 14 alone ------------------------------------
ALG = "SSJ-DRAW-v1"
Walk = dict[str, list[list[str]]]


def i_lp(*fields: bytes | str) -> bytes:
    out = b""
    for f in fields:
        data = f.encode("utf-8") if isinstance(f, str) else f
        out += len(data).to_bytes(4, "big") + data
    return out


def i_hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def i_jcs(obj: object) -> bytes:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def i_mth(hashes: list[bytes]) -> bytes:
    """RFC 6962 Merkle Tree Hash over leaf hashes (section 7.1)."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return hashlib.sha256(b"\x01" + i_mth(hashes[:k]) + i_mth(hashes[k:])).digest()


def i_root(leaves: list[bytes]) -> str:
    return i_mth([hashlib.sha256(b"\x00" + leaf).digest() for leaf in leaves]).hex()


def i_key_string(sources: list[list[int]]) -> str:
    """13.2.1 for integer numbers: each source sorted, `n.` each, then `/`."""
    return "".join("".join(f"{n}." for n in sorted(src)) + "/" for src in sources)


def i_seed(plan_id: str, batch_id: str, commit_hash: bytes, randomness: bytes, key: str,
           reveals: list[tuple[str, bytes | None]]) -> bytes:
    fields: list[bytes | str] = [ALG, plan_id, batch_id, commit_hash, randomness, key]
    for dept, secret in reveals:
        fields += [dept, secret if secret is not None else b""]
    return i_hmac(ALG.encode(), i_lp(*fields))


def i_sample(n: int, ppm: int, rounding: str) -> int:
    if n == 0:
        return 0
    exact = n * ppm
    size = {"ceil": (exact + 999_999) // 10**6, "floor": exact // 10**6,
            "half_up": (exact + 500_000) // 10**6}[rounding]
    return min(n, max(1, size))


def i_matches(flt: dict[str, list[str]], target: dict[str, str]) -> bool:
    return all(any(target[name].startswith(v) if name in ("industry", "region")
                   else target[name] == v for v in values) for name, values in flt.items())


def i_stratum(batch: dict[str, Any], target: dict[str, str]) -> str | None:
    pool = batch["pool"]
    rule = {"registry": pool["registries"]}
    rule.update({k: v for k, v in pool.items() if k != "registries"})
    if not i_matches(rule, target):
        return None
    return next((s["id"] for s in batch["strata"] if i_matches(s["filter"], target)), None)


def i_commitment(batch: dict[str, Any], snap: dict[str, Any]) -> dict[str, Any]:
    """14.3: each list's leaves, sorted, RFC 6962 root and size; strata and samples."""
    fields = ("industry", "region", "registry", "risk", "status", "stratum", "unit", "uscc")
    pool = sorted(snap["pool"], key=lambda t: t["uscc"].encode())
    roster = sorted(snap["roster"], key=lambda c: (c["dept"].encode(), c["cert_no"].encode()))
    conflicts = sorted(snap["conflicts"], key=lambda c: (c["cert_no"].encode(),
                                                         c["uscc"].encode()))
    leaves = {
        "pool": [i_jcs({f: t[f] for f in fields}) for t in pool],
        "roster": [i_jcs({f: c[f] for f in ("cert_no", "dept", "expert", "qualified", "unit",
                                               "valid_from", "valid_to")}) for c in roster],
        "conflicts": [i_jcs({f: c[f] for f in ("cert_no", "kind", "uscc")}) for c in conflicts],
        "excluded": [i_jcs({"uscc": u}) for u in sorted(snap["excluded"], key=str.encode)],
    }
    out: dict[str, Any] = {name: {"root": i_root(ls), "size": len(ls)}
                           for name, ls in leaves.items()}
    counts = {s["id"]: sum(t["stratum"] == s["id"] for t in pool) for s in batch["strata"]}
    out["pool"]["strata"] = counts
    out["pool"]["sample"] = {s["id"]: i_sample(counts[s["id"]], s["ratio_ppm"], batch["rounding"])
                             for s in batch["strata"]}
    out["first_leaves"] = {name: ls[0].decode() for name, ls in leaves.items()}
    return out


class IDraw:
    """14.7 and 14.8 as written: bottom-k per stratum, then teams in processing order."""

    def __init__(self, seed: bytes, batch: dict[str, Any], snap: dict[str, Any]) -> None:
        self.seed, self.batch = seed, batch
        self.pool = snap["pool"]
        self.unit = {t["uscc"]: t["unit"] for t in self.pool}
        self.roster = snap["roster"]
        self.conflicts = {(c["cert_no"], c["uscc"]): c["kind"] for c in snap["conflicts"]}
        self.day = date.fromisoformat(batch["draw_date"])
        self.loads: Counter[str] = Counter()

    def score(self, stratum: str, uscc: str) -> bytes:
        return i_hmac(self.seed, i_lp("T", stratum, uscc))

    def select(self) -> tuple[list[tuple[bytes, str, str]], dict[str, bytes]]:
        chosen: list[tuple[bytes, str, str]] = []
        cutoffs: dict[str, bytes] = {}
        for s in self.batch["strata"]:
            members = [t["uscc"] for t in self.pool if t["stratum"] == s["id"]]
            n = i_sample(len(members), s["ratio_ppm"], self.batch["rounding"])
            ranked = sorted((self.score(s["id"], u), u.encode(), u) for u in members)[:n]
            if n:
                cutoffs[s["id"]] = ranked[-1][0]
            chosen += [(sc, u, s["id"]) for sc, _, u in ranked]
        chosen.sort(key=lambda x: (x[0], x[1].encode()))
        return chosen, cutoffs

    def ranking(self, uscc: str, dept: str) -> list[dict[str, Any]]:
        people = [c for c in self.roster if c["dept"] == dept]
        return sorted(people, key=lambda c: (i_hmac(self.seed, i_lp("I", uscc, dept,
                                                                      c["cert_no"])),
                                             c["cert_no"].encode()))

    def passed_over(self, c: dict[str, Any], uscc: str, team: list[str],
                    recused: set[str]) -> str | None:
        """The rules of 14.8 in their order."""
        if c["expert"]:
            return "expert"
        if not c["qualified"]:
            return "unqualified"
        if not (date.fromisoformat(c["valid_from"]) <= self.day
                <= date.fromisoformat(c["valid_to"])):
            return "not_valid"
        if (c["cert_no"], uscc) in self.conflicts:
            return self.conflicts[(c["cert_no"], uscc)]
        if self.batch["conflicts"]["same_unit"] and c["unit"] == self.unit[uscc]:
            return "same_unit"
        if c["cert_no"] in team:
            return "in_team"
        if c["cert_no"] in recused:
            return "recused"
        if self.loads[c["cert_no"]] >= self.batch["load_cap"]:
            return "load"
        return None

    def staff(self, uscc: str) -> tuple[list[str], str | None, Walk]:
        team: list[str] = []
        walk: Walk = {}
        for dept in sorted(self.batch["team"], key=str.encode):
            need = self.batch["team"][dept]
            walk[dept] = []
            for c in self.ranking(uscc, dept):
                if need == 0:
                    break
                reason = self.passed_over(c, uscc, team, set())
                walk[dept].append([c["cert_no"], reason or "taken"])
                if reason is None:
                    team.append(c["cert_no"])
                    need -= 1
            if need:
                return [], dept, walk
        self.loads.update(team)
        return team, None, walk

    def run(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        chosen, cutoffs = self.select()
        selected, unfillable, traces = [], [], []
        for score, uscc, stratum in chosen:
            team, short, walk = self.staff(uscc)
            selected.append({"uscc": uscc, "stratum": stratum, "score": score.hex(),
                             "team": team})
            if short is not None:
                unfillable.append({"uscc": uscc, "dept": short})
            traces.append({"uscc": uscc, "walk": walk})
        outcome = {"seed": self.seed.hex(), "selected": selected,
                   "cutoffs": {k: v.hex() for k, v in sorted(cutoffs.items(),
                                                             key=lambda kv: kv[0].encode())},
                   "unfillable": unfillable}
        return outcome, traces

    def substitute(self, uscc: str, dept: str, team: list[str], out: str
                   ) -> tuple[str | None, list[list[str]]]:
        """14.10: out's load given back, the team without out, out itself recused."""
        self.loads[out] -= 1
        rest = [c for c in team if c != out]
        walk = []
        for c in self.ranking(uscc, dept):
            reason = self.passed_over(c, uscc, rest, {out})
            walk.append([c["cert_no"], reason or "taken"])
            if reason is None:
                return c["cert_no"], walk
        return None, walk


def i_vector_seed(unrevealed: str | None = None) -> bytes:
    reveals = [(p["dept"], None if p["dept"] == unrevealed else bytes.fromhex(p["secret"]))
               for p in INPUTS["parties"]]
    randomness = hashlib.sha256(bytes.fromhex(INPUTS["beacon"]["signature"])).digest()
    return i_seed(INPUTS["plan_id"], INPUTS["batch_id"], bytes.fromhex(INPUTS["commit_hash"]),
                  randomness, i_key_string(INPUTS["lottery"]["numbers"]), reveals)


def test_independent_randomness_inputs() -> None:
    beacon = INPUTS["beacon"]
    assert hashlib.sha256(bytes.fromhex(beacon["signature"])).hexdigest() == beacon["randomness"]
    assert i_key_string(INPUTS["lottery"]["numbers"]) == INPUTS["lottery"]["key_string"]
    for p in INPUTS["parties"]:
        secret = bytes.fromhex(p["secret"])
        assert len(secret) == 32
        digest = hashlib.sha256(i_lp(ALG + "/reveal", INPUTS["plan_id"], INPUTS["batch_id"],
                                     p["dept"], secret)).hexdigest()
        assert digest == p["commitment"]
    assert i_vector_seed().hex() == EXPECTED["seed"]
    assert i_vector_seed("ZC-SWJ").hex() == EXPECTED["seed_if_ZC-SWJ_unrevealed"]


def test_independent_snapshot_commitment() -> None:
    for t in SNAP["pool"]:
        assert i_stratum(BATCH, t) == t["stratum"]
    assert not set(SNAP["excluded"]) & {t["uscc"] for t in SNAP["pool"]}
    mine = i_commitment(BATCH, SNAP)
    assert mine.pop("first_leaves") == EXPECTED["first_leaves"]
    assert mine == EXPECTED["commitment"]


def test_independent_scores_selection_and_matching() -> None:
    seed = bytes.fromhex(EXPECTED["seed"])
    draw = IDraw(seed, BATCH, SNAP)
    scores = sorted(({"uscc": t["uscc"], "stratum": t["stratum"],
                      "score": draw.score(t["stratum"], t["uscc"]).hex()} for t in SNAP["pool"]),
                    key=lambda s: s["uscc"].encode())
    assert scores == EXPECTED["scores"]
    outcome, traces = draw.run()
    assert i_jcs(outcome) == i_jcs(EXPECTED["outcome"])
    assert traces == EXPECTED["trace"]
    assert dict(sorted((+draw.loads).items())) == EXPECTED["loads"]
    ranks = [{"uscc": s["uscc"], "dept": d,
              "ranking": [[c["cert_no"], i_hmac(seed, i_lp("I", s["uscc"], d,
                                                           c["cert_no"])).hex()]
                          for c in draw.ranking(s["uscc"], d)]}
             for s in outcome["selected"] for d in sorted(BATCH["team"], key=str.encode)]
    assert ranks == EXPECTED["ranks"]
    # An entity's own check (14.7): drawn exactly when at or below its stratum's cut-off.
    drawn = {s["uscc"] for s in outcome["selected"]}
    for s in scores:
        assert (s["score"] <= outcome["cutoffs"][s["stratum"]]) == (s["uscc"] in drawn)

    sub = EXPECTED["substitution"]
    team = next(s["team"] for s in outcome["selected"] if s["uscc"] == sub["uscc"])
    new, walk = draw.substitute(sub["uscc"], sub["dept"], team, sub["out"])
    assert (new, walk) == (sub["in"], sub["walk"])
    assert [new if c == sub["out"] else c for c in team] == sub["team_after"]


def test_vector_exercises_every_rule() -> None:
    """The vector is only worth replaying if it reaches every branch of 14.8."""
    reasons = {r for t in EXPECTED["trace"] for walk in t["walk"].values() for _, r in walk}
    reasons |= {r for _, r in EXPECTED["substitution"]["walk"]}
    assert reasons == {"taken", "expert", "unqualified", "not_valid", "declared", "prior",
                       "same_unit", "in_team", "recused", "load"}
    assert EXPECTED["outcome"]["unfillable"] and EXPECTED["substitution"]["in"]
    sample = EXPECTED["commitment"]["pool"]["sample"]
    assert len(EXPECTED["outcome"]["selected"]) == sum(sample.values())
    assert max(EXPECTED["loads"].values()) == BATCH["load_cap"]


# --- the verifier agrees -------------------------------------------------------------------
def vector_snapshot(rng: random.Random | None = None) -> Snapshot:
    """The vector's snapshot as the verifier holds it, optionally from shuffled lists."""
    pool, roster, conflicts = list(SNAP["pool"]), list(SNAP["roster"]), list(SNAP["conflicts"])
    excluded = list(SNAP["excluded"])
    if rng is not None:
        for items in (pool, roster, conflicts, excluded):
            rng.shuffle(items)
    return Snapshot(
        [Member(t["uscc"], t["stratum"], tuple(t[f] for f in TARGET_FIELDS)) for t in pool],
        [Candidate(**c) for c in roster],
        {(c["cert_no"], c["uscc"]): c["kind"] for c in conflicts}, excluded)


def verifier_seed(unrevealed: str | None = None) -> bytes:
    reveals = [(p["dept"], None if p["dept"] == unrevealed else bytes.fromhex(p["secret"]))
               for p in INPUTS["parties"]]
    return draw_seed(INPUTS["plan_id"], INPUTS["batch_id"], bytes.fromhex(INPUTS["commit_hash"]),
                     hashlib.sha256(bytes.fromhex(INPUTS["beacon"]["signature"])).digest(),
                     key_string(INPUTS["lottery"]["numbers"]), reveals)


def test_verifier_inputs_and_seed() -> None:
    assert lp("T", "1-高风险", "x") == i_lp("T", "1-高风险", "x")
    assert key_string(INPUTS["lottery"]["numbers"]) == INPUTS["lottery"]["key_string"]
    for p in INPUTS["parties"]:
        assert reveal_commitment(INPUTS["plan_id"], INPUTS["batch_id"], p["dept"],
                                 bytes.fromhex(p["secret"])) == p["commitment"]
    assert verifier_seed().hex() == EXPECTED["seed"]
    assert verifier_seed("ZC-SWJ").hex() == EXPECTED["seed_if_ZC-SWJ_unrevealed"]


def test_verifier_snapshot_commitment() -> None:
    rule = pool_rule(BATCH)
    for t in SNAP["pool"]:
        assert matches(rule, t) and stratum_of(BATCH, t) == t["stratum"]
    snapshot = vector_snapshot()
    assert snapshot.summary(BATCH) == EXPECTED["commitment"]
    leaves = snapshot.leaves()
    assert {name: ls[0].decode() for name, ls in leaves.items()} == EXPECTED["first_leaves"]


def test_pool_leaves_are_canonical_json() -> None:
    """The written-out leaf and the prefix-state hashes equal ``dumps`` of the member and
    ``leaf_hash`` of it, escapes included."""
    members = [Member("91370302MA3C5LR47K", s, (r, "F5211", "370302", "A", st, u))
               for s in ("A", "B\"q") for r in ("ZC-SCJGJ/F", "ZC-SCJGJ/食品")
               for st in ("存续", "在业\\x") for u in ("般阳路街道市场监管所", "\u2028所")]
    members.append(Member('9137\u00e9"\n', "A", members[0].fields))
    for m in members:
        assert m.leaf() == dumps(m.to_json()) == i_jcs(m.to_json())
    assert pool_leaf_hashes(members) == [hashlib.sha256(b"\0" + i_jcs(m.to_json())).digest()
                                         for m in members]


def test_summary_in_a_forked_child(monkeypatch: pytest.MonkeyPatch) -> None:
    """The background summary is the same dict; a child that fails is replaced by the
    summary computed in the parent, never by a wrong or missing one."""
    snapshot = vector_snapshot()
    expected = snapshot.summary(BATCH)
    assert start_summary(snapshot, BATCH, background=True)() == expected
    assert start_summary(snapshot, BATCH, background=False)() == expected
    parent = os.getpid()
    real = Snapshot.summary

    def failing_in_child(self: Snapshot, batch: Any) -> dict[str, Any]:
        if os.getpid() != parent:
            raise RuntimeError("the child fails")
        return real(self, batch)

    monkeypatch.setattr(Snapshot, "summary", failing_in_child)
    result = start_summary(snapshot, BATCH, background=True)
    assert result() == expected and result() is result()


def test_verifier_draw() -> None:
    seed = bytes.fromhex(EXPECTED["seed"])
    snapshot = vector_snapshot()
    assert [{"uscc": m.uscc, "stratum": m.stratum,
             "score": target_score(seed, m.stratum, m.uscc).hex()} for m in snapshot.pool
            ] == EXPECTED["scores"]
    day = date.fromisoformat(BATCH["draw_date"])
    outcome, matcher = execute(seed, snapshot, BATCH, day)
    assert outcome.to_json() == EXPECTED["outcome"]
    assert dict(sorted(matcher.loads.items())) == EXPECTED["loads"]
    for r in EXPECTED["ranks"]:
        assert [[c.cert_no, inspector_score(seed, r["uscc"], r["dept"], c.cert_no).hex()]
                for c in matcher.ranking(r["uscc"], r["dept"])] == r["ranking"]
    # The walk, replayed on a fresh matcher through the verifier's own rule function.
    twin = Matcher(seed, snapshot, BATCH["team"], BATCH["load_cap"], True, day)
    for t in EXPECTED["trace"]:
        team: list[str] = []
        for dept, walk in t["walk"].items():
            need = BATCH["team"][dept]
            cands = matcher.ranking(t["uscc"], dept)[:len(walk)]
            for c, (cert, reason) in zip(cands, walk, strict=True):
                assert c.cert_no == cert
                assert (twin.ineligible(c, t["uscc"], team) or "taken") == reason
                if reason == "taken":
                    team.append(cert)
                    need -= 1
            assert (need == 0) == (walk[-1][1] == "taken")
        twin.staff(t["uscc"])
    sub = EXPECTED["substitution"]
    rest = [c for c in outcome.teams[sub["uscc"]] if c != sub["out"]]
    matcher.loads[sub["out"]] -= 1
    assert matcher.substitute(sub["uscc"], sub["dept"], rest, {sub["out"]}) == sub["in"]
    ranked = matcher.ranking(sub["uscc"], sub["dept"])
    assert [[c.cert_no, matcher.ineligible(c, sub["uscc"], rest, {sub["out"]}) or "taken"]
            for c in ranked[:len(sub["walk"])]] == sub["walk"]


# --- properties ----------------------------------------------------------------------------
def one_stratum_snapshot(usccs: list[str]) -> Snapshot:
    fields = ("ZC-SCJGJ/F", "F5211", "370302", "A", "存续", "昆仑镇市场监管所")
    return Snapshot([Member(u, "s", fields) for u in usccs], [], {}, [])


def code(i: int) -> str:
    return f"91370302MA{i:07d}X"


ONE = {"strata": [{"id": "s", "filter": {}, "ratio_ppm": 100_000}], "rounding": "ceil"}
# chi2.ppf(0.999, 49) = 85.3506 (scipy.stats; checked below against the series of the
# regularised lower incomplete gamma function, P(X <= x) = P(49/2, x/2)).
CHI2_999_49 = 85.3506


def chi2_cdf(x: float, df: int) -> float:
    a, z = df / 2, x / 2
    term = total = 1 / a
    n = 0
    while term > 1e-17 * total:
        n += 1
        term *= z / (a + n)
        total += term
    return math.exp(a * math.log(z) - z - math.lgamma(a)) * total


def test_selection_is_uniform() -> None:
    """2,000 draws of 5 from 50 (seed i = SHA-256 of i as 4 bytes big-endian): each
    member's count against 200, chi-square at the 0.001 level with 49 degrees of freedom.

    Draws are without replacement, so counts vary a little less than multinomial ones
    (variance 2000·0.1·0.9, not 2000·0.1): the test is slightly conservative."""
    assert abs(chi2_cdf(CHI2_999_49, 49) - 0.999) < 1e-5
    pool = [code(i) for i in range(50)]
    snapshot = one_stratum_snapshot(pool)
    sizes = sample_sizes(ONE, snapshot.strata_counts(ONE))
    assert sizes == {"s": 5}
    counts: Counter[str] = Counter()
    for i in range(2000):
        seed = hashlib.sha256(i.to_bytes(4, "big")).digest()
        picked, cutoffs = select(seed, snapshot, sizes)
        usccs = [u for u, _, _ in picked]
        assert len(usccs) == len(set(usccs)) == 5
        assert cutoffs["s"] == max(score for _, _, score in picked)
        counts.update(usccs)
    assert set(counts) == set(pool)
    stat = sum((counts[u] - 200) ** 2 / 200 for u in pool)
    assert stat < CHI2_999_49, stat


def test_outcome_independent_of_input_order() -> None:
    seed = bytes.fromhex(EXPECTED["seed"])
    day = date.fromisoformat(BATCH["draw_date"])
    for r in range(5):
        rng = random.Random(r)
        snapshot = vector_snapshot(rng)
        assert snapshot.summary(BATCH) == EXPECTED["commitment"]
        assert execute(seed, snapshot, BATCH, day)[0].to_json() == EXPECTED["outcome"]
        shuffled = {k: list(v) for k, v in SNAP.items()}
        for items in shuffled.values():
            rng.shuffle(items)
        assert IDraw(seed, BATCH, shuffled).run()[0] == EXPECTED["outcome"]
    pool = [code(i) for i in range(500)]
    sizes = {"s": 37}
    first = select(seed, one_stratum_snapshot(pool), sizes)
    random.Random(7).shuffle(pool)
    assert select(seed, one_stratum_snapshot(pool), sizes) == first


@pytest.mark.parametrize(("n", "ppm", "ceil", "floor", "half_up"), [
    (0, 500_000, 0, 0, 0),            # empty stratum: nothing, not the minimum of 1
    (1, 1, 1, 1, 1),                  # at least 1 when N > 0
    (3, 100_000, 1, 1, 1),            # 0.3: floor and half_up give 0, raised to 1
    (10, 250_000, 3, 2, 3),           # 2.5 exactly: half_up rounds up
    (10, 249_999, 3, 2, 2),           # 2.49999
    (10, 250_001, 3, 2, 3),
    (12, 125_000, 2, 1, 2),           # 1.5
    (40, 100_000, 4, 4, 4),           # exact: all rules agree
    (7, 1_000_000, 7, 7, 7),          # the whole stratum
    (7, 1_500_000, 7, 7, 7),          # at most N (outside the plan's 1..10^6 range)
    (2**53 - 1, 999_999, 9007190247541737, 9007190247541736, 9007190247541736),  # no floats
])
def test_sample_sizes(n: int, ppm: int, ceil: int, floor: int, half_up: int) -> None:
    for rounding, want in (("ceil", ceil), ("floor", floor), ("half_up", half_up)):
        assert sample_size(n, ppm, rounding) == want == i_sample(n, ppm, rounding)


def test_sample_size_unknown_rounding() -> None:
    with pytest.raises(FormatError):
        sample_size(10, 100_000, "round")


def outsider(seed: bytes, lo: bytes, hi: bytes) -> str:
    """The first code not in the pool whose score lies strictly between lo and hi."""
    return next(code(i) for i in range(1000, 100_000)
                if lo < target_score(seed, "s", code(i)) < hi)


def test_counterfactual() -> None:
    """An entity taken out of the pool: below the cut-off it would have been drawn, above
    it not, when N_h + 1 gives the same n_h (50 and 51 at 10% floor both give 5)."""
    seed = hashlib.sha256(b"counterfactual").digest()
    snapshot = one_stratum_snapshot([code(i) for i in range(50)])
    batch = {**ONE, "rounding": "floor"}
    assert sample_size(50, 100_000, "floor") == sample_size(51, 100_000, "floor") == 5
    scores = sorted(target_score(seed, "s", m.uscc) for m in snapshot.pool)
    cutoff = select(seed, snapshot, {"s": 5})[1]["s"]
    assert cutoff == scores[4]
    below = outsider(seed, b"", cutoff)
    above = outsider(seed, cutoff, b"\xff" * 33)
    assert counterfactual(seed, snapshot, batch, below, "s")
    assert not counterfactual(seed, snapshot, batch, above, "s")
    # Reinstated, it ranks as the counterfactual says.
    for u, drawn in ((below, True), (above, False)):
        back = one_stratum_snapshot([m.uscc for m in snapshot.pool] + [u])
        picked = {p for p, _, _ in select(seed, back, {"s": 5})[0]}
        assert (u in picked) is drawn


def test_counterfactual_recomputes_the_sample_size() -> None:
    """V4.churn counts the entity back in (N_h + 1, n_h recomputed): at 10% ceil, 50 give 5
    and 51 give 6, so one scoring just above the cut-off would have been drawn too."""
    seed = hashlib.sha256(b"counterfactual").digest()
    snapshot = one_stratum_snapshot([code(i) for i in range(50)])
    scores = sorted(target_score(seed, "s", m.uscc) for m in snapshot.pool)
    between = outsider(seed, scores[4], scores[5])
    assert counterfactual(seed, snapshot, ONE, between, "s")
    above = outsider(seed, scores[5], b"\xff" * 33)
    assert not counterfactual(seed, snapshot, ONE, above, "s")
