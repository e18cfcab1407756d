"""Draw-proof bundles (SPEC.md section 15): one file that proves one draw offline.

The bundle holds the entries a verifier needs (the genesis, the key registrations, the
plan version and its publication, every entry of the draw's stream and the conflicts
declared after the commitment), each with an inclusion proof to the first checkpoint that
covers it, consistency proofs between those checkpoints, the snapshot lists the
commitment's roots stand for, and the trust policy the genesis declares.
"""

from __future__ import annotations

import itertools
from typing import Any

from ledger._app import Ledger, own_entry
from ledger._draws import cached_snapshot, draw_stream, snapshot_from_state
from ledger._errors import InputError
from verifier._bundle import FORMAT, FORMAT_V2
from verifier._draw import Snapshot
from verifier._proof import TlogProof, format_proof
from verifier._sealed import SPEC_V2
from verifier._state import DrawInfo, LogState

__all__ = [
    "DRAW_STATUS_ZH",
    "draw_lines",
    "draw_status_text",
    "draw_status_zh",
    "draw_to_prove",
    "make_bundle",
    "proved_entries",
]

# A draw's status as `drawledger draws` and the API's page show it to people, Chinese first.
DRAW_STATUS_ZH = {"committed": "已提交承诺，尚未执行", "executed": "已执行", "voided": "已作废"}


def draw_lines(ledger: Ledger) -> list[str]:
    """One line per committed draw, the draw id (``plan_id/batch_id``) first."""
    ledger.refresh()
    out = []
    for stream, info in sorted(ledger.state.draws.items(), key=lambda kv: kv[1].commit_seq):
        teams = dict(info.teams)
        status = ("voided" if info.voided else "executed" if info.executed else "committed")
        if info.executed > 1:
            status += f"+{info.executed - 1} redraw"
        out.append(f"{stream.removeprefix('draw/')}\t{info.draw_date}\t{status}\t"
                   f"selected={len(teams)}\tcommit_seq={info.commit_seq}\t"
                   f"executed_seq={info.executed_seq if info.executed_seq is not None else '-'}")
    return out


def draw_status_zh(status: str) -> str:
    """The Chinese of a status field of ``draw_lines`` (a code, with a ``+N redraw`` suffix
    when a batch was executed more than once): ``executed`` -> ``已执行``."""
    code, _, redraws = status.partition("+")
    zh = DRAW_STATUS_ZH.get(code, code)
    return f"{zh}（另有 {redraws.split()[0]} 次重新抽取）" if redraws else zh


def draw_status_text(status: str) -> str:
    """``已执行 / executed``: what people read, Chinese first."""
    return f"{draw_status_zh(status)} / {status}"


def proved_entries(ledger: Ledger, wanted: list[tuple[int, bytes]],
                   checkpoints: list[tuple[int, bytes, str]]
                   ) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    """The bundle's (and the entity proof's) ``entries`` and ``consistency``: each of
    ``wanted`` (seq, exact bytes; increasing seq) with a tlog-proof to the first published
    checkpoint covering it, and the consistency proofs linking the checkpoints used."""
    notes = {size: note for size, _, note in checkpoints}
    sizes = sorted(notes)
    used: set[int] = set()
    entries = []
    for seq, raw in wanted:
        size = next(s for s in sizes if s > seq)
        used.add(size)
        proof = TlogProof(seq, tuple(ledger.tree.inclusion_proof(seq, size)), notes[size])
        entries.append({"entry": raw.decode(), "proof": format_proof(proof)})
    consistency = [{"old": a, "new": b,
                    "proof": [h.hex() for h in ledger.tree.consistency_proof(a, b)]}
                   for a, b in itertools.pairwise(sorted(used))]
    return entries, consistency


def draw_to_prove(ledger: Ledger, draw_id: str
                  ) -> tuple[str, str, str, DrawInfo, list[tuple[int, bytes, str]]]:
    """(plan_id, batch_id, stream, its draw, the published checkpoints) of a draw a proof
    is asked for; InputError for an unknown draw or a log with no published checkpoint."""
    ledger.refresh()
    plan_id, _, batch_id = draw_id.rpartition("/")
    stream = draw_stream(plan_id, batch_id)
    info = ledger.state.draws.get(stream)
    if not plan_id or info is None:
        raise InputError(f"draw id {draw_id!r}: no such draw (see `drawledger draws`)")
    checkpoints = ledger.published_checkpoints()  # only trees the witness quorum has seen
    if not checkpoints:
        raise InputError("the log has no published checkpoint yet (cosigned by the "
                         "witness quorum): run `drawledger checkpoint`")
    return plan_id, batch_id, stream, info, checkpoints


def make_bundle(ledger: Ledger, draw_id: str) -> dict[str, Any]:
    """The bundle of draw ``plan_id/batch_id`` as a JSON object (write it canonically)."""
    plan_id, batch_id, stream, info, checkpoints = draw_to_prove(ledger, draw_id)
    # One pass over the log: the registries replayed up to the commitment give its lists
    # (unless this process still holds them), and the entries the bundle needs are kept.
    cached = cached_snapshot(ledger, info.commit_seq, plan_id, batch_id)
    state = LogState(body_check=None) if cached is None else None
    snapshot = cached
    roster: set[str] = set() if cached is None else {c.cert_no for c in cached.roster}
    wanted: list[tuple[int, bytes]] = []
    keys: set[str] = set()
    registrations: list[tuple[int, bytes, str]] = []
    executed = False
    for seq, e, body in ledger.logical_entries(0, checkpoints[-1][0]):
        raw = e.raw
        if seq == info.commit_seq and snapshot is None:
            assert state is not None
            snapshot = snapshot_from_state(state, plan_id, batch_id)
            roster = {c.cert_no for c in snapshot.roster}
            state = None  # the rest of the log only needs reading
        if state is not None:
            state.apply(seq, e.stream, e.version, e.type, e.actor, body, e.sig)
        if e.type == "key.registered":
            registrations.append((seq, raw, str(e.body.get("name"))))
        keep = (seq == 0 or e.stream == stream
                or (e.stream == f"plan/{plan_id}" and (seq == info.commit["plan_seq"]
                                                       or e.type == "plan.published"))
                or (seq > info.commit_seq and e.type.startswith("conflict.")
                    and body.get("cert_no") in roster))
        if keep:
            wanted.append((seq, raw))
            keys.add(e.sig["key"])
            executed = executed or (e.stream == stream and e.type == "draw.executed")
    if not executed or snapshot is None:
        raise InputError(f"draw {draw_id} has no checkpointed execution yet: run "
                         "`drawledger checkpoint` after the draw")
    # Key streams are never among the kept ones above: no registration is there twice.
    wanted.extend((seq, raw) for seq, raw, name in registrations if name in keys)
    wanted.sort()
    entries, consistency = proved_entries(ledger, wanted, checkpoints)
    # The lists as the auditor reads them: every field in clear (a v2 draw's committed
    # leaves seal part of each; the checker seals them again with the opened key).
    leaves = Snapshot(snapshot.pool, snapshot.roster, snapshot.conflicts,
                      snapshot.excluded).leaves()
    out: dict[str, Any] = {
        "format": FORMAT,
        "draw": draw_id,
        "trust": ledger.trust().to_json(),
        "entries": entries,
        "consistency": consistency,
        "snapshot": {name: [leaf.decode() for leaf in items] for name, items in leaves.items()},
    }
    if ledger.state.spec >= SPEC_V2:
        # An auditor bundle (SPEC.md 21.7): the openings of its sealed entries.
        kept = [own_entry(raw) for _, raw in wanted]
        opened = ledger.openings_of(kept)
        out["format"] = FORMAT_V2
        out["openings"] = [{"fields": o.fields, "salt": o.salt.hex(), "seq": e.seq}
                           for e in kept if (o := opened.get(str(e.body.get("sealed"))))]
    return out
