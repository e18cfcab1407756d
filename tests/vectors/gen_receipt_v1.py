"""Regenerate receipt-v1.json:
`python tests/vectors/gen_receipt_v1.py > tests/vectors/receipt-v1.json`.

Receipts (SPEC.md section 18) for entry 3 of entry-v1.json under its log key: the promise
text and signed note, the receipt without a proof and with the tlog-proof to entry-v1's
checkpoint, and the due dates of an inspection ended on a Friday before the 2026 National
Day holiday by the published 2026 calendar. Seeds are test-only; Ed25519 is
deterministic, so the output is stable; tests/test_receipts.py recomputes the bytes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from verifier import (
    DEFAULT_POLICY,
    MerkleTree,
    NoteSigner,
    TlogProof,
    entry_hash,
    format_proof,
    loads_canonical,
    sign_note,
)
from verifier._calendar import body_from_file
from verifier._receipt import inspection_due, make_receipt, promise_text

HERE = Path(__file__).resolve().parent
BASE = json.loads((HERE / "entry-v1.json").read_text(encoding="utf-8"))
CALENDAR = HERE.parents[1] / "ledger" / "data" / "calendar" / "cn-2026.json"


def main() -> None:
    k = BASE["keys"]["log"]
    log = NoteSigner(k["name"], Ed25519PrivateKey.from_private_bytes(
        bytes.fromhex(k["seed_hex"])), k["sigtype"])
    raws = [e["entry"].encode() for e in BASE["entries"]]
    entry = raws[3]
    time = json.loads(entry)["time"]
    text = promise_text(log.name, 3, 3, entry_hash(entry), time)
    receipt = make_receipt(log, log.name, 3, entry)
    tree = MerkleTree(entry_hash(raw) for raw in raws)
    proof = format_proof(TlogProof(3, tuple(tree.inclusion_proof(3, 4)),
                                   BASE["checkpoint_note"]))
    proved = {**loads_canonical(receipt), "proof": proof}
    calendar = body_from_file(json.loads(CALENDAR.read_text(encoding="utf-8")))
    out = {
        "about": "receipt vectors (SPEC.md section 18) over entry 3 of entry-v1.json, signed "
                 "by its log key (test-only seed); written by gen_receipt_v1.py",
        "entry_index": 3,
        "promise_text": text,
        "promise_note": sign_note(text, [log]),
        "receipt": receipt.decode(),
        "receipt_with_proof": proved,
        "due": {"ended_on": "2026-09-25", "policy": DEFAULT_POLICY, "calendar_2026": calendar,
                "due": inspection_due("2026-09-25", DEFAULT_POLICY, {2026: calendar})},
    }
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
