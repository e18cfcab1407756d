"""Performing draws on the ledger: commit, reveal, execute, substitute, void (SPEC.md section 14).

Each step computes its statement with the verifier's own functions (``verifier._draw``,
``verifier._snapshot``) from the log's replayed state, so what the ledger writes is what
the auditor recomputes. The ledger refuses what no honest department would state: a draw
executed before its beacon round exists, a second execution of a batch, a commitment
after the round. Nothing is ever deleted: a void is an event, and the batch stays counted.
"""

from __future__ import annotations

import hashlib
import os
import weakref
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from ledger._app import Ledger, own_entry
from ledger._errors import InputError
from ledger._poolcache import keep_pool
from ledger._statements import Submission, sign_statement
from verifier import NoteSigner
from verifier._beacon import Beacon, Chain
from verifier._draw import (
    ALGORITHM,
    Matcher,
    Outcome,
    Snapshot,
    draw_seed,
    execute,
    public_outcome,
    reveal_commitment,
)
from verifier._drawaudit import draw_time, snapshot_key
from verifier._rfc3797 import key_string
from verifier._sealed import SPEC_V2
from verifier._snapshot import add_declared_conflicts, build_snapshot
from verifier._state import DrawInfo, LogState

__all__ = [
    "cached_snapshot",
    "commit_draw",
    "commit_statement",
    "draw_stream",
    "execute_draw",
    "execution_statements",
    "matcher_now",
    "reveal_secret",
    "snapshot_at",
    "snapshot_from_state",
    "snapshots_at",
    "substitute",
    "void_draw",
]

def _signed(ledger: Ledger, signer: NoteSigner, type_: str, stream: str, actor: str,
            body: dict[str, Any], *, now: datetime, sid: str | None = None) -> Submission:
    """``sign_statement``, sealing what a v2 log seals (SPEC.md 21)."""
    return sign_statement(signer, type_, stream, actor, body, now=now, sid=sid,
                          seal=ledger.state.spec >= SPEC_V2)


def draw_stream(plan_id: str, batch_id: str) -> str:
    return f"draw/{plan_id}/{batch_id}"


def _batch(ledger: Ledger, plan_id: str, batch_id: str
           ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], int]:
    plan = ledger.state.plans.get(plan_id)
    if plan is None:
        raise InputError(f"plan_id: no plan {plan_id!r} in the log")
    found = plan.batch(batch_id)
    if found is None:
        raise InputError(f"batch_id: plan {plan_id} has no batch {batch_id!r}")
    return plan.body, found[0], found[1], plan.seq


def _draw(ledger: Ledger, plan_id: str, batch_id: str) -> DrawInfo:
    info = ledger.state.draws.get(draw_stream(plan_id, batch_id))
    if info is None:
        raise InputError(f"batch {plan_id}/{batch_id} has not been committed")
    return info


def commit_statement(ledger: Ledger, signer: NoteSigner, plan_id: str, batch_id: str,
                     chain: Chain, commitments: dict[str, str], *, now: datetime,
                     sid: str | None = None) -> Submission:
    """``draw.committed`` for a batch, signed but not submitted: the snapshot's roots, the
    beacon round fixed by the plan's draw time, the lottery draws and the parties'
    commitments."""
    return _commitment(ledger, signer, plan_id, batch_id, chain, commitments, now, sid)[0]


def _commitment(ledger: Ledger, signer: NoteSigner, plan_id: str, batch_id: str, chain: Chain,
                commitments: dict[str, str], now: datetime, sid: str | None
                ) -> tuple[Submission, Snapshot]:
    """The signed commitment and the snapshot it commits to."""
    body, task, batch, plan_seq = _batch(ledger, plan_id, batch_id)
    recipe = batch.get("randomness", {})
    t_draw = draw_time(batch)
    round_ = chain.round_at(int(t_draw.timestamp()))
    if now.timestamp() >= chain.round_time(round_):
        raise InputError(f"batch {plan_id}/{batch_id}: beacon round {round_} is already "
                         "public; a commitment must come before it")
    parties = [str(d) for d in recipe.get("commit_reveal", [])]
    missing = [d for d in parties if d not in commitments]
    if missing:
        raise InputError(f"commitments: no commitment from {missing}")
    stream = draw_stream(plan_id, batch_id)
    snapshot = build_snapshot(ledger.state, stream, str(task["matter"]), batch)
    sealed: dict[str, Any] = {}
    if ledger.state.spec >= SPEC_V2:
        # The snapshot key seals every leaf's internal part (SPEC.md 21.4); it is itself
        # sealed in the commitment, its opening kept for auditors.
        snapshot.key = os.urandom(32)
        sealed["snapshot_key"] = snapshot.key.hex()
    statement = {
        "plan_id": plan_id, "batch_id": batch_id, "dept": body["dept"],
        "algorithm": ALGORITHM, "plan_seq": plan_seq, "draw_time": t_draw.isoformat(),
        "beacon": {"chain": chain.chain_hash, "round": round_},
        "lottery": list(recipe.get("lottery", [])),
        "parties": [{"dept": d, "commitment": commitments[d]} for d in parties],
        **snapshot.summary(batch), **sealed,
    }
    return _signed(ledger, signer, "draw.committed", stream, body["dept"], statement, now=now,
                          sid=sid), snapshot


def commit_draw(ledger: Ledger, signer: NoteSigner, plan_id: str, batch_id: str, chain: Chain,
                commitments: dict[str, str], *, now: datetime) -> int:
    """Write ``draw.committed`` (see ``commit_statement``); returns its seq."""
    ledger.refresh()
    statement, snapshot = _commitment(ledger, signer, plan_id, batch_id, chain, commitments,
                                      now, None)
    seq = ledger.submit([statement])[0]
    # The snapshot is the registries at this seq: keep it for the execution, instead of
    # replaying the log up to here again.
    _cache(ledger)[draw_stream(plan_id, batch_id)] = (seq, snapshot)
    # ... and for the draw's entity proofs (otherwise the first replays up to here).
    keep_pool(ledger, seq, snapshot)
    return seq


def reveal_secret(ledger: Ledger, signer: NoteSigner, dept: str, plan_id: str, batch_id: str,
                  secret: bytes, *, now: datetime) -> int:
    """A party's ``draw.revealed``; the secret must open its commitment."""
    ledger.refresh()
    info = _draw(ledger, plan_id, batch_id)
    parties = {p["dept"]: p["commitment"] for p in info.commit["parties"]}
    if parties.get(dept) != reveal_commitment(plan_id, batch_id, dept, secret):
        raise InputError(f"secret: does not open {dept}'s commitment for {plan_id}/{batch_id}")
    body = {"plan_id": plan_id, "batch_id": batch_id, "dept": dept, "secret": secret.hex()}
    return ledger.submit([_signed(ledger, signer, "draw.revealed",
                                         draw_stream(plan_id, batch_id), dept, body,
                                         now=now)])[0]


_snapshots: weakref.WeakKeyDictionary[Ledger, dict[str, tuple[int, Snapshot]]] = \
    weakref.WeakKeyDictionary()


def _cache(ledger: Ledger) -> dict[str, tuple[int, Snapshot]]:
    return _snapshots.setdefault(ledger, {})


def cached_snapshot(ledger: Ledger, seq: int, plan_id: str, batch_id: str
                    ) -> Snapshot | None:
    """A fresh copy of the snapshot this process built when it wrote commitment ``seq``."""
    cached = _cache(ledger).get(draw_stream(plan_id, batch_id))
    if cached is None or cached[0] != seq:
        return None
    s = cached[1]
    return Snapshot(s.pool, s.roster, dict(s.conflicts), s.excluded, s.key)


def snapshot_from_state(state: LogState, plan_id: str, batch_id: str) -> Snapshot:
    """The batch's snapshot from registries replayed up to (not including) its commitment."""
    plan = state.plans[plan_id]
    found = plan.batch(batch_id)
    assert found is not None
    return build_snapshot(state, draw_stream(plan_id, batch_id), str(found[0]["matter"]),
                          found[1])


def snapshot_at(ledger: Ledger, seq: int, plan_id: str, batch_id: str) -> Snapshot:
    """The snapshot as the registries stood when entry ``seq`` (the commitment) was
    written: a replay of the entries before it, as the auditor does (or this process's
    copy from when it wrote the commitment). A fresh object: callers may extend it."""
    cached = cached_snapshot(ledger, seq, plan_id, batch_id)
    if cached is not None:
        return cached
    return snapshots_at(ledger, [(seq, plan_id, batch_id)])[0]


def snapshots_at(ledger: Ledger, wanted: Sequence[tuple[int, str, str]]) -> list[Snapshot]:
    """The snapshots of several commitments ``(seq, plan_id, batch_id)`` from one replay
    of the log up to the last of them (the portal's pool memberships, ``snapshot_at``):
    in the order given. KeyError when a batch is not in its plan at its seq."""
    at: dict[int, list[int]] = {}
    for i, (seq, _, _) in enumerate(wanted):
        at.setdefault(seq, []).append(i)
    out: list[Snapshot | None] = [None] * len(wanted)
    state = LogState(body_check=None)
    last = max(at, default=0)

    def take(seq: int) -> None:
        for k in at.get(seq, ()):
            out[k] = snapshot = _snapshot_of(ledger, state, wanted[k][1], wanted[k][2])
            info = ledger.state.draws.get(draw_stream(wanted[k][1], wanted[k][2]))
            if info is not None and info.commit_seq == seq:
                keep_pool(ledger, seq, snapshot, missing=True)  # no replay next time

    for i, e, body in ledger.logical_entries(0, last):
        take(i)
        state.apply(i, e.stream, e.version, e.type, e.actor, body, e.sig)
    take(last)
    return [s for s in out if s is not None]


def _snapshot_of(ledger: Ledger, state: LogState, plan_id: str, batch_id: str) -> Snapshot:
    plan = state.plans.get(plan_id)
    if plan is None or plan.batch(batch_id) is None:
        raise KeyError(f"{plan_id}/{batch_id}")
    snapshot = snapshot_from_state(state, plan_id, batch_id)
    info = ledger.state.draws.get(draw_stream(plan_id, batch_id))
    snapshot.key = snapshot_key(info.commit) if info is not None else None
    return snapshot


def execution_statements(ledger: Ledger, signer: NoteSigner, plan_id: str, batch_id: str,
                         chain: Chain, beacon: Beacon, lottery: Sequence[Sequence[Any]],
                         *, now: datetime) -> tuple[list[Submission], Outcome]:
    """``draw.executed`` and any ``draw.unfillable`` for a batch, not yet submitted."""
    body, _, batch, _ = _batch(ledger, plan_id, batch_id)
    info = _draw(ledger, plan_id, batch_id)
    commit_hash = own_entry(next(iter(ledger.entries(info.commit_seq,
                                                        info.commit_seq + 1)))[1]).hash
    snapshot = snapshot_at(ledger, info.commit_seq, plan_id, batch_id)
    randomness = hashlib.sha256(beacon.signature).digest()
    lottery_key = key_string([list(x) for x in lottery]) if lottery else ""
    revealed = dict(info.reveals)
    reveals: list[tuple[str, bytes | None]] = []
    for party in info.commit["parties"]:
        secret = revealed.get(party["dept"])
        reveals.append((party["dept"], bytes.fromhex(secret) if secret else None))
    seed = draw_seed(plan_id, batch_id, commit_hash, randomness, lottery_key, reveals)
    outcome, _ = execute(seed, snapshot, batch, date.fromisoformat(batch["draw_date"]))
    evidence: dict[str, Any] = {"chain": chain.chain_hash, "round": beacon.round,
                                "signature": beacon.signature.hex(),
                                "randomness": randomness.hex()}
    if beacon.previous_signature is not None:
        evidence["previous_signature"] = beacon.previous_signature.hex()
    statement = {
        "plan_id": plan_id, "batch_id": batch_id, "dept": body["dept"],
        "commit_seq": info.commit_seq, "beacon": evidence,
        "lottery": {"numbers": [list(x) for x in lottery], "key_string": lottery_key},
        "reveals": [{"dept": d, "secret": s.hex() if s is not None else None}
                    for d, s in reveals],
        "outcome": (public_outcome(outcome.to_json()) if ledger.state.spec >= SPEC_V2
                    else outcome.to_json()),
    }
    stream = draw_stream(plan_id, batch_id)
    out = [_signed(ledger, signer, "draw.executed", stream, body["dept"], statement, now=now)]
    for uscc, short in outcome.unfillable.items():
        out.append(_signed(ledger, signer, "draw.unfillable", stream, body["dept"],
                                  {"plan_id": plan_id, "batch_id": batch_id,
                                   "dept": body["dept"], "uscc": uscc, "short": short},
                                  now=now))
    return out, outcome


def execute_draw(ledger: Ledger, signer: NoteSigner, plan_id: str, batch_id: str,
                 chain: Chain, beacon: Beacon, lottery: Sequence[Sequence[Any]] = (), *,
                 now: datetime) -> tuple[int, Outcome]:
    """Perform the draw once the committed beacon round is public; returns the seq of
    ``draw.executed`` and the outcome. A batch is drawn once: a second execution is
    refused here (and reported by the audit if a log carries one)."""
    ledger.refresh()
    info = _draw(ledger, plan_id, batch_id)
    if info.executed:
        raise InputError(f"batch {plan_id}/{batch_id} was already drawn at entry "
                         f"{info.executed_seq}: a batch is drawn once, never again")
    if info.voided:
        raise InputError(f"batch {plan_id}/{batch_id} was voided")
    committed = info.commit["beacon"]
    if committed["chain"] != chain.chain_hash or committed["round"] != beacon.round:
        raise InputError(f"beacon: the commitment fixed chain {committed['chain'][:16]}... "
                         f"round {committed['round']}")
    if now.timestamp() < chain.round_time(beacon.round):
        raise InputError(f"beacon round {beacon.round} is not public yet")
    statements, outcome = execution_statements(ledger, signer, plan_id, batch_id, chain,
                                               beacon, lottery, now=now)
    return ledger.submit(statements)[0], outcome


def matcher_now(ledger: Ledger, plan_id: str, batch_id: str) -> tuple[Matcher, DrawInfo]:
    """The batch's matcher with the loads of the teams as they stand (substitutions
    applied), for picking a substitute."""
    _, _, batch, _ = _batch(ledger, plan_id, batch_id)
    info = _draw(ledger, plan_id, batch_id)
    if not info.executed:
        raise InputError(f"batch {plan_id}/{batch_id} has not been drawn")
    snapshot = snapshot_at(ledger, info.commit_seq, plan_id, batch_id)
    add_declared_conflicts(snapshot, ledger.state, batch)
    entry = own_entry(next(iter(ledger.entries(info.executed_seq or 0,
                                                  (info.executed_seq or 0) + 1)))[1])
    seed = bytes.fromhex(entry.body["outcome"]["seed"])
    conflicts = batch["conflicts"]
    matcher = Matcher(seed, snapshot, batch["team"], int(batch["load_cap"]),
                      bool(conflicts.get("same_unit")), date.fromisoformat(batch["draw_date"]))
    for _, team in info.teams:
        for cert in team:
            matcher.loads[cert] = matcher.loads.get(cert, 0) + 1
    return matcher, info


def substitute(ledger: Ledger, signer: NoteSigner, dept: str, plan_id: str, batch_id: str,
               uscc: str, out: str, reason: str, *, now: datetime) -> tuple[int, str | None]:
    """Replace ``out`` on ``uscc``'s team (a recusal) by the next eligible inspector of the
    same ranking; returns the seq and the substitute (None: nobody eligible is left)."""
    if not reason.strip():
        raise InputError("reason: a substitution needs its reason (e.g. 回避)")
    ledger.refresh()
    matcher, info = matcher_now(ledger, plan_id, batch_id)
    teams = dict(info.teams)
    if out not in teams.get(uscc, ()):
        raise InputError(f"out: {out} is not on the team of {uscc}")
    team = [c for c in teams[uscc] if c != out]
    leaving = next(c for c in matcher.snapshot.roster if c.cert_no == out)
    matcher.loads[out] -= 1
    recused = {c for u, c in info.recused if u == uscc} | {out}
    new = matcher.substitute(uscc, leaving.dept, team, recused)
    body = {"plan_id": plan_id, "batch_id": batch_id, "dept": dept, "uscc": uscc,
            "out": out, "in": new, "reason": reason}
    seq = ledger.submit([_signed(ledger, signer, "draw.substituted",
                                        draw_stream(plan_id, batch_id), dept, body,
                                        now=now)])[0]
    return seq, new


def void_draw(ledger: Ledger, signer: NoteSigner, plan_id: str, batch_id: str, reason: str,
              approver: str, *, now: datetime) -> int:
    """``draw.voided``: the draw stays in the log and is counted; the batch is closed."""
    if not reason.strip() or not approver.strip():
        raise InputError("reason and approver: a void needs both")
    ledger.refresh()
    body, _, _, _ = _batch(ledger, plan_id, batch_id)
    _draw(ledger, plan_id, batch_id)
    statement = {"plan_id": plan_id, "batch_id": batch_id, "dept": body["dept"],
                 "reason": reason, "approver": approver}
    return ledger.submit([_signed(ledger, signer, "draw.voided", draw_stream(plan_id, batch_id),
                                         body["dept"], statement, now=now)])[0]
