"""Causes and consequences among an audit's findings (SPEC.md 9.3), and the department
each integrity finding is counted under.

One dropped line yields one pin-point finding and hundreds of knock-ons (every checkpoint
over it, every later member of its batch, the draws recomputed from the changed
registries). The report shows each cause first with a count of what follows from it; the
JSON keeps every finding and links each consequence to its cause. The rules are fixed and
look only at each finding's rule and entry numbers, so two auditors group alike.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from verifier._entry import Entry
from verifier._state import INTEGRITY, Finding, LogState

__all__ = ["Signers", "attribute", "causes", "groups", "signer_dept"]

# Findings that change the replayed tree or leave an entry unread.
_BREAKS_TREE = frozenset({"V1.format", "V1.seq", "V1.chain"})
# Findings that leave an entry missing or unread, so its stream's next entry lacks it.
_MISSING = frozenset({"V1.format", "V1.seq"})
_BATCH = frozenset({"V1.batch", "V1.signature"})
# Findings of a draw recomputed from registries and rosters replayed from the log.
_RECOMPUTED = frozenset({"V4.snapshot", "V4.churn", "V7.sample_size", "V8.seed",
                         "V8.selection", "V10.team", "V11.conflict", "V12.matching",
                         "V12.unfillable"})
_STREAM = frozenset({"AUTH.lifecycle", "AUTH.stream", "V1.version"})
_NEIGHBOUR = frozenset({"V1.time", "V1.replay"})
# Findings over a span of the log, not about one department's entries.
_SPANS = frozenset({"V1.checkpoint", "V1.truncated", "V1.unwitnessed", "V1.fork"})
_ROW = ("plans", "plans_on_time", "draws", "draws_verified", "results", "results_on_time",
        "published", "findings")  # a department row's counts (verifier._audit)


def _direct(findings: Sequence[Finding], by_rule: dict[str, list[int]], i: int) -> int | None:
    """The finding that finding ``i`` follows from directly, by the rules of SPEC 9.3."""
    f = findings[i]
    if f.seq is None:
        return None
    seq = f.seq

    def first(rules: frozenset[str], ok: Any) -> int | None:
        found = [j for r in rules for j in by_rule.get(r, ())
                 if j != i and ok(findings[j], findings[j].seq)]
        return min(found) if found else None

    if f.rule == "V1.checkpoint" and f.seq_end is not None:
        end = f.seq_end
        return first(_BREAKS_TREE, lambda c, s: seq <= s <= end)
    if f.rule == "V1.truncated" and f.seq_end is not None:
        if f.seq_end - seq + 1 <= len(by_rule.get("V1.seq", ())):
            return first(frozenset({"V1.seq"}), lambda c, s: True)
        return None
    if f.rule in _BATCH and f.seq_end is not None:
        # One signature over a batch's range fails when an entry in the range changed.
        end = f.seq_end
        return first(_BREAKS_TREE, lambda c, s: seq <= s <= end)
    if f.rule in _BATCH:
        # A broken batch member breaks every member after it.
        return first(_BREAKS_TREE | _BATCH,
                     lambda c, s: s == seq - 1 or (s == seq and c.rule in _BREAKS_TREE))
    if f.rule in _NEIGHBOUR:
        return first(_MISSING, lambda c, s: s in (seq - 1, seq))
    if f.rule in _STREAM:
        return first(_MISSING, lambda c, s: s < seq)
    if f.rule in _RECOMPUTED:
        earlier = [j for r in _BREAKS_TREE | _BATCH for j in by_rule.get(r, ())
                   if findings[j].kind == INTEGRITY and findings[j].seq < seq]  # type: ignore[operator]
        return min(earlier, key=lambda j: (findings[j].seq, j)) if earlier else None
    return None


def causes(findings: Sequence[Finding]) -> list[int | None]:
    """For each finding, the index of the root cause it follows from, or None when it is a
    cause itself. Chains are followed to their root; a cycle (which the rules above cannot
    make, since each step goes to an earlier entry or a tree-breaking finding) stops."""
    by_rule: dict[str, list[int]] = {}
    for j, c in enumerate(findings):
        if c.seq is not None:
            by_rule.setdefault(c.rule, []).append(j)
    direct = [_direct(findings, by_rule, i) for i in range(len(findings))]
    out: list[int | None] = []
    for i, d in enumerate(direct):
        seen = {i}
        while d is not None and direct[d] is not None and d not in seen:
            seen.add(d)
            d = direct[d]
        out.append(None if d in (None, i) else d)
    return out


def groups(cause: Sequence[int | None]) -> list[dict[str, Any]]:
    """[{cause, consequences, count}] for every cause, in report order."""
    follows: dict[int, list[int]] = {i: [] for i, c in enumerate(cause) if c is None}
    for i, c in enumerate(cause):
        if c is not None:
            follows[c].append(i)
    return [{"cause": i, "consequences": js, "count": len(js)} for i, js in follows.items()]


class Signers:
    """seq -> the department whose key signed the entry, in two bytes an entry (an export
    may hold millions), so integrity findings on any entry can name it."""

    def __init__(self) -> None:
        self.names: list[str] = [""]
        self.index: dict[str, int] = {"": 0}
        self.by_seq = array("H")
        self.far: dict[int, int] = {}  # seqs beyond the array (a crafted jump), few

    def note(self, seq: int, dept: str | None) -> None:
        code = self.index.get(dept or "")
        if code is None:
            if len(self.names) >= 65535:
                return
            code = self.index[dept or ""] = len(self.names)
            self.names.append(dept or "")
        if seq == len(self.by_seq):
            self.by_seq.append(code)
        elif 0 <= seq < len(self.by_seq):
            self.by_seq[seq] = code
        elif len(self.far) < 100_000:
            self.far[seq] = code

    def get(self, seq: int) -> str | None:
        code = self.by_seq[seq] if 0 <= seq < len(self.by_seq) else self.far.get(seq, 0)
        return self.names[code] or None


def attribute(findings: list[Finding], signers: Signers,
              departments: dict[str, dict[str, Any]]) -> None:
    """Name the signing key's department on every integrity finding about one department
    entry (batch members included), then count each department's findings afresh: the
    table is built before the end of the replay names them all."""
    for i, f in enumerate(findings):
        if f.dept is None and f.kind == INTEGRITY and f.seq is not None \
                and f.rule not in _SPANS:
            dept = signers.get(f.seq)
            if dept is not None and (f.seq_end is None or signers.get(f.seq_end) == dept):
                findings[i] = replace(f, dept=dept)
    for row in departments.values():
        row["findings"] = 0
    for f in findings:
        if f.dept is not None:
            departments.setdefault(f.dept, {**dict.fromkeys(_ROW, 0), "name": f.dept})
            departments[f.dept]["findings"] += 1


def signer_dept(state: LogState, entry: Entry) -> str | None:
    """The department of the key that signed ``entry`` (else its actor, unless the
    authority): who is answerable for the entry's bytes."""
    key = state.keys.get(entry.sig.get("key", ""))
    if key is not None and key.dept:
        return key.dept
    return None if entry.actor == "authority" else entry.actor
