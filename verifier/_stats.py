"""Statistics across the year's draws (RULES-RESEARCH V18; SPEC.md section 16.4).

Each draw is checked on its own (section 14.11); these figures look across draws for what
single checks cannot show: an entity drawn far more often than its inclusion probabilities
allow, inspectors carrying most of the load, the same inspector meeting the same entity
again, voids and substitutions per department. Every test states its statistic and
threshold in the report; only the inclusion test can make a finding.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from verifier._draw import Outcome, Snapshot
from verifier._state import VIOLATION, Finding

__all__ = ["ALPHA", "YearStats"]

ALPHA = 0.001  # family-wise: divided by the number of entities tested (Bonferroni)


def poisson_tail(k: int, mean: float) -> float:
    """P(X >= k) for X ~ Poisson(mean): an upper bound-like approximation of the
    Poisson-binomial count of a small-probability entity."""
    if k <= 0:
        return 1.0
    term = math.exp(-mean)
    below = term
    for i in range(1, k):
        term *= mean / i
        below += term
    return max(0.0, 1.0 - below)


class YearStats:
    """Accumulates per-entity inclusion, inspector loads and pairs over executed draws."""

    def __init__(self) -> None:
        # uscc -> expected inclusions (a float per entity: a million of them stay small);
        # observed inclusions are counted only for the few drawn.
        self.expected: dict[str, float] = {}
        self.observed: Counter[str] = Counter()
        self._floats: dict[float, float] = {}
        self.loads: dict[str, Counter[str]] = {}  # dept -> cert_no -> teams
        self.pairs: Counter[tuple[str, str]] = Counter()
        self.draws = 0

    def add(self, snapshot: Snapshot, sizes: dict[str, int], outcome: Outcome,
            dept_of: dict[str, str]) -> None:
        self.draws += 1
        counts: Counter[str] = Counter(m.stratum for m in snapshot.pool)
        share = {h: sizes.get(h, 0) / n for h, n in counts.items()}
        expected, floats = self.expected, self._floats
        get = expected.get
        for m in snapshot.pool:
            # Sums of a few shares take few distinct values: each stored once.
            value = get(m.uscc, 0.0) + share[m.stratum]
            expected[m.uscc] = floats.setdefault(value, value)
        for uscc, _, _ in outcome.selected:
            self.observed[uscc] += 1
        for uscc, team in outcome.teams.items():
            for cert in team:
                self.loads.setdefault(dept_of.get(cert, "?"), Counter())[cert] += 1
                self.pairs[(cert, uscc)] += 1

    def finish(self, voided: dict[str, int], substituted: dict[str, int]
               ) -> tuple[dict[str, Any], list[Finding]]:
        m = max(1, sum(1 for e in self.expected.values() if e > 0))
        threshold = ALPHA / m
        tested = [(u, self.expected[u], o) for u, o in self.observed.items()]
        flagged = sorted((poisson_tail(o, e), u, e, o) for u, e, o in tested if o >= 2
                         and poisson_tail(o, e) < threshold)
        findings = [Finding("V18.inclusion", VIOLATION, None,
                            f"对象 {u} 全年被抽中 {o} 次，按各次抽取的入选概率期望约 {e:.2f} 次，"
                            f"出现概率 {p:.1e} 低于阈值 {threshold:.1e}",
                            f"entity {u} was drawn {o} times this year where its inclusion "
                            f"probabilities expect about {e:.2f}; the chance of that, {p:.1e}, "
                            f"is below the threshold {threshold:.1e}")
                    for p, u, e, o in flagged[:20]]
        smallest = min((poisson_tail(o, e) for _, e, o in tested if o >= 1), default=1.0)
        loads = {}
        for dept, counter in sorted(self.loads.items()):
            values = list(counter.values())
            mean = sum(values) / len(values)
            sd = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
            loads[dept] = {"inspectors": len(values), "assignments": sum(values),
                           "mean": round(mean, 2), "max": max(values),
                           "cv": round(sd / mean, 3) if mean else 0.0}
        repeated = sum(1 for n in self.pairs.values() if n > 1)
        tests = [
            {"name": "inclusion",
             "zh": "单个对象全年入选次数与入选概率之和相比是否过多（泊松尾概率，Bonferroni 校正）",
             "en": "is any entity drawn more often than its summed inclusion probabilities "
                   "allow (Poisson tail, Bonferroni-corrected)",
             "statistic": smallest, "threshold": threshold,
             "verdict": "flag" if flagged else "pass",
             "detail": f"{m} entities, {len(flagged)} flagged"},
            {"name": "repeated_pairs", "zh": "同一执法人员与同一对象在一年内多次配对",
             "en": "the same inspector paired with the same entity more than once this year",
             "statistic": repeated, "threshold": None, "verdict": "info",
             "detail": "reported, not a finding: the plan's prior-inspection window decides"},
        ]
        return {"draws": self.draws, "tests": tests, "loads": loads,
                "voided": voided, "substituted": substituted}, findings
