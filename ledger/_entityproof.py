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
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger._app import Ledger, own_entry
from ledger._bundle import draw_to_prove
from ledger._draws import snapshot_at
from ledger._errors import InputError
from ledger._poolcache import PoolFile, keep_pool, pool_path
from verifier._canonical import canonical, loads
from verifier._draw import Snapshot, pool_leaf_hashes
from verifier._entityproof import FORMAT, normalise_uscc
from verifier._errors import FormatError, ProofError
from verifier._merkle import MerkleTree, leaf_hash, verify_inclusion
from verifier._multiproof import decode_hashes, encode_hashes, multi_proof
from verifier._state import DrawInfo

__all__ = ["make_entity_proof"]

log = logging.getLogger("drawledger.ledger")

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
    scan = _scanned(ledger, draw_id, plan_id, stream, info, checkpoints[-1][0])
    if not scan.executed:
        raise InputError(f"draw {draw_id} has no checkpointed execution yet: run "
                         "`drawledger checkpoint` after the draw")
    wanted = [(seq, raw) for seq, raw, _ in scan.common]
    keys = {key for _, _, key in scan.common}
    for seq, raw, key, about in scan.later:
        if about == code:
            wanted.append((seq, raw))
            keys.add(key)
    wanted.extend((seq, raw) for seq, raw, name in scan.registrations if name in keys)
    wanted.sort()
    # One checkpoint for all entries: the first published one covering the last of them.
    size, _, note = next(c for c in checkpoints if c[0] > wanted[-1][0])
    entries = [loads(raw) for _, raw in wanted]
    assert [canonical(e) for e in entries] == [raw for _, raw in wanted]
    proof = multi_proof(ledger.tree, [seq for seq, _ in wanted], size)
    pool, excluded = _pool_and_excluded(ledger, info, plan_id, batch_id, code)
    return {"format": FORMAT, "draw": draw_id, "uscc": code,
            "trust": ledger.trust().to_json(), "checkpoint": note, "entries": entries,
            "proof": encode_hashes(proof), "pool": pool, "excluded": excluded}


@dataclass
class _Scan:
    """What a draw's entity proofs take from the log up to ``size``: the entries the
    proofs of every entity share, the stream's later entries about one entity each, and
    the registrations of the keys that signed them."""

    common: list[tuple[int, bytes, str]] = field(default_factory=list)
    later: list[tuple[int, bytes, str, object]] = field(default_factory=list)
    registrations: list[tuple[int, bytes, str]] = field(default_factory=list)
    executed: bool = False


def _scanned(ledger: Ledger, draw_id: str, plan_id: str, stream: str, info: DrawInfo,
             size: int) -> _Scan:
    """The draw's entries below ``size``, read by stream (the genesis, the plan version at
    the commitment's ``plan_seq`` and the plan's first publication before it, the draw
    stream) and the key registrations behind their signatures: a few queries however
    long the log, where reading it whole took 19 s on a million entries."""
    scan = _Scan()
    plan_seq = info.commit.get("plan_seq")
    picked: dict[int, tuple[bytes, str]] = {}

    def pick(seq: int, raw: bytes) -> None:
        picked[seq] = (raw, str(own_entry(raw).sig["key"]))

    for seq, raw in ledger.chain.read_entries(0, 1):
        pick(seq, raw)
    published = False
    for seq, raw in ledger.stream_entries(f"plan/{plan_id}", size):
        e = own_entry(raw)
        if seq == plan_seq or (e.type == "plan.published" and not published
                               and seq < info.commit_seq):
            published = published or e.type == "plan.published"
            pick(seq, raw)
    if isinstance(plan_seq, int) and plan_seq not in picked and 0 <= plan_seq < size:
        for seq, raw in ledger.chain.read_entries(plan_seq, plan_seq + 1):  # not the plan's
            pick(seq, raw)
    for seq, raw in ledger.stream_entries(stream, size):
        e = own_entry(raw)
        if scan.executed:
            if e.type in _ABOUT_ENTITY:
                scan.later.append((seq, raw, str(e.sig["key"]), e.body.get("uscc")))
            continue
        pick(seq, raw)
        scan.executed = e.type == "draw.executed"
    scan.common = [(seq, raw, key) for seq, (raw, key) in sorted(picked.items())]
    signers = {key for *_, key in scan.common} | {key for _, _, key, _ in scan.later}
    for name in sorted(signers):
        known = ledger.state.keys.get(name)
        if known is not None and 0 < known.registered < size:
            for seq, raw in ledger.chain.read_entries(known.registered, known.registered + 1):
                scan.registrations.append((seq, raw, name))
    return scan


def _pool_and_excluded(ledger: Ledger, info: DrawInfo, plan_id: str, batch_id: str,
                       code: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The ``pool`` and ``excluded`` members of the proof: from the draw's pool file
    (ledger._poolcache) when it gives leaves and proofs that check against the
    commitment, else from the snapshot replayed up to the commitment (which writes the
    file for the next proof; a replay that does not give the committed lists, as in a
    log with a V4.snapshot violation, is served as it is, for the checker to refuse)."""
    path = pool_path(ledger, ledger.tree.leaf(info.commit_seq))
    found = _read_pool(path, code, info.commit) if path is not None else None
    if found is not None:
        return found
    snapshot = snapshot_at(ledger, info.commit_seq, plan_id, batch_id)
    if path is None:
        return _from_snapshot(snapshot, code)
    if path.exists():
        log.warning("pool file %s does not match the commitment of %s/%s: rebuilt", path,
                    plan_id, batch_id)
    keep_pool(ledger, info.commit_seq, snapshot)
    return _read_pool(path, code, info.commit) or _from_snapshot(snapshot, code)


def _read_pool(path: Path, code: str, commit: dict[str, Any]
               ) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
    """``_from_file`` of the file at ``path``, None when it is missing or unreadable."""
    try:
        pool_file = PoolFile(path)
    except (OSError, FormatError):
        return None
    try:
        return _from_file(pool_file, code, commit)
    finally:
        pool_file.close()


def _from_snapshot(snapshot: Snapshot, code: str
                   ) -> tuple[dict[str, Any], dict[str, Any] | None]:
    return _pool_evidence(snapshot, code), _excluded_item(snapshot.excluded, code)


def _excluded_item(excluded: list[str], code: str) -> dict[str, Any] | None:
    """``code``'s leaf in the committed exclusion list with its path, None if not there."""
    if code not in excluded:
        return None
    listed = Snapshot([], [], {}, list(excluded))  # sorted, as committed
    leaves = listed.leaves(pool=False)["excluded"]
    return _leaf_item(MerkleTree(map(leaf_hash, leaves)), leaves, listed.excluded.index(code))


def _from_file(pool_file: PoolFile, code: str, commit: dict[str, Any]
               ) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
    """The evidence read from a pool file, or None unless every leaf and proof in it is
    the committed one (root and size) and every leaf names the USCC the file says."""
    pool = _evidence(pool_file.count, pool_file.uscc, pool_file.leaf, pool_file.tree, code)
    items = [pool] if "absent" not in pool else [i for i in pool["absent"] if i]
    excluded = _excluded_item(pool_file.excluded, code)
    for name, checked in (("pool", items), ("excluded", [excluded] if excluded else [])):
        committed = commit.get(name) or {}
        try:
            root = bytes.fromhex(str(committed.get("root")))
            for item in checked:
                leaf = item["leaf"].encode()
                if name == "pool" and loads(leaf).get("uscc") != pool_file.uscc(
                        item["index"]):
                    return None
                verify_inclusion(item["index"], int(committed.get("size", -1)),
                                 leaf_hash(leaf), decode_hashes(item["proof"], f"{name} proof"),
                                 root)
        except (ValueError, TypeError, FormatError, ProofError):
            return None
    if int((commit.get("excluded") or {}).get("size", -1)) != len(pool_file.excluded):
        return None
    return pool, excluded


def _leaf_item(tree: MerkleTree, leaves: list[bytes], index: int) -> dict[str, Any]:
    return {"index": index, "leaf": leaves[index].decode(),
            "proof": encode_hashes(tree.inclusion_proof(index))}


def _pool_evidence(snapshot: Snapshot, code: str) -> dict[str, Any]:
    """The entity's leaf and inclusion proof, or its two neighbours in USCC order (their
    leaves and proofs), which show that no leaf between them holds it."""
    pool, key = snapshot.pool, snapshot.key

    def leaf(k: int) -> bytes:
        return Snapshot([pool[k]], [], {}, [], key).leaves()["pool"][0]
    return _evidence(len(pool), lambda k: pool[k].uscc, leaf,
                     MerkleTree(pool_leaf_hashes(pool, key)), code)


def _evidence(count: int, uscc: Callable[[int], str], leaf: Callable[[int], bytes],
              tree: MerkleTree, code: str) -> dict[str, Any]:
    """``_pool_evidence`` over any sorted pool: ``uscc(k)`` and ``leaf(k)`` of member k."""
    i = bisect.bisect_left(range(count), code, key=uscc)

    def item(k: int) -> dict[str, Any] | None:
        if not 0 <= k < count:
            return None
        return {"index": k, "leaf": leaf(k).decode(),
                "proof": encode_hashes(tree.inclusion_proof(k))}

    if i < count and uscc(i) == code:
        found = item(i)
        assert found is not None
        return found
    return {"absent": [item(i - 1), item(i)]}
