"""Compact entity proofs (`drawledger/entity-proof/v1`, SPEC.md section 22).

For one entity and one draw, what a citizen's browser needs to check that entity's fate
and nothing about the rest of the pool: the commitment, reveal and execution entries
with one multi-leaf inclusion proof to one published checkpoint, the plan version and
the key registrations behind their signatures, and the entity's pool leaf with its
inclusion proof (or the two neighbouring leaves that prove it absent). A v2 log's
leaves are the sealed ones (SPEC.md 21.4), so the proof discloses no internal field
either.
"""

from __future__ import annotations

import bisect
from typing import Any

from ledger._app import Ledger, own_entry
from ledger._bundle import draw_to_prove
from ledger._draws import snapshot_at
from ledger._errors import InputError
from verifier._canonical import canonical, loads
from verifier._draw import Snapshot, pool_leaf_hashes
from verifier._entityproof import FORMAT, normalise_uscc
from verifier._merkle import MerkleTree, leaf_hash
from verifier._multiproof import encode_hashes, multi_proof

__all__ = ["make_entity_proof"]

# After the first execution, only these entries of the stream speak of one entity.
_ABOUT_ENTITY = frozenset({"draw.unfillable", "draw.substituted"})


def make_entity_proof(ledger: Ledger, draw_id: str, uscc: str) -> dict[str, Any]:
    """The entity proof of ``uscc`` in draw ``plan_id/batch_id`` as a JSON object (write
    it canonically). InputError for a bad code, an unknown draw or one not executed under
    a published checkpoint."""
    code, error = normalise_uscc(uscc)
    if error is not None:
        raise InputError(error[1])
    plan_id, batch_id, stream, info, checkpoints = draw_to_prove(ledger, draw_id)
    plan_seq = info.commit.get("plan_seq")
    wanted: list[tuple[int, bytes]] = []
    keys: set[str] = set()
    registrations: list[tuple[int, bytes, str]] = []
    executed = published = False
    for seq, raw in ledger.entries(0, checkpoints[-1][0]):
        e = own_entry(raw)
        if e.type == "key.registered":
            registrations.append((seq, raw, str(e.body.get("name"))))
        keep = seq == 0 or seq == plan_seq
        if e.stream == f"plan/{plan_id}" and e.type == "plan.published" and not published \
                and seq < info.commit_seq:
            keep = published = True
        if e.stream == stream:
            keep = keep or not executed or (e.type in _ABOUT_ENTITY
                                            and e.body.get("uscc") == code)
            executed = executed or e.type == "draw.executed"
        if keep:
            wanted.append((seq, raw))
            keys.add(e.sig["key"])
    if not executed:
        raise InputError(f"draw {draw_id} has no checkpointed execution yet: run "
                         "`drawledger checkpoint` after the draw")
    wanted.extend((seq, raw) for seq, raw, name in registrations if name in keys)
    wanted.sort()
    # One checkpoint for all entries: the first published one covering the last of them.
    size, _, note = next(c for c in checkpoints if c[0] > wanted[-1][0])
    entries = [loads(raw) for _, raw in wanted]
    assert [canonical(e) for e in entries] == [raw for _, raw in wanted]
    proof = multi_proof(ledger.tree, [seq for seq, _ in wanted], size)
    snapshot = snapshot_at(ledger, info.commit_seq, plan_id, batch_id)
    pool, excluded = _pool_evidence(snapshot, code), None
    if code in snapshot.excluded:
        leaves = snapshot.leaves(pool=False)["excluded"]
        excluded = _leaf_item(MerkleTree(map(leaf_hash, leaves)), leaves,
                              snapshot.excluded.index(code))
    return {"format": FORMAT, "draw": draw_id, "uscc": code,
            "trust": ledger.trust().to_json(), "checkpoint": note, "entries": entries,
            "proof": encode_hashes(proof), "pool": pool, "excluded": excluded}


def _leaf_item(tree: MerkleTree, leaves: list[bytes], index: int) -> dict[str, Any]:
    return {"index": index, "leaf": leaves[index].decode(),
            "proof": encode_hashes(tree.inclusion_proof(index))}


def _pool_evidence(snapshot: Snapshot, code: str) -> dict[str, Any]:
    """The entity's leaf and inclusion proof, or its two neighbours in USCC order (their
    leaves and proofs), which show that no leaf between them holds it."""
    tree = MerkleTree(pool_leaf_hashes(snapshot.pool, snapshot.key))
    usccs = [m.uscc for m in snapshot.pool]
    i = bisect.bisect_left(usccs, code)

    def item(k: int) -> dict[str, Any] | None:
        if not 0 <= k < len(usccs):
            return None
        one = Snapshot([snapshot.pool[k]], [], {}, [], snapshot.key).leaves()["pool"]
        return {"index": k, "leaf": one[0].decode(),
                "proof": encode_hashes(tree.inclusion_proof(k))}

    if i < len(usccs) and usccs[i] == code:
        found = item(i)
        assert found is not None
        return found
    return {"absent": [item(i - 1), item(i)]}
