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


# --- SPEC-v1 clarifications (section 12): clarifications-v1.json ------------------------
C = json.loads((VECTORS / "clarifications-v1.json").read_text(encoding="utf-8"))
BATCH = C["batch"]


def _base_lines() -> list[bytes]:
    return [e["entry"].encode() for e in V["entries"]]


def _checkpoint(lines: list[bytes]) -> str:
    """A log-signed checkpoint over ``lines``, from the spec alone (7.1, 7.2)."""
    origin = V["keys"]["log"]["name"]
    root = mth([sha(b"\x00" + raw) for raw in lines])
    text = f"{origin}\n{len(lines)}\n{base64.b64encode(root).decode()}\n"
    log = key("log")
    kid = sha(origin.encode() + b"\n\x01" + log.public_key().public_bytes_raw())[:4]
    ts, wname, wit = V["cosignature_timestamp"], V["keys"]["witness"]["name"], key("witness")
    wkid = sha(wname.encode() + b"\n\x04" + wit.public_key().public_bytes_raw())[:4]
    cosig = wit.sign(f"cosignature/v1\ntime {ts}\n".encode() + text.encode())
    return (text + f"\n\u2014 {origin} {base64.b64encode(kid + log.sign(text.encode())).decode()}\n"
            f"\u2014 {wname} {base64.b64encode(wkid + ts.to_bytes(8, 'big') + cosig).decode()}\n")


def _trust() -> object:
    from verifier import NoteVerifier, Trust

    return Trust(V["keys"]["log"]["name"], NoteVerifier.from_vkey(V["keys"]["log"]["vkey"]),
                 (NoteVerifier.from_vkey(V["keys"]["authority"]["vkey"]),),
                 (NoteVerifier.from_vkey(V["keys"]["witness"]["vkey"]),), 1)


def _audit(lines: list[bytes], notes: list[str]) -> object:
    from verifier import audit

    return audit([raw + b"\n" for raw in lines], [(f"cp{i}", n.encode())
                                                  for i, n in enumerate(notes)], _trust())


def _batch_lines() -> list[bytes]:
    return _base_lines()[:3] + [e["entry"].encode() for e in BATCH["entries"]]


def test_batch_digests_are_over_statement_bytes_with_the_prefix() -> None:
    """4.2: d_i hashes member i's statement bytes *including* the 24-byte prefix."""
    digests = []
    for item in BATCH["entries"][1:]:
        entry = json.loads(item["entry"])
        sig = entry["sig"]
        statement = b"drawledger/statement/v1\n" + jcs({
            "actor": entry["actor"], "body": entry["body"], "ctime": sig["ctime"],
            "key": sig["key"], "sid": sig["sid"], "stream": entry["stream"],
            "type": entry["type"]})
        assert len(b"drawledger/statement/v1\n") == 24
        assert statement == item["statement_bytes"].encode()
        assert sha(statement).hex() == item["d_hex"]
        digests.append(sha(statement))
    big_d = sha(b"".join(digests))
    assert big_d.hex() == BATCH["D_hex"]
    first = json.loads(BATCH["entries"][1]["entry"])["sig"]
    message = b"drawledger/batch/v1\n" + jcs({"count": 2, "ctime": first["ctime"],
                                              "digest": big_d.hex(), "key": first["key"],
                                              "sid": "B1"})
    assert message == BATCH["batch_message"].encode()
    dept = key("department")
    assert base64.b64encode(dept.sign(message)).decode() == BATCH["signature_b64"] \
        == first["value"]
    # The other reading (digests of the canonical JSON alone) gives another D, which the
    # shared signature does not verify over.
    bare = sha(b"".join(sha(i["statement_bytes"].encode()[24:]) for i in BATCH["entries"][1:]))
    assert bare.hex() == BATCH["D_without_prefix_hex"] != big_d.hex()
    from cryptography.exceptions import InvalidSignature

    with pytest.raises(InvalidSignature):
        dept.public_key().verify(base64.b64decode(first["value"]),
                                 message.replace(big_d.hex().encode(), bare.hex().encode()))


def test_batch_vector_audits_clean_with_the_project_verifier() -> None:
    lines = _batch_lines()
    report = _audit(lines, [BATCH["checkpoint_note"]])
    assert report.findings == []
    assert report.signatures_checked == 5  # four single statements and one batch
    assert _checkpoint(lines) == BATCH["checkpoint_note"]


def test_batch_signed_over_unprefixed_statements_is_a_bad_signature() -> None:
    """The trap of 4.2's old wording: a signer that hashed the bare canonical statements
    produces a batch the verifier must refuse (V1.signature on the member range)."""
    from verifier import entry_hash, make_entry

    lines = _batch_lines()
    first = json.loads(lines[4])["sig"]
    message = b"drawledger/batch/v1\n" + jcs({"count": 2, "ctime": first["ctime"],
                                              "digest": BATCH["D_without_prefix_hex"],
                                              "key": first["key"], "sid": "B1"})
    value = base64.b64encode(key("department").sign(message)).decode()
    for seq in (4, 5):
        o = json.loads(lines[seq])
        lines[seq] = make_entry(seq, entry_hash(lines[seq - 1]), o["time"], o["stream"], 1,
                                {"actor": o["actor"], "body": o["body"], "type": o["type"],
                                 "sig": {**o["sig"], "value": value}})
    report = _audit(lines, [_checkpoint(lines)])
    bad = [(f.rule, f.seq, f.seq_end) for f in report.findings if f.kind == "integrity"]
    assert bad == [("V1.signature", 4, 5)]


# The ctime grammar of SPEC.md section 4, written independently of verifier/_entry.py.
_SPEC_CTIME = (r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):"
               r"[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])")


def _spec_ctime_ok(text: str) -> bool:
    import re
    from datetime import date

    if re.fullmatch(_SPEC_CTIME, text, flags=re.ASCII) is None or "\n" in text:
        return False
    try:
        return date.fromisoformat(text[:10]).year >= 1
    except ValueError:
        return False


@pytest.mark.parametrize("item", C["ctime"], ids=[c["why"] for c in C["ctime"]])
def test_ctime_grammar_accepted_and_rejected(item: dict[str, object]) -> None:
    from verifier import FormatError
    from verifier._entry import parse_sig

    ctime = str(item["ctime"])
    assert _spec_ctime_ok(ctime) is item["accepted"]
    sig = {"ctime": ctime, "key": "k", "sid": "s", "value": "A" * 86 + "=="}
    if item["accepted"]:
        parse_sig(sig)
    else:
        with pytest.raises(FormatError, match=r"sig\.ctime"):
            parse_sig(sig)


def test_ctime_of_a_day_that_does_not_exist_is_refused_by_name_not_by_a_traceback() -> None:
    """The trap: the old grammar let 2026-02-29 through to the ledger's datetime parser,
    which raised ValueError on submission; now the statement is refused naming sig.ctime,
    and an entry carrying it is V1.format."""
    from verifier import FormatError, Submission, make_entry, parse_entry, statement_bytes

    entry = json.loads(V["entries"][3]["entry"])
    sig = {**entry["sig"], "ctime": "2026-02-29T08:00:00Z"}
    sig["value"] = base64.b64encode(key("department").sign(statement_bytes(
        entry["type"], entry["stream"], entry["actor"], entry["body"], sig))).decode()
    with pytest.raises(FormatError, match=r"sig\.ctime"):
        Submission.from_json({"stream": entry["stream"], "type": entry["type"],
                              "actor": entry["actor"], "body": entry["body"], "sig": sig})
    raw = make_entry(3, bytes.fromhex(entry["prev"]), entry["time"], entry["stream"], 1,
                     {"actor": entry["actor"], "body": entry["body"], "sig": sig,
                      "type": entry["type"]})
    with pytest.raises(FormatError, match=r"sig\.ctime"):
        parse_entry(raw)


def _padded_entry(size: int) -> bytes:
    """Entry 3 of entry-v1 re-signed with a padding field so its bytes are ``size`` long."""
    from verifier import make_entry, statement_bytes

    entry = json.loads(V["entries"][3]["entry"])

    def build(pad: int) -> bytes:
        body = {**entry["body"], "pad": "x" * pad}
        sig = {**entry["sig"]}
        sig["value"] = base64.b64encode(key("department").sign(statement_bytes(
            entry["type"], entry["stream"], entry["actor"], body, sig))).decode()
        return make_entry(3, bytes.fromhex(entry["prev"]), entry["time"], entry["stream"], 1,
                          {"actor": entry["actor"], "body": body, "sig": sig,
                           "type": entry["type"]})

    raw = build(size - len(build(0)))
    assert len(raw) == size
    return raw


@pytest.mark.parametrize("chunk", [1 << 20, 4096])
def test_entry_of_exactly_1_mib_plus_its_newline_is_accepted(chunk: int) -> None:
    """9.1/3.1: the limit counts the entry's bytes; the line's newline is not counted."""
    import io

    from verifier import MAX_ENTRY_BYTES, audit, parse_entry
    from verifier._cli import read_lines

    raw = _padded_entry(MAX_ENTRY_BYTES)
    assert MAX_ENTRY_BYTES == 1_048_576
    parse_entry(raw)
    lines = [*_base_lines()[:3], raw]
    data = b"".join(line + b"\n" for line in lines)
    read = list(read_lines(io.BytesIO(data), chunk_size=chunk))
    assert read[-1] == raw + b"\n" and len(read[-1]) == MAX_ENTRY_BYTES + 1
    report = audit(read, [("cp", _checkpoint(lines).encode())], _trust())
    assert report.findings == []


@pytest.mark.parametrize("chunk", [1 << 20, 4096])
def test_entry_one_byte_over_1_mib_is_refused_even_without_counting_the_newline(
        chunk: int) -> None:
    import io

    from verifier import MAX_ENTRY_BYTES, FormatError, audit, parse_entry
    from verifier._audit import Oversize
    from verifier._cli import read_lines

    raw = _padded_entry(MAX_ENTRY_BYTES + 1)
    with pytest.raises(FormatError, match="over the 1048576-byte limit"):
        parse_entry(raw)
    lines = [*_base_lines()[:3], raw]
    read = list(read_lines(io.BytesIO(b"".join(line + b"\n" for line in lines)),
                           chunk_size=chunk))
    assert read[-1] == Oversize(MAX_ENTRY_BYTES + 2)
    report = audit(read, [("cp", _checkpoint(lines).encode())], _trust())
    assert any(f.rule == "V1.format" and f.seq == 3 and "over the 1048576-byte limit" in f.en
               for f in report.findings)


def test_a_last_line_of_exactly_1_mib_without_newline_is_truncation_not_oversize() -> None:
    import io

    from verifier import MAX_ENTRY_BYTES, audit
    from verifier._cli import read_lines

    raw = _padded_entry(MAX_ENTRY_BYTES)
    lines = [*_base_lines()[:3], raw]
    data = b"".join(line + b"\n" for line in lines)[:-1]
    read = list(read_lines(io.BytesIO(data), chunk_size=4096))
    assert read[-1] == raw
    report = audit(read, [("cp", _checkpoint(lines).encode())], _trust())
    assert [(f.rule, f.seq) for f in report.findings if f.kind == "integrity"] == [
        ("V1.format", 3)]
    assert "not newline-terminated" in report.findings[0].en


def _canonical_input(item: dict[str, object]) -> bytes:
    return bytes.fromhex(str(item["hex"])) if "hex" in item else str(item["text"]).encode(
        "utf-8", "surrogatepass")


@pytest.mark.parametrize("item", C["canonical"], ids=[str(c["why"]) for c in C["canonical"]])
def test_canonical_profile_verdicts(item: dict[str, object]) -> None:
    """Section 2: every input's verdict under the project's parser."""
    from verifier import CanonicalError
    from verifier._canonical import loads_canonical

    data = _canonical_input(item)
    if item["ok"]:
        loads_canonical(data)
    else:
        with pytest.raises(CanonicalError):
            loads_canonical(data)


def test_re_encode_and_compare_alone_would_accept_floats_and_big_integers() -> None:
    """The trap of section 2: a plain parser reads 1.5, 2^53+1, a non-NFC string and a
    non-ASCII key and re-encodes them to the very same bytes, so the comparison alone lets
    them through; the profile must be enforced when parsing."""
    from verifier import CanonicalError
    from verifier._canonical import loads_canonical

    for text in ('{"a":1.5}', '{"a":9007199254740993}', '{"a":"e\u0301"}', '{"é":1}'):
        assert jcs(json.loads(text)) == text.encode(), "a naive verifier accepts it"
        with pytest.raises(CanonicalError):
            loads_canonical(text.encode())


def test_cosignature_note_counter_is_global_and_names_carry_no_meaning(tmp_path: Path) -> None:
    """9.1: ``<size>.<n>.note`` numbers every later cosignature of the export in one
    sequence (not per size); a verifier reads the size from the note, not the name."""
    from ledger import Ledger, Parties, init_log, sign_statement
    from tests.helpers import run_audit

    keys = Parties(tmp_path / "parties")
    ledger = Ledger(str(tmp_path / "db.sqlite"))
    try:
        init_log(ledger, keys)
        ledger.checkpoint(keys.load("log"))
        audit_w, supervision_w = keys.witness_tools()
        ledger.witness_latest(audit_w)
        ledger.witness_latest(supervision_w)
        ledger.submit([sign_statement(keys.load("authority"), "department.registered",
                                      "dept/ZC-SCJGJ", "authority",
                                      {"code": "ZC-SCJGJ", "name": "区市场监管局"})])
        ledger.checkpoint(keys.load("log"))
        ledger.witness_latest(audit_w)
        ledger.export(tmp_path / "export")
    finally:
        ledger.close()
    cps = tmp_path / "export" / "checkpoints"
    assert sorted(p.name for p in cps.iterdir()) == [
        "000000000001.000000.note", "000000000001.000001.note", "000000000001.note",
        "000000000002.000002.note", "000000000002.note"]
    before = run_audit(tmp_path / "export")
    for i, p in enumerate(sorted(cps.iterdir())):
        p.rename(cps / f"renamed-{4 - i}.note")
    after = run_audit(tmp_path / "export")
    assert before.findings == after.findings == []
    assert before.checkpoints_verified == after.checkpoints_verified == 5
    assert before.witnessed == after.witnessed and set(after.witnessed) == {1, 2}


def test_checkpoint_extension_line_is_signed_accepted_and_ignored() -> None:
    """7.2: lines after the root are extension lines: covered by the signatures, accepted,
    and without meaning in v1; an empty one makes the note malformed."""
    from verifier import parse_checkpoint, parse_note

    ext = C["checkpoint_extension"]
    text, _, sigs = ext["note"].rpartition("\n\n")
    text += "\n"
    assert text.split("\n")[:3] == V["checkpoint_text"].split("\n")[:3]
    assert text.split("\n")[3] == "drawledger-test-extension value"
    payload = base64.b64decode(sigs.split(" ")[-1])
    key("log").public_key().verify(payload[4:], text.encode())
    cp = parse_checkpoint(parse_note(ext["note"]).text)
    assert (cp.size, base64.b64encode(cp.root).decode()) == (4, V["merkle_root_b64"])
    assert cp.extensions == ("drawledger-test-extension value",)
    report = _audit(_base_lines(), [V["checkpoint_note"], ext["note"]])
    assert ext["accepted"] is True and report.findings == []
    assert report.checkpoints_verified == 2
    report = _audit(_base_lines(), [V["checkpoint_note"], ext["note_with_empty_extension"]])
    assert ext["empty_extension_accepted"] is False
    assert [f.rule for f in report.findings] == ["V1.checkpoint"]
    assert "empty extension line" in report.findings[0].en


def _subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    """RFC 9162 section 2.1.4.1 SUBPROOF, written from the RFC."""
    n = len(leaves)
    if m == n:
        return [] if complete else [mth(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*_subproof(m, leaves[:k], complete), mth(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), mth(leaves[:k])]


def test_bundle_consistency_item_is_lowercase_hex() -> None:
    """15.1: a bundle's consistency proof hashes are 64 lowercase hex (unlike the base64
    of notes and tlog-proofs); that is the v1 bundle format and stays so."""
    import re

    from verifier import FormatError
    from verifier._bundle import _hash
    from verifier._merkle import verify_consistency

    vec = C["bundle_consistency"]
    leaves = [sha(b"\x00" + bytes.fromhex(d)) for d in vec["leaves_hex"]]
    item = vec["item"]
    assert set(item) == {"old", "new", "proof"}
    old, new, proof = item["old"], item["new"], item["proof"]
    assert mth(leaves[:old]).hex() == vec["old_root_hex"]
    assert mth(leaves[:new]).hex() == vec["new_root_hex"]
    assert [h.hex() for h in _subproof(old, leaves[:new], True)] == proof
    assert all(re.fullmatch("[0-9a-f]{64}", h) for h in proof)
    hashes = [_hash(h) for h in proof]
    verify_consistency(old, new, bytes.fromhex(vec["old_root_hex"]),
                       bytes.fromhex(vec["new_root_hex"]), hashes)
    for wrong in (proof[0].upper(), base64.b64encode(bytes.fromhex(proof[0])).decode(),
                  proof[0][:62]):
        with pytest.raises(FormatError, match="64 lowercase hex"):
            _hash(wrong)


def test_deadline_across_31_december_uses_the_calendars_published_before_the_entry(
        tmp_path: Path) -> None:
    """6.4: each day counts by its own year's calendar, as published by the entries before
    the entry judged. A result due in January judged before the next year's calendar is on
    the log stays unverifiable, even though the calendar is published later; one judged
    after it is judged by it."""
    from datetime import date, datetime, timedelta, timezone

    from ledger import Ledger, Parties, init_log, sign_statement
    from ledger._admin import bundled_calendars
    from ledger._demo import ManualClock
    from ledger._results import complete_inspection, receive_lead, record_result
    from tests.helpers import run_audit

    sh = timezone(timedelta(hours=8))
    keys = Parties(tmp_path / "parties")
    ledger = Ledger(str(tmp_path / "db.sqlite"))
    clock = ManualClock(datetime(2026, 12, 1, 9, tzinfo=sh))
    ledger.chain.clock = clock
    dept, uscc = "ZC-SCJGJ", "91370321MAU34K4U1H"
    cal_2027 = {"year": 2027, "weekday_days_off": ["2027-01-01"], "weekend_makeup_workdays": [],
                "source": {"title": "test calendar", "url": "https://example.test/2027"}}
    seqs: dict[str, int] = {}
    try:
        init_log(ledger, keys, now=clock)
        authority = keys.load("authority")
        cal_2026 = next(b for b in bundled_calendars() if b["year"] == 2026)
        signer = keys.create("dept", "ZC-SCJGJ-2026")
        ledger.submit([
            sign_statement(authority, "calendar.published", "calendar/2026", "authority",
                           cal_2026, now=clock()),
            sign_statement(authority, "department.registered", f"dept/{dept}", "authority",
                           {"code": dept, "name": "区市场监管局"}, now=clock()),
            sign_statement(authority, "key.registered", f"key/{signer.name}", "authority",
                           {"name": signer.name, "vkey": signer.verifier.vkey, "dept": dept,
                            "role": "department"}, now=clock())])
        clock.at(datetime(2026, 12, 30, 17, tzinfo=sh))
        for case in "ABC":
            receive_lead(ledger, signer, dept, case_id=case, source="complaint",
                         received_on=date(2026, 12, 20), details=case.encode(),
                         salt=bytes(16), now=clock())
            complete_inspection(ledger, signer, dept, uscc=uscc, ended_on=date(2026, 12, 30),
                                inspectors=["ZF-0001", "ZF-0002"], case_id=case, now=clock())

        def result(case: str, when: datetime) -> None:
            clock.at(when)
            seqs[case] = record_result(ledger, signer, dept, f"targeted/{dept}/{case}/{uscc}",
                                       outcome="no_problem", findings="未发现问题", now=clock())

        result("C", datetime(2026, 12, 31, 10, tzinfo=sh))  # day 1: needs no 2027 calendar
        result("A", datetime(2027, 1, 6, 10, tzinfo=sh))  # after day 3 (5 Jan), no 2027 yet
        clock.at(datetime(2027, 1, 7, 9, tzinfo=sh))
        ledger.submit([sign_statement(authority, "calendar.published", "calendar/2027",
                                      "authority", cal_2027, now=clock())])
        result("B", datetime(2027, 1, 8, 10, tzinfo=sh))  # after day 3, 2027 published
        ledger.checkpoint(keys.load("log"), keys.witness_tools(), now=clock)
        ledger.export(tmp_path / "export")
    finally:
        ledger.close()
    report = run_audit(tmp_path / "export")
    found = [(f.rule, f.seq, f.kind) for f in report.findings if f.rule.startswith("V16")]
    assert found == [("V16.calendar", seqs["A"], "unverifiable"),
                     ("V16.result_late", seqs["B"], "violation")]
    late = next(f for f in report.findings if f.rule == "V16.result_late")
    assert late.due == "2027-01-05"


def test_later_fields_of_a_stream_merge_per_top_level_body_key() -> None:
    """6.1: a change entry replaces the view's values of the top-level body keys it names
    and keeps the others (nothing is removed); a list or object value is replaced whole;
    ``policy.amended`` and ``plan.amended`` replace the whole policy or plan."""
    from verifier._state import LogState

    state = LogState(body_check=None)
    n = iter(range(100))

    def apply(type_: str, stream: str, body: dict[str, object]) -> None:
        seq = next(n)
        state.apply(seq, stream, 1, type_, "ZC-SCJGJ", body, {"key": "k", "sid": f"s{seq}"})

    uscc = "91370321MAU34K4U1H"
    added = json.loads(V["entries"][3]["entry"])["body"]
    apply("target.added", f"target/{uscc}", added)
    before = state.targets[uscc]
    assert before == ("ZC-SCJGJ/F", "F5299", "370321", "B", "存续", "昆仑镇市场监管所")
    apply("target.updated", f"target/{uscc}", {"uscc": uscc, "dept": "ZC-SCJGJ", "risk": "A"})
    assert state.targets[uscc] == (*before[:3], "A", *before[4:])
    cert = "ZF-0001"
    apply("inspector.added", f"inspector/{cert}",
          {"cert_no": cert, "name": "王伟", "dept": "ZC-SCJGJ", "unit": "昆仑镇市场监管所",
           "qualifications": ["m1", "m2"], "valid_from": "2025-01-01",
           "valid_to": "2030-12-31", "expert": False})
    apply("inspector.updated", f"inspector/{cert}",
          {"cert_no": cert, "dept": "ZC-SCJGJ", "qualifications": ["m3"]})
    assert state.inspectors[cert] == ("ZC-SCJGJ", "昆仑镇市场监管所", ("m3",), "2025-01-01",
                                      "2030-12-31", False)
    apply("matter.published", "matter/m1", {"id": "m1", "name": "n", "dept": "ZC-SCJGJ",
                                            "kind": "general", "basis": "b",
                                            "ratio_ppm": 100_000})
    apply("matter.amended", "matter/m1", {"id": "m1", "ratio_ppm": 50_000})
    assert state.matters["m1"] == {"id": "m1", "name": "n", "dept": "ZC-SCJGJ",
                                   "kind": "general", "basis": "b", "ratio_ppm": 50_000}
    policy = {"plan_filing_deadline": "01-31", "result_entry_working_days": 3,
              "publication_working_days": 20, "min_team_size": 2}
    state.policy = dict(policy)
    apply("policy.amended", "log", {"policy": {"plan_filing_deadline": "02-28",
                                               "result_entry_working_days": 5,
                                               "publication_working_days": 20,
                                               "min_team_size": 2}})
    assert state.policy == {**policy, "plan_filing_deadline": "02-28",
                            "result_entry_working_days": 5}
    apply("policy.amended", "log", {"policy": {"plan_filing_deadline": "03-31"}})
    assert state.policy == {"plan_filing_deadline": "03-31"}  # replaced, not merged


def _small_bundle(extra: dict[str, dict[str, object]] | None = None) -> bytes:
    """A bundle of entry-v1's four entries, proved to checkpoints of sizes 2 and 4 and
    linked by the vector's kind of consistency item; it holds no draw (so it ends
    ``BUNDLE.incomplete``) but passes every format and proof check."""
    from verifier import MerkleTree, TlogProof, canonical, cosign, format_proof, sign_note
    from verifier._note import Checkpoint, NoteSigner

    def signer(role: str) -> NoteSigner:
        k = V["keys"][role]
        return NoteSigner(k["name"], key(role), k["sigtype"])

    lines = _base_lines()
    tree = MerkleTree(sha(b"\x00" + raw) for raw in lines)
    notes = {}
    for size in (2, 4):
        text = Checkpoint(V["keys"]["log"]["name"], size, tree.root(size)).text
        notes[size] = sign_note(text, [signer("log")]) + cosign(
            text, signer("witness"), V["cosignature_timestamp"])
    entries = [{"entry": raw.decode(), "proof": format_proof(TlogProof(
        seq, tuple(tree.inclusion_proof(seq, 2 if seq < 2 else 4)), notes[2 if seq < 2 else 4]))}
        for seq, raw in enumerate(lines)]
    consistency = {"old": 2, "new": 4, "proof": [h.hex() for h in tree.consistency_proof(2, 4)]}
    extra = extra or {}
    return canonical({
        "format": "drawledger/draw-bundle/v1", "draw": "P/B", "trust": _trust().to_json(),
        "entries": [{**e, **extra.get("entries", {})} for e in entries],
        "consistency": [{**consistency, **extra.get("consistency", {})}],
        "snapshot": {"pool": [], "roster": [], "conflicts": [], "excluded": []}})


def test_bundle_item_with_an_unaccounted_member_is_malformed() -> None:
    """15.1: entry and consistency items have exactly their listed members; a bundle
    carries no bytes that no check accounts for (an added "note" could claim anything)."""
    from verifier._bundle import verify_bundle

    report, _ = verify_bundle(_small_bundle(), _trust())
    assert [f.rule for f in report.findings] == ["BUNDLE.incomplete"]
    for where in ("entries", "consistency"):
        report, _ = verify_bundle(_small_bundle({where: {"note": "verified fair"}}), _trust())
        assert [f.rule for f in report.findings] == ["BUNDLE.format"]
        assert f"{where}[0]" in report.findings[0].en
