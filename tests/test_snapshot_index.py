"""A draw's snapshot costs its pool's size, not the registry's (issue 17 item 1).

The replay keeps the registries indexed by what pool rules select on (verifier._index):
these tests count the targets, inspectors and conflict pairs a snapshot visits, check the
snapshot equals the one a full scan of the registry gives, and that the index follows
every write, the ledger's undo journal included.
"""

from __future__ import annotations

import pickle
import random
from typing import Any

from verifier._draw import TARGET_FIELDS, matches, pool_rule, stratum_of
from verifier._index import ConflictIndex, InspectorIndex, TargetIndex
from verifier._snapshot import add_declared_conflicts, build_snapshot
from verifier._state import INSPECTOR_VIEW, Journal, LogState, _journaled

DEPT = "ZC-SCJGJ"
MATTER = "M1"
BATCH: dict[str, Any] = {
    "batch_id": "B1", "draw_date": "2026-03-02", "exclusion_days": 0,
    "pool": {"registries": [f"{DEPT}/F"], "status": ["存续"]},
    "strata": [{"id": "food", "filter": {"industry": ["H"]}, "ratio_ppm": 100_000},
               {"id": "other", "filter": {}, "ratio_ppm": 50_000}],
    "rounding": "ceil", "team": {DEPT: 2}, "load_cap": 3,
    "conflicts": {"declared": True, "same_unit": False, "prior_days": 0},
}


def _registries(rng: random.Random) -> tuple[LogState, int]:
    """A registry of 20,000 targets of which 1,000 are in the pool: most are in other
    sub-registries or another status; inspectors of three departments; conflicts."""
    state = LogState()
    in_pool = 0
    for i in range(20_000):
        registry = f"{DEPT}/F" if i % 10 == 0 else rng.choice([f"{DEPT}/G", "ZC-WJW/F"])
        status = "存续" if i % 4 else "注销"
        fields = (registry, rng.choice(["H6210", "F5211"]), "370302", "low", status,
                  f"U{i % 7}")
        state.targets[f"T{i:06d}"] = fields
        in_pool += registry == f"{DEPT}/F" and status == "存续"
    for i in range(300):
        dept = (DEPT, "ZC-WJW", "ZC-GAJ")[i % 3]
        state.inspectors[f"C{i:04d}"] = (dept, f"U{i % 5}", (MATTER,), "2020-01-01",
                                         "2030-12-31", False)
    for i in range(2_000):
        state.conflicts[(f"C{rng.randrange(300):04d}", f"T{rng.randrange(20_000):06d}")] = \
            bool(i % 5)
    return state, in_pool


def _scanned(state: LogState) -> tuple[set[tuple[str, str]], set[str], set[tuple[str, str]]]:
    """The pool, roster and declared conflicts by a scan of every registry row."""
    rule = pool_rule(BATCH)
    pool = set()
    for uscc, fields in dict.items(state.targets):
        view = dict(zip(TARGET_FIELDS, fields or (), strict=False))
        if fields is not None and matches(rule, view):
            stratum = stratum_of(BATCH, view)
            if stratum is not None:
                pool.add((uscc, stratum))
    roster = {cert for cert, row in dict.items(state.inspectors)
              if row is not None and dict(zip(INSPECTOR_VIEW, row, strict=False))["dept"]
              in BATCH["team"]}
    conflicts = {pair for pair, active in dict.items(state.conflicts)
                 if active and pair[0] in roster}
    return pool, roster, conflicts


def test_a_draw_snapshot_visits_no_target_outside_its_pool() -> None:
    state, in_pool = _registries(random.Random(17))
    assert in_pool == len(state.targets) // 20
    snapshot = build_snapshot(state, "draw/P/B1", MATTER, BATCH)
    pool, roster, conflicts = _scanned(state)
    assert {(m.uscc, m.stratum) for m in snapshot.pool} == pool
    assert len(pool) == in_pool
    assert state.targets.visits == in_pool, "only the pool's targets are visited"
    assert {c.cert_no for c in snapshot.roster} == roster
    assert state.inspectors.visits == len(roster) == 100
    assert set(snapshot.conflicts) == conflicts
    assert state.conflicts.visits == len(conflicts)


def test_draws_cost_their_pools_whatever_the_registry_holds() -> None:
    """Ten draws over the same registry visit ten pools, not ten registries."""
    state, in_pool = _registries(random.Random(3))
    for _ in range(10):
        build_snapshot(state, "draw/P/B1", MATTER, BATCH)
    assert state.targets.visits == 10 * in_pool


def test_substitution_conflicts_come_from_the_roster_alone() -> None:
    state, _ = _registries(random.Random(5))
    snapshot = build_snapshot(state, "draw/P/B1", MATTER, BATCH)
    cert = snapshot.roster[0].cert_no
    state.conflicts[(cert, "T999999")] = True  # declared after the commitment
    state.conflicts[("C9999", "T000000")] = True  # not on the roster
    before = state.conflicts.visits
    add_declared_conflicts(snapshot, state, BATCH)
    assert snapshot.conflicts[(cert, "T999999")] == "declared"
    assert ("C9999", "T000000") not in snapshot.conflicts
    assert state.conflicts.visits - before == len(_scanned(state)[2])


def test_the_index_follows_updates_removals_and_the_undo_journal() -> None:
    """Every way the replay and the ledger write (put, the journal's undo, bulk writes,
    a pickle round trip) leaves the index equal to one built afresh."""
    rng = random.Random(11)
    state, _ = _registries(rng)
    journal: Journal = []
    journaled = _journaled(journal)  # the ledger's put, as LogState.apply(journal=...)
    snapshot_before = _scanned(state)
    for i in range(3_000):
        uscc = f"T{rng.randrange(21_000):06d}"
        old = state.targets.get(uscc)
        new = None if i % 3 == 0 or old is None else (f"{DEPT}/F", *old[1:4], "存续", old[5])
        journaled(state.targets, uscc, new)
        journaled(state.inspectors, f"C{rng.randrange(320):04d}",
                  None if i % 2 else ("ZC-WJW", "U1", (), "2020-01-01", "2030-12-31", True))
        journaled(state.conflicts, (f"C{rng.randrange(300):04d}", uscc), bool(i % 2))
    _assert_consistent(state)
    LogState.undo(journal)
    _assert_consistent(state)
    assert _scanned(state) == snapshot_before
    state.targets.update({"X1": (f"{DEPT}/F", "H1", "370302", "low", "存续", "U1")})
    state.targets.pop("X1")
    state.targets.setdefault("X2", (f"{DEPT}/F", "H1", "370302", "low", "存续", "U1"))
    del state.targets["X2"]
    _assert_consistent(state)
    again = pickle.loads(pickle.dumps(state.targets))
    assert type(again) is TargetIndex and again.groups == state.targets.groups


def _assert_consistent(state: LogState) -> None:
    assert TargetIndex(dict(state.targets)).groups == state.targets.groups
    assert InspectorIndex(dict(state.inspectors)).by_dept == state.inspectors.by_dept
    assert ConflictIndex(dict(state.conflicts)).active == state.conflicts.active
