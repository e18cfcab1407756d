"""Regenerate clarifications-v1.json:
`python tests/vectors/gen_clarifications_v1.py > tests/vectors/clarifications-v1.json`.

The vectors behind the SPEC-v1 clarifications (SPEC.md section 12): a two-member batch
signature (4.2), the ctime grammar (4), canonical-JSON inputs a re-encoding comparison
alone would let through (2), a checkpoint with an extension line (7.2) and a bundle's
hex consistency proof (15.1). Seeds, times and ids are fixed and Ed25519 is
deterministic, so the output is stable; tests/test_spec_vectors.py recomputes the bytes
from SPEC.md and checks the verifier's verdicts.
"""

from __future__ import annotations

import base64
import hashlib
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
from verifier._entry import batch_message

HERE = Path(__file__).resolve().parent
BASE = json.loads((HERE / "entry-v1.json").read_text(encoding="utf-8"))


def signer(role: str) -> NoteSigner:
    k = BASE["keys"][role]
    seed = bytes.fromhex(k["seed_hex"])
    return NoteSigner(k["name"], Ed25519PrivateKey.from_private_bytes(seed), k["sigtype"])


def batch_vector() -> dict[str, object]:
    """Entries 3..5 after entry-v1's entries 0..2: an import record and its two members."""
    log, dept = signer("log"), signer("department")
    base = [e["entry"].encode() for e in BASE["entries"][:3]]
    tree = MerkleTree(entry_hash(raw) for raw in base)
    prev = entry_hash(base[-1])
    file_sha = hashlib.sha256(b"uscc,name\n").hexdigest()
    record = {"kind": "targets", "dept": "ZC-SCJGJ", "file_sha256": file_sha,
              "file_name": "targets.csv", "rows": 2, "batch": "B1"}
    sig = {"ctime": "2026-01-04T08:00:00Z", "key": dept.name, "sid": "import-1", "value": ""}
    stream = f"import/ZC-SCJGJ/{file_sha}"
    sig["value"] = base64.b64encode(dept.sign(statement_bytes(
        "import.recorded", stream, "ZC-SCJGJ", record, sig))).decode()
    raw = make_entry(3, prev, "2026-01-04T16:00:03.000000+08:00", stream, 1,
                     {"actor": "ZC-SCJGJ", "body": record, "sig": sig,
                      "type": "import.recorded"})
    entries: list[dict[str, object]] = [{"entry": raw.decode()}]
    prev = entry_hash(raw)
    tree.append(prev)
    members = [
        {"uscc": "91370321MAU34K4U1H", "dept": "ZC-SCJGJ", "name": "淄博某某商贸有限公司",
         "registry": "ZC-SCJGJ/F", "industry": "F5299", "region": "370321", "risk": "B",
         "status": "存续", "unit": "昆仑镇市场监管所"},
        {"uscc": "91370302MALP7MKR4B", "dept": "ZC-SCJGJ", "name": "淄博某某餐饮有限公司",
         "registry": "ZC-SCJGJ/H", "industry": "H6210", "region": "370302", "risk": "C",
         "status": "在业", "unit": "般阳路市场监管所"},
    ]
    ctime = "2026-01-04T08:00:01Z"
    statements = []
    for i, body in enumerate(members):
        member_sig = {"ctime": ctime, "key": dept.name, "sid": f"batch/B1/{i}/2"}
        statements.append((f"target/{body['uscc']}", body, member_sig,
                           statement_bytes("target.added", f"target/{body['uscc']}",
                                           "ZC-SCJGJ", body, member_sig)))
    digests = [hashlib.sha256(s[3]).digest() for s in statements]
    big_d = hashlib.sha256(b"".join(digests)).digest()
    message = batch_message(dept.name, "B1", ctime, 2, big_d)
    value = base64.b64encode(dept.sign(message)).decode()
    for i, (stream, body, member_sig, signed) in enumerate(statements):
        raw = make_entry(4 + i, prev, f"2026-01-04T16:00:0{4 + i}.000000+08:00", stream, 1,
                         {"actor": "ZC-SCJGJ", "body": body,
                          "sig": {**member_sig, "value": value}, "type": "target.added"})
        entries.append({"entry": raw.decode(), "statement_bytes": signed.decode(),
                        "d_hex": digests[i].hex()})
        prev = entry_hash(raw)
        tree.append(prev)
    # The reading SPEC.md rules out: digests of the canonical statements without the prefix.
    bare = hashlib.sha256(b"".join(hashlib.sha256(s[3][24:]).digest()
                                   for s in statements)).digest()
    text = Checkpoint(log.name, tree.size, tree.root()).text
    note = sign_note(text, [log]) + cosign(text, signer("witness"), BASE["cosignature_timestamp"])
    return {"about": "follows entries 0..2 of entry-v1.json (seq 3 = import.recorded)",
            "entries": entries, "D_hex": big_d.hex(), "batch_message": message.decode(),
            "signature_b64": value, "D_without_prefix_hex": bare.hex(),
            "checkpoint_note": note}


CTIMES = [
    ("2026-11-27T03:34:52Z", True, "UTC"),
    ("2026-11-27T11:34:52+08:00", True, "offset"),
    ("2026-11-26T22:34:52-05:00", True, "negative offset"),
    ("2026-11-27T03:34:52-00:00", True, "-00:00 is accepted (same instant as Z)"),
    ("2026-11-27T03:34:52.1Z", True, "one fraction digit"),
    ("2026-11-27T03:34:52.123456+08:00", True, "six fraction digits"),
    ("2024-02-29T00:00:00Z", True, "leap day"),
    ("2026-11-27T03:34:52+23:59", True, "largest offset"),
    ("0001-01-01T00:00:00Z", True, "smallest year"),
    ("9999-12-31T23:59:59.999999Z", True, "largest time"),
    ("2026-11-27T03:34:52.1234567Z", False, "seven fraction digits"),
    ("2026-11-27T03:34:52.Z", False, "empty fraction"),
    ("2026-11-27t03:34:52Z", False, "lower-case t"),
    ("2026-11-27T03:34:52z", False, "lower-case z"),
    ("2026-11-27 03:34:52Z", False, "space instead of T"),
    ("2026-11-27T03:34:52", False, "no offset"),
    ("2026-11-27T03:34Z", False, "no seconds"),
    ("2026-11-27T03:34:52+0800", False, "offset without colon"),
    ("2026-11-27T03:34:52+08", False, "offset without minutes"),
    ("2026-11-27T23:59:60Z", False, "leap second"),
    ("2026-11-27T24:00:00Z", False, "hour 24"),
    ("2026-11-27T03:60:00Z", False, "minute 60"),
    ("2026-13-01T00:00:00Z", False, "month 13"),
    ("2026-00-01T00:00:00Z", False, "month 00"),
    ("2026-11-00T00:00:00Z", False, "day 00"),
    ("2026-02-29T00:00:00Z", False, "29 February of a common year"),
    ("2026-04-31T00:00:00Z", False, "31 April"),
    ("0000-01-01T00:00:00Z", False, "year 0000"),
    ("2026-11-27T03:34:52+24:00", False, "offset hour 24"),
    ("2026-11-27T03:34:52+05:60", False, "offset minute 60"),
    ("２０２６-11-27T03:34:52Z", False, "full-width digits"),
    ("2026-11-27T03:34:52Z\n", False, "trailing newline"),
]

# (input, accepted, why). Inputs are UTF-8 text except where "hex" gives raw bytes.
CANONICAL: list[dict[str, object]] = [
    {"text": '{"a":1}', "ok": True, "why": "canonical"},
    {"text": '{"a":1.5}', "ok": False,
     "why": "fraction: forbidden even though a float re-encodes to the same 1.5"},
    {"text": '{"a":1.0}', "ok": False, "why": "fraction"},
    {"text": '{"a":1e2}', "ok": False, "why": "exponent"},
    {"text": '{"a":1E2}', "ok": False, "why": "exponent"},
    {"text": '{"a":NaN}', "ok": False, "why": "NaN is not JSON"},
    {"text": '{"a":Infinity}', "ok": False, "why": "Infinity is not JSON"},
    {"text": '{"a":-0}', "ok": False, "why": "-0 is not the shortest form of 0"},
    {"text": '{"a":01}', "ok": False, "why": "leading zero is not JSON"},
    {"text": '{"a":9007199254740992}', "ok": True, "why": "2^53"},
    {"text": '{"a":-9007199254740992}', "ok": True, "why": "-2^53"},
    {"text": '{"a":9007199254740993}', "ok": False,
     "why": "2^53+1: out of range even though an integer parser re-encodes it exactly"},
    {"text": '{"a":1,"a":1}', "ok": False, "why": "duplicate key"},
    {"text": '{"a":1,"a":2}', "ok": False, "why": "duplicate key"},
    {"text": '{"b":1,"a":2}', "ok": False, "why": "keys out of order"},
    {"text": '{"a": 1}', "ok": False, "why": "whitespace"},
    {"text": '{"a":1}\n', "ok": False,
     "why": "trailing newline (it is the line's, not the entry's)"},
    {"text": '{"a":"\\u0041"}', "ok": False, "why": "\\u escape of a printable character"},
    {"text": '{"a":"\\/"}', "ok": False, "why": "escaped solidus"},
    {"text": '{"a":"\\u001f"}', "ok": True, "why": "control character: lower-case \\u00xx"},
    {"text": '{"a":"\\u001F"}', "ok": False, "why": "upper-case hex in an escape"},
    {"text": '{"a":"\\u000a"}', "ok": False, "why": "newline must be written \\n"},
    {"text": '{"a":"\\n"}', "ok": True, "why": "newline as \\n"},
    {"text": '{"a":"\u2028\u007f"}', "ok": True, "why": "U+2028 and U+007F raw"},
    {"text": '{"a":"é"}', "ok": True, "why": "NFC, raw UTF-8"},
    {"text": '{"a":"e\u0301"}', "ok": False, "why": "not NFC (e + combining acute)"},
    {"text": '{"a":"\\u00e9"}', "ok": False, "why": "\\u escape of a printable character"},
    {"text": '{"é":1}', "ok": False, "why": "non-ASCII object key"},
    {"text": '{"a":"\\ud800"}', "ok": False, "why": "escaped lone surrogate"},
    {"text": '{"a":"\\ud83d\\ude00"}', "ok": False,
     "why": "escaped surrogate pair: the canonical form is the raw character"},
    {"hex": '7b2261223a22eda080227d', "ok": False,
     "why": "lone surrogate as (invalid) UTF-8 bytes ED A0 80"},
    {"hex": '7b2261223a22c3a9227d', "ok": True, "why": "é as UTF-8 bytes C3 A9"},
    {"hex": 'efbbbf7b2261223a317d', "ok": False, "why": "byte-order mark"},
]


def extension_vector() -> dict[str, object]:
    """A checkpoint of entry-v1's four entries with one extension line, signed by the log."""
    log = signer("log")
    root = base64.b64decode(BASE["merkle_root_b64"])
    text = Checkpoint(log.name, 4, root, ("drawledger-test-extension value",)).text
    empty = Checkpoint(log.name, 4, root).text + "\nlater\n"
    return {"note": sign_note(text, [log]), "accepted": True,
            "note_with_empty_extension": sign_note(empty, [log]),
            "empty_extension_accepted": False}


def consistency_vector() -> dict[str, object]:
    """A bundle ``consistency`` item over the RFC 6962 reference leaves, old 3, new 7."""
    ref = json.loads((HERE / "rfc6962.json").read_text(encoding="utf-8"))
    tree = MerkleTree(hashlib.sha256(b"\x00" + bytes.fromhex(d)).digest()
                      for d in ref["leaves_hex"][:7])
    return {"leaves_hex": ref["leaves_hex"][:7],
            "old_root_hex": tree.root(3).hex(), "new_root_hex": tree.root(7).hex(),
            "item": {"old": 3, "new": 7,
                     "proof": [h.hex() for h in tree.consistency_proof(3, 7)]}}


def main() -> None:
    out = {
        "about": "SPEC-v1 clarification vectors (SPEC.md section 12): seeds are test-only, "
                 "keys as in entry-v1.json.",
        "batch": batch_vector(),
        "ctime": [{"ctime": c, "accepted": ok, "why": why} for c, ok, why in CTIMES],
        "canonical": CANONICAL,
        "checkpoint_extension": extension_vector(),
        "bundle_consistency": consistency_vector(),
    }
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
