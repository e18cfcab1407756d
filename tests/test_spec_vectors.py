"""SPEC.md suffices: recompute the golden vector with hashlib, json and cryptography only.

The first half of this file deliberately uses none of the project's code: it is what a third
party writes from docs/SPEC.md. The second half checks the project's verifier agrees and
that an export built from the vector audits clean.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

VECTORS = Path(__file__).resolve().parent / "vectors"
V = json.loads((VECTORS / "entry-v1.json").read_text(encoding="utf-8"))


# --- an independent implementation, from the spec alone -----------------------------------
def jcs(obj: object) -> bytes:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def key(role: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(V["keys"][role]["seed_hex"]))


def vkey(name: str, sigtype: int, pub: bytes) -> str:
    kid = sha(name.encode() + b"\n" + bytes([sigtype]) + pub)[:4]
    return f"{name}+{kid.hex()}+{base64.b64encode(bytes([sigtype]) + pub).decode()}"


def mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return sha(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return sha(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def test_keys_encode_as_c2sp_vkeys() -> None:
    for role, k in V["keys"].items():
        pub = key(role).public_key().public_bytes_raw()
        assert vkey(k["name"], k["sigtype"], pub) == k["vkey"]


def test_statements_signatures_entries_and_chain() -> None:
    signers = {V["keys"][r]["name"]: key(r) for r in ("authority", "department")}
    prev = bytes(32)
    for seq, item in enumerate(V["entries"]):
        entry = json.loads(item["entry"])
        assert set(entry) == {"seq", "prev", "time", "stream", "version", "type", "actor",
                              "body", "sig"}
        assert jcs(entry) == item["entry"].encode(), "entry is canonical"
        assert entry["seq"] == seq and entry["prev"] == prev.hex()
        sig = entry["sig"]
        message = b"drawledger/statement/v1\n" + jcs({
            "actor": entry["actor"], "body": entry["body"], "ctime": sig["ctime"],
            "key": sig["key"], "sid": sig["sid"], "stream": entry["stream"],
            "type": entry["type"]})
        assert message == item["statement_bytes"].encode()
        signer = signers[sig["key"]]
        assert base64.b64encode(signer.sign(message)).decode() == sig["value"]
        signer.public_key().verify(base64.b64decode(sig["value"]), message)
        prev = sha(b"\x00" + item["entry"].encode())
        assert prev.hex() == item["entry_hash"]


def test_merkle_root_checkpoint_and_cosignature() -> None:
    leaves = [bytes.fromhex(e["entry_hash"]) for e in V["entries"]]
    root = mth(leaves)
    assert base64.b64encode(root).decode() == V["merkle_root_b64"]
    origin = V["keys"]["log"]["name"]
    text = f"{origin}\n{len(leaves)}\n{base64.b64encode(root).decode()}\n"
    assert text == V["checkpoint_text"]
    log = key("log")
    kid = sha(origin.encode() + b"\n\x01" + log.public_key().public_bytes_raw())[:4]
    log_line = f"\u2014 {origin} {base64.b64encode(kid + log.sign(text.encode())).decode()}\n"
    ts = V["cosignature_timestamp"]
    wit = key("witness")
    wname = V["keys"]["witness"]["name"]
    wkid = sha(wname.encode() + b"\n\x04" + wit.public_key().public_bytes_raw())[:4]
    msg = f"cosignature/v1\ntime {ts}\n".encode() + text.encode()
    payload = wkid + ts.to_bytes(8, "big") + wit.sign(msg)
    wit_line = f"\u2014 {wname} {base64.b64encode(payload).decode()}\n"
    assert V["checkpoint_note"] == text + "\n" + log_line + wit_line


def test_inclusion_proof() -> None:
    leaves = [bytes.fromhex(e["entry_hash"]) for e in V["entries"]]
    path = [base64.b64decode(h) for h in V["inclusion_proof_index_2"]]
    # Leaf 2 of 4: sibling is leaf 3, then the root of leaves 0..1.
    assert path == [leaves[3], sha(b"\x01" + leaves[0] + leaves[1])]
    assert sha(b"\x01" + path[1] + sha(b"\x01" + leaves[2] + path[0])) == mth(leaves)


# --- the project's verifier agrees ---------------------------------------------------------
def test_project_verifier_agrees(tmp_path: Path) -> None:
    from verifier import (
        EXIT_CLEAN,
        NoteVerifier,
        Trust,
        audit,
        parse_entry,
        parse_note,
        verify_cosignatures,
        verify_note,
    )

    for item in V["entries"]:
        entry = parse_entry(item["entry"].encode())
        assert entry.hash.hex() == item["entry_hash"]
        assert entry.signed_bytes() == item["statement_bytes"].encode()
    note = parse_note(V["checkpoint_note"])
    log_key = NoteVerifier.from_vkey(V["keys"]["log"]["vkey"])
    witness = NoteVerifier.from_vkey(V["keys"]["witness"]["vkey"])
    assert verify_note(note, [log_key]) == [log_key]
    assert verify_cosignatures(note, [witness]) == {witness.name: V["cosignature_timestamp"]}
    trust = Trust(V["keys"]["log"]["name"], log_key,
                  (NoteVerifier.from_vkey(V["keys"]["authority"]["vkey"]),), (witness,), 1)
    lines = [e["entry"].encode() + b"\n" for e in V["entries"]]
    report = audit(lines, [("cp", V["checkpoint_note"].encode())], trust)
    assert report.findings == [] and report.exit_code == EXIT_CLEAN


@pytest.mark.parametrize("field", ["actor", "body", "stream", "type"])
def test_every_signed_field_is_covered(field: str) -> None:
    from verifier import entry_hash, make_entry, parse_entry

    item = V["entries"][3]
    entry = parse_entry(item["entry"].encode())
    state = {"actor": entry.actor, "body": dict(entry.body), "sig": entry.sig, "type": entry.type}
    stream = entry.stream
    if field == "body":
        state["body"]["risk"] = "A"
    elif field == "stream":
        stream = "target/91370302MALP7MKR48"
    else:
        state[field] = state[field] + ".x" if field == "type" else "ZC-OTHER"
    changed = parse_entry(make_entry(3, bytes.fromhex(entry.prev), entry.time, stream, 1, state))
    assert changed.hash != entry_hash(item["entry"].encode())
    from cryptography.exceptions import InvalidSignature

    pub = key("department").public_key()
    with pytest.raises(InvalidSignature):
        pub.verify(changed.signature(), changed.signed_bytes())
