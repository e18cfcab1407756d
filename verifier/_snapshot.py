"""The snapshot a draw commits to, rebuilt from the replayed registries (SPEC.md 14.3).

The ledger builds it to write ``draw.committed``; the auditor rebuilds it at the same point
of the log and compares the roots (V4), so a hand-edited pool, roster or conflict list
cannot hide.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from verifier._draw import (
    TARGET_FIELDS,
    Candidate,
    Member,
    Snapshot,
    matches,
    pool_rule,
    stratum_of,
)
from verifier._state import INSPECTOR_VIEW, LogState

__all__ = ["add_declared_conflicts", "build_snapshot", "days_between"]


def days_between(earlier: str, later: str) -> int | None:
    try:
        return (date.fromisoformat(later) - date.fromisoformat(earlier)).days
    except ValueError:
        return None


def build_snapshot(state: LogState, stream: str, matter: str, batch: dict[str, Any]) -> Snapshot:
    """Pool, roster, conflicts and exclusions of ``batch`` as the registries stand now.

    Exclusions: entities drawn for the same matter by an executed, not voided draw dated
    within ``exclusion_days`` before this draw. Prior-inspection conflicts: pairs of such
    draws (any matter) within the batch's ``conflicts.prior_days``.
    """
    draw_date = str(batch["draw_date"])
    window = int(batch.get("exclusion_days", 0))
    rules = batch["conflicts"]
    prior_days = int(rules.get("prior_days", 0))
    excluded: set[str] = set()
    conflicts: dict[tuple[str, str], str] = {}
    for other_stream, draw in state.draws.items():
        if other_stream == stream or not draw.executed or draw.voided:
            continue
        gap = days_between(draw.draw_date, draw_date)
        if gap is None or gap < 0:
            continue
        for uscc, team in draw.teams:
            if draw.matter == matter and gap <= window:
                excluded.add(uscc)
            if gap <= prior_days:
                for cert in team:
                    conflicts[(cert, uscc)] = "prior"
    rule = pool_rule(batch)
    pool: list[Member] = []
    skipped: list[str] = []
    # The rules read only the fields, and a registry of a million targets holds a few
    # thousand distinct field tuples: each is judged once, and only the targets of the
    # tuples that pass are visited (verifier._index).
    targets = state.targets
    for fields, group in targets.views(rule["registry"]):
        view = dict(zip(TARGET_FIELDS, fields, strict=False))
        stratum = stratum_of(batch, view) if matches(rule, view) else None
        if stratum is None:
            continue
        for uscc in targets.members(group):
            if uscc in excluded:
                skipped.append(uscc)
            else:
                pool.append(Member(uscc, stratum, fields))
    roster = []
    for cert, row in state.inspectors.of_departments(batch["team"]):
        person: dict[str, Any] = dict(zip(INSPECTOR_VIEW, row, strict=False))
        roster.append(Candidate(cert, str(person["dept"]), str(person["unit"]),
                                matter in person["qualifications"], str(person["valid_from"]),
                                str(person["valid_to"]), person["expert"] is True))
    certs = {c.cert_no for c in roster}
    if rules.get("declared"):
        for pair in state.conflicts.of_inspectors(sorted(certs)):
            conflicts[pair] = "declared"
    return Snapshot(pool, roster, {k: v for k, v in conflicts.items() if k[0] in certs},
                    skipped)


def add_declared_conflicts(snapshot: Snapshot, state: LogState, batch: dict[str, Any]) -> None:
    """A substitute is chosen later than the draw: conflicts declared since the
    commitment bind it too (section 14.10)."""
    if batch["conflicts"].get("declared"):
        # Only the roster's inspectors can be chosen: their pairs are the ones that count.
        for pair in state.conflicts.of_inspectors(sorted({c.cert_no for c in snapshot.roster})):
            snapshot.conflicts[pair] = "declared"
