"""Regenerate entry-v1.json: `python tests/vectors/gen_entry_v1.py > tests/vectors/entry-v1.json`.

Everything is fixed (seeds, times, statement ids) and Ed25519 is deterministic, so the
output is stable; tests/test_spec_vectors.py recomputes it from SPEC.md without the
project's code.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from verifier import (
    Checkpoint,
    MerkleTree,
    NoteSigner,
    cosign,
    entry_hash,
    make_entry,
    sign_note,
    statement_bytes,
)


def signer(name: str, seed_byte: int, sigtype: int = 1) -> tuple[NoteSigner, str]:
    seed = bytes([seed_byte]) * 32
    return NoteSigner(name, Ed25519PrivateKey.from_private_bytes(seed), sigtype), seed.hex()


def main() -> None:
    origin = "example.test/drawledger"
    log, log_seed = signer(origin, 1)
    auth, auth_seed = signer("test-office", 2)
    dept, dept_seed = signer("ZC-SCJGJ-test", 3)
    wit, wit_seed = signer("test-witness", 4, 4)
    statements = [
        ("log.genesis", "log", "authority", auth,
         {"origin": origin, "log_key": log.verifier.vkey,
          "authority_keys": [auth.verifier.vkey], "witnesses": [wit.verifier.vkey],
          "quorum": 1, "policy": {"min_team_size": 2, "plan_filing_deadline": "01-31",
                     "publication_working_days": 20, "result_entry_working_days": 3}}),
        ("department.registered", "dept/ZC-SCJGJ", "authority", auth,
         {"code": "ZC-SCJGJ", "name": "区市场监管局"}),
        ("key.registered", "key/ZC-SCJGJ-test", "authority", auth,
         {"name": "ZC-SCJGJ-test", "vkey": dept.verifier.vkey, "dept": "ZC-SCJGJ",
          "role": "department"}),
        ("target.added", "target/91370321MAU34K4U1H", "ZC-SCJGJ", dept,
         {"uscc": "91370321MAU34K4U1H", "dept": "ZC-SCJGJ", "name": "淄博某某商贸有限公司",
          "registry": "ZC-SCJGJ/F", "industry": "F5299", "region": "370321", "risk": "B",
          "status": "存续", "unit": "昆仑镇市场监管所"}),
    ]
    prev = bytes(32)
    entries = []
    tree = MerkleTree()
    for seq, (type_, stream, actor, key, body) in enumerate(statements):
        sig = {"ctime": f"2026-01-0{seq + 1}T08:00:00Z", "key": key.name, "sid": f"sid-{seq}",
               "value": ""}
        message = statement_bytes(type_, stream, actor, body, sig)
        sig["value"] = base64.b64encode(key.sign(message)).decode()
        time = f"2026-01-0{seq + 1}T16:00:0{seq}.000000+08:00"
        raw = make_entry(seq, prev, time, stream, 1,
                         {"actor": actor, "body": body, "sig": sig, "type": type_})
        prev = entry_hash(raw)
        tree.append(prev)
        entries.append({"statement_bytes": message.decode(), "entry": raw.decode(),
                        "entry_hash": prev.hex()})
    cp = Checkpoint(origin, tree.size, tree.root())
    note = sign_note(cp.text, [log]) + cosign(cp.text, wit, 1767225600)
    out = {
        "about": "SPEC-v1 golden vector: seeds are test-only; recompute every field from "
                 "docs/SPEC.md. Ed25519 keys are from_private_bytes(seed).",
        "keys": {
            "log": {"name": origin, "seed_hex": log_seed, "sigtype": 1, "vkey": log.verifier.vkey},
            "authority": {"name": auth.name, "seed_hex": auth_seed, "sigtype": 1,
                          "vkey": auth.verifier.vkey},
            "department": {"name": dept.name, "seed_hex": dept_seed, "sigtype": 1,
                           "vkey": dept.verifier.vkey},
            "witness": {"name": wit.name, "seed_hex": wit_seed, "sigtype": 4,
                        "vkey": wit.verifier.vkey},
        },
        "entries": entries,
        "merkle_root_b64": base64.b64encode(tree.root()).decode(),
        "checkpoint_text": cp.text,
        "cosignature_timestamp": 1767225600,
        "checkpoint_note": note,
        "inclusion_proof_index_2": [base64.b64encode(h).decode()
                                    for h in tree.inclusion_proof(2, 4)],
    }
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
