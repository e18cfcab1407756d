"""Regenerate sealed-v2.json:
`python tests/vectors/gen_sealed_v2.py > tests/vectors/sealed-v2.json`.

SPEC.md section 21 (v2 logs): a sealed target.added body and its opening, the commitment's
hashed bytes; an opening line of openings.jsonl; the leaf seals of one pool, roster and
conflict leaf under a snapshot key; a v2 execution's public outcome; an auditor request
signed by a test key. Salts, keys and seeds are fixed test values (never use them), and
Ed25519 is deterministic, so the output is stable; tests/test_sealed.py recomputes it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from verifier import NoteSigner
from verifier._auditreq import REQUEST_PREFIX
from verifier._canonical import canonical, dumps
from verifier._draw import (
    Candidate,
    Member,
    lp,
    public_outcome,
    sealed_conflict_leaf,
    sealed_pool_leaf,
    sealed_roster_leaf,
)
from verifier._opener import opening_line
from verifier._sealed import COMMIT_DOMAIN, Opening, seal_body

SALT = bytes(range(32))
KEY = hashlib.sha256(b"drawledger sealed-v2 test snapshot key").digest()
REQUEST_SEED = hashlib.sha256(b"drawledger sealed-v2 test auditor key").digest()


def main() -> None:
    body = {"uscc": "91370303MA3C0LXL4D", "name": "淄川示例食品有限公司", "dept": "SCJG",
            "registry": "SCJG/food", "industry": "C1431", "region": "370302", "risk": "B",
            "status": "存续", "unit": "城区市场监管所"}
    stream = f"target/{body['uscc']}"
    public, opening = seal_body("target.added", stream, body, SALT)
    assert opening is not None
    hashed = lp(COMMIT_DOMAIN, "target.added", stream, SALT, dumps(opening.fields))
    member = Member(body["uscc"], "B", ("SCJG/food", "C1431", "370302", "B", "存续",
                                        "城区市场监管所"))
    candidate = Candidate("ZF-3703-0001", "SCJG", "城区市场监管所", True, "2024-01-01",
                          "2028-12-31", False)
    outcome = {"seed": "00" * 32, "selected": [
        {"uscc": body["uscc"], "stratum": "B", "score": "11" * 32,
         "team": ["ZF-3703-0001", "ZF-3703-0002"]}], "cutoffs": {"B": "22" * 32},
        "unfillable": []}
    priv = Ed25519PrivateKey.from_private_bytes(REQUEST_SEED)
    signer = NoteSigner("zichuan-audit-request", priv)
    fields = {"ctime": "2026-12-03T02:00:00Z", "key": signer.name, "sid": "0123456789abcdef",
              "what": "openings", "from": 0}
    message = REQUEST_PREFIX + canonical(fields)
    request = {**fields, "sig": base64.b64encode(signer.sign(message)).decode()}
    out = {
        "spec": "SPEC-v2 section 21",
        "commitment": {
            "type": "target.added", "stream": stream, "body": body,
            "public_body": public, "opening": opening.to_json(),
            "hashed_hex": hashed.hex(), "sealed": public["sealed"],
            "opening_line": opening_line(7, opening).decode(),
        },
        "leaves": {
            "snapshot_key": KEY.hex(),
            "pool": {"member": member.to_json(), "leaf": sealed_pool_leaf(member, KEY).decode()},
            "roster": {"candidate": candidate.to_json(),
                       "leaf": sealed_roster_leaf(candidate, KEY).decode()},
            "conflict": {"cert_no": "ZF-3703-0001", "uscc": body["uscc"], "kind": "declared",
                         "leaf": sealed_conflict_leaf("ZF-3703-0001", body["uscc"],
                                                      "declared", KEY).decode()},
        },
        "outcome": {"full": outcome, "public": public_outcome(outcome)},
        "request": {"seed_hex": REQUEST_SEED.hex(), "vkey": signer.verifier.vkey,
                    "message_hex": message.hex(), "request": request,
                    "at": datetime(2026, 12, 3, 2, 3, tzinfo=UTC).isoformat()},
        "tamper": {
            "wrong_fields": Opening(SALT, {"risk": "A"}).to_json(),
            "wrong_salt": Opening(bytes(32), {"risk": "B"}).to_json(),
            "other_stream": "target/91370303MA3C0LXL4E",
        },
    }
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
