"""Regenerate entity-proof-v1.json:
`python tests/vectors/gen_entity_proof_v1.py > tests/vectors/entity-proof-v1.json`.

SPEC.md section 22: entity proofs from a small demo year (tests/portal_year.py, 200
companies), a v1 and a v2 (SPEC 21) log: a drawn, a not-drawn, an excluded and an absent
company, then tampered copies, each with the expected exit status, verdict and the first
failing step. A v2 log's salts and snapshot keys are random, so a new run writes other
bytes with the same verdicts; tests/test_entity_proof.py checks every case (the
JavaScript checker reads the same file). Case fields: `log` (which trust to pin, or
`pinned: false`), `proof` (the file's text), or for the oversized case `oversize_of` (the
named case's text followed by spaces up to MAX + 1 bytes). `multiproof`: multi-leaf
inclusion proofs (SPEC.md 22.1) over trees whose leaf `i` is SHA-256(0x00 || decimal
`i`): the size, the indices, the proof (base64, in SPEC order) and the root.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ledger import Ledger
from ledger._draws import snapshot_at
from ledger._entityproof import make_entity_proof
from tests.portal_year import DEPT, NEXT_BATCH, NEXT_PLAN, YEAR, build_year
from verifier._canonical import canonical
from verifier._entityproof import MAX_BYTES, verify_entity_proof
from verifier._merkle import MerkleTree, leaf_hash
from verifier._multiproof import encode_hashes, multi_proof
from verifier._uscc import uscc_check_char

DRAW = f"{YEAR}-{DEPT}/T1-B1"  # a draw with both drawn and not-drawn companies
EXCLUDING = f"{NEXT_PLAN}/{NEXT_BATCH}"  # the draw that excludes September's companies


def _absent_code(pool: list[str]) -> str:
    """A valid USCC that sorts between two pool members (so both neighbours exist)."""
    for body in (pool[len(pool) // 2][:16] + c for c in "0123456789"):
        code = body + uscc_check_char(body)
        if code not in pool and pool[0] < code < pool[-1]:
            return code
    raise AssertionError("no absent code found")


def _proofs(db: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The four fates' proofs, and two made with the ledger's tree for the tampers: the
    drawn proof without its reveals but re-proved (a log hiding an entry it holds), and
    its checkpoint swapped for another published one of another size."""
    led = Ledger(db, create=False)
    try:
        trust = led.trust().to_json()
        info = led.state.draws[f"draw/{DRAW}"]
        drawn = {u for u, _ in info.teams}
        snap = snapshot_at(led, info.commit_seq, *DRAW.split("/"))
        pool = [m.uscc for m in snap.pool]
        ex_info = led.state.draws[f"draw/{EXCLUDING}"]
        ex_snap = snapshot_at(led, ex_info.commit_seq, *EXCLUDING.split("/"))
        picks = {"drawn": (DRAW, sorted(drawn)[0]),
                 "not_drawn": (DRAW, next(u for u in pool if u not in drawn)),
                 "excluded": (EXCLUDING, ex_snap.excluded[0]),
                 "absent": (DRAW, _absent_code(pool))}
        proofs = {name: make_entity_proof(led, d, u) for name, (d, u) in picks.items()}
        for code in (u for u in pool if u not in drawn):  # a v2 leaf may leave it open
            proof = make_entity_proof(led, DRAW, code)
            answer = verify_entity_proof(canonical(proof)).answer
            if answer is not None and answer["verdict"] == "not_drawn":
                proofs["not_drawn"] = proof
                break
        hidden = _copy(proofs["drawn"], lambda o: o.update(entries=[
            e for e in o["entries"] if e["type"] != "draw.revealed"]))
        size = int(hidden["checkpoint"].split("\n")[1])
        hidden["proof"] = encode_hashes(multi_proof(
            led.tree, [e["seq"] for e in hidden["entries"]], size))
        other = next(n for s, _, n in reversed(led.published_checkpoints()) if s != size)
        proofs["_hidden"] = hidden
        proofs["_other_size"] = _copy(proofs["drawn"], lambda o: _set(o, "checkpoint", other))
        return trust, proofs
    finally:
        led.close()


def _entry_edit(proof: dict[str, Any], type_: str, edit: Callable[[dict[str, Any]], None]
                ) -> dict[str, Any]:
    """A copy whose entry of ``type_`` has its (re-encoded, still canonical) body edited."""
    out = json.loads(json.dumps(proof))
    for entry in out["entries"]:
        if entry["type"] == type_:
            edit(entry["body"])
            return out
    raise AssertionError(type_)


def _copy(proof: dict[str, Any], edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    out = json.loads(json.dumps(proof))
    edit(out)
    return out


def _flip(h: str) -> str:
    """Another hash in canonical base64 (the first character changed)."""
    return ("B" if h[0] == "A" else "A") + h[1:]


def _set(obj: dict[str, Any], key: str, value: Any) -> None:
    obj[key] = value


def _tampered(proofs: dict[str, dict[str, Any]], other: dict[str, Any]
              ) -> list[tuple[str, str, str | bytes, int, str]]:
    """(name, base case, tampered text, expected exit, first failing step)."""
    d, a, x = proofs["drawn"], proofs["absent"], proofs["excluded"]
    text = canonical(d).decode()
    swapped = _copy(d, lambda o: o["entries"].insert(1, o["entries"].pop(2)))

    def leaf_edit(o: dict[str, Any]) -> None:
        leaf = json.loads(o["pool"]["leaf"])
        leaf["unit"] = leaf["unit"] + "X"
        o["pool"]["leaf"] = canonical(leaf).decode()

    def cutoff(body: dict[str, Any]) -> None:
        cut = body["outcome"]["cutoffs"]
        cut.update({k: "f" * 64 for k in cut})

    def cosig(o: dict[str, Any]) -> None:
        # Only the log's own signature left: below any quorum of witnesses.
        origin = o["trust"]["origin"]
        o["checkpoint"] = "\n".join(x for x in o["checkpoint"].split("\n")
                                     if not x.startswith("— ") or x.startswith(f"— {origin} "))

    def swap(o: dict[str, Any]) -> None:
        o["proof"][0], o["proof"][1] = o["proof"][1], o["proof"][0]

    def neighbours(o: dict[str, Any]) -> None:
        o["pool"]["absent"][1] = None

    return [
        ("truncated", "drawn", text[:len(text) - 1000], 2, "format"),
        ("reordered", "drawn", canonical(swapped).decode(), 2, "format"),
        ("non_canonical", "drawn", text.replace('","', '", "', 1), 2, "format"),
        ("another_draw", "drawn", canonical(_copy(d, lambda o: _set(o, "draw", other["draw"])))
         .decode(), 2, "format"),
        ("another_entity", "drawn", canonical(_copy(d, lambda o: _set(
            o, "uscc", proofs["not_drawn"]["uscc"]))).decode(), 2, "pool"),
        ("pool_leaf_edited", "drawn", canonical(_copy(d, leaf_edit)).decode(), 2, "pool"),
        ("pool_path_edited", "drawn", canonical(_copy(d, lambda o: o["pool"]["proof"].__setitem__(
            0, _flip(o["pool"]["proof"][0])))).decode(), 2, "pool"),
        ("absent_neighbour_dropped", "absent", canonical(_copy(a, neighbours)).decode(), 2,
         "pool"),
        ("excluded_leaf_edited", "excluded", canonical(_copy(x, lambda o: o["excluded"][
            "proof"].__setitem__(0, _flip(o["excluded"]["proof"][0])))).decode(), 2, "pool"),
        ("cutoffs_edited", "drawn", canonical(_entry_edit(d, "draw.executed", cutoff)).decode(),
         2, "proofs"),
        ("proof_node_edited", "drawn", canonical(_copy(d, lambda o: o["proof"].__setitem__(
            2, _flip(o["proof"][2])))).decode(), 2, "proofs"),
        ("proof_node_dropped", "drawn", canonical(_copy(d, lambda o: o["proof"].pop(3)))
         .decode(), 2, "proofs"),
        ("proof_nodes_swapped", "drawn", canonical(_copy(d, swap)).decode(), 2, "proofs"),
        ("checkpoint_other_size", "drawn", canonical(proofs["_other_size"]).decode(), 2,
         "proofs"),
        ("entry_dropped", "drawn", canonical(_copy(d, lambda o: o["entries"].pop(3)))
         .decode(), 2, "proofs"),
        ("cosignature_dropped", "drawn", canonical(_copy(d, cosig)).decode(), 2, "proofs"),
        ("reveal_dropped", "drawn", canonical(proofs["_hidden"]).decode(), 2, "stream"),
        ("trust_quorum_edited", "drawn", canonical(_copy(d, lambda o: _set(
            o["trust"], "quorum", 0))).decode(), 2, "genesis"),
    ]


def _multiproofs() -> list[dict[str, Any]]:
    """Multi-leaf proofs over trees of leaf hashes of the decimals 0, 1, ...: edge shapes,
    the demo draw's spread, and a log of over a million entries."""
    shapes = [(1, [0]), (2, [1]), (7, [0, 6]), (8, [3]), (8, list(range(8))), (13, [4, 5, 12]),
              (505, [0, 34, 382, 416, 429, 446, 479]),
              (1_000_505, [0, 34, 382, 416, 1_000_429, 1_000_446, 1_000_479])]
    tree = MerkleTree(leaf_hash(str(i).encode()) for i in range(shapes[-1][0]))
    return [{"size": n, "indices": idx, "proof": encode_hashes(multi_proof(tree, idx, n)),
             "root": encode_hashes([tree.root(n)])[0]} for n, idx in shapes]


def main() -> None:
    cases: list[dict[str, Any]] = []
    trusts: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for log, spec in (("v1", 1), ("v2", 2)):
            root = Path(tmp) / log
            root.mkdir()
            db, _ = build_year(root, targets=200, inspectors=40, spec=spec)
            trust, proofs = _proofs(db)
            trusts[log] = trust
            for name, proof in proofs.items():
                if name.startswith("_"):
                    continue
                text = canonical(proof)
                result = verify_entity_proof(text, None)
                cases.append({"name": f"{log}-{name}", "log": log, "pinned": True,
                              "proof": text.decode(), "expect": {
                                  "exit_code": 0, "verdict": result.answer and
                                  result.answer["verdict"], "step": None}})
            if log == "v1":
                cases.append({"name": "v1-drawn-unpinned", "log": log, "pinned": False,
                              "proof": canonical(proofs["drawn"]).decode(),
                              "expect": {"exit_code": 3, "verdict": "drawn",
                                         "step": "genesis"}})
                cases.append({"name": "v1-oversized", "log": log, "pinned": True,
                              "oversize_of": "v1-drawn", "expect": {
                                  "exit_code": 2, "verdict": None, "step": "format"}})
                for name, _, bad, code, step in _tampered(proofs, proofs["excluded"]):
                    cases.append({"name": f"v1-{name}", "log": log, "pinned": True,
                                  "proof": bad if isinstance(bad, str) else bad.decode(),
                                  "expect": {"exit_code": code, "verdict": None,
                                             "step": step}})
    json.dump({"spec": "SPEC.md section 22", "format": "drawledger/entity-proof/v1",
               "max_bytes": MAX_BYTES, "trust": trusts, "cases": cases,
               "multiproof": _multiproofs()}, sys.stdout,
              ensure_ascii=False, indent=1)
    print()


if __name__ == "__main__":
    main()
