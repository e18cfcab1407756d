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
    if rules.get("declared"):
        for pair, active in state.conflicts.items():
            if active:
                conflicts[pair] = "declared"
    rule = pool_rule(batch)
    registries = set(rule["registry"])
    pool: list[Member] = []
    skipped: list[str] = []
    # The rules read only the fields, and a registry of a million targets holds a few
    # thousand distinct field tuples: each is judged once.
    strata: dict[tuple[str, ...], str | None] = {}
    for uscc, fields in state.targets.items():
        if fields is None or fields[0] not in registries:  # fields[0]: the registry
            continue
        try:
            stratum = strata[fields]
        except KeyError:
            view = dict(zip(TARGET_FIELDS, fields, strict=False))
            stratum = strata[fields] = stratum_of(batch, view) if matches(rule, view) \
                else None
        if stratum is None:
            continue
        if uscc in excluded:
            skipped.append(uscc)
        else:
            pool.append(Member(uscc, stratum, fields))
    depts = set(batch["team"])
    roster = []
    for cert, row in state.inspectors.items():
        if row is None:
            continue
        person: dict[str, Any] = dict(zip(INSPECTOR_VIEW, row, strict=False))
        if person["dept"] not in depts:
            continue
        roster.append(Candidate(cert, str(person["dept"]), str(person["unit"]),
                                matter in person["qualifications"], str(person["valid_from"]),
                                str(person["valid_to"]), person["expert"] is True))
    certs = {c.cert_no for c in roster}
    return Snapshot(pool, roster, {k: v for k, v in conflicts.items() if k[0] in certs},
                    skipped)


def add_declared_conflicts(snapshot: Snapshot, state: LogState, batch: dict[str, Any]) -> None:
    """A substitute is chosen later than the draw: conflicts declared since the
    commitment bind it too (section 14.10)."""
    if batch["conflicts"].get("declared"):
        for pair, active in state.conflicts.items():
            if active:
                snapshot.conflicts[pair] = "declared"
