"""C2SP signed notes, checkpoints and cosignatures (verifier._note)."""

from __future__ import annotations

import base64
import hashlib
import json
import random
from pathlib import Path

import pytest

from verifier._errors import FormatError, SignatureError, TrustError, VerifierError
from verifier._note import (
    Checkpoint,
    NoteSignature,
    NoteSigner,
    NoteVerifier,
    cosign,
    cosignature_message,
    key_id,
    parse_checkpoint,
    parse_note,
    sign_note,
    verify_cosignatures,
    verify_note,
)

VECTORS = json.loads((Path(__file__).parent / "vectors" / "c2sp-signed-note.json").read_text())
EX1, EX2 = VECTORS["examples"]

# The example in C2SP tlog-cosignature: its witness key is not published, but the layout
# (key id, then the big-endian time that its text shows as "time 1679315147") is checkable.
SPEC_COSIGNED = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
    "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/"
    "Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3"
    "b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
)

LOG = NoteSigner.generate("example.org/log")
OTHER = NoteSigner.generate("example.org/other")
WITNESS = NoteSigner.generate("witness.example/w1", sigtype=4)
WITNESS2 = NoteSigner.generate("witness.example/w2", sigtype=4)
ROOT = hashlib.sha256(b"root").digest()
CHECKPOINT = Checkpoint("example.org/log", 42, ROOT)


# --- vectors -------------------------------------------------------------------------------

def test_vector_verifies_byte_exact() -> None:
    verifier = NoteVerifier.from_vkey(EX1["vkey"])
    assert verifier.name == "example.com/foo"
    assert verifier.sigtype == 1
    assert verifier.key_id == bytes.fromhex("530d903a")
    assert verifier.key_id == key_id(verifier.name, 1, verifier.public_key)
    assert verifier.vkey == EX1["vkey"]
    note = parse_note(EX1["note"].encode())
    assert note.text == "This is an example message.\n"
    assert note.data == EX1["note"]
    assert verify_note(note, [verifier]) == [verifier]


def test_vector_resigns_byte_exact() -> None:
    signer = NoteSigner.from_skey(EX2["skey"])
    assert signer.skey == EX2["skey"]
    assert signer.verifier.vkey == EX2["vkey"]
    assert signer.verifier == NoteVerifier.from_vkey(EX2["vkey"])
    signed = sign_note(EX2["text"], [signer])
    assert signed == EX2["text"] + "\n" + EX2["signature_line"] + "\n"
    assert verify_note(parse_note(signed), [signer.verifier]) == [signer.verifier]


def test_vector_tampered_text_fails() -> None:
    verifier = NoteVerifier.from_vkey(EX1["vkey"])
    note = parse_note(EX1["note"].replace("example", "exemplary", 1))
    with pytest.raises(SignatureError, match=r"example\.com/foo"):
        verify_note(note, [verifier])


def test_spec_cosignature_layout() -> None:
    note = parse_note(SPEC_COSIGNED)
    checkpoint = parse_checkpoint(note.text)
    assert (checkpoint.origin, checkpoint.size) == ("example.com/behind-the-sofa", 20852163)
    log_sig, cosig = note.signatures
    assert len(log_sig.signature) == 64
    assert cosig.name == "witness.example.com/w1"
    assert len(cosig.signature) == 8 + 64
    assert int.from_bytes(cosig.signature[:8], "big") == 1679315147


# --- signing and verification rules ---------------------------------------------------------

def test_roundtrip_multiple_signers_and_blank_lines_in_text() -> None:
    text = "first\n\nafter a blank line\n"
    signed = sign_note(text, [LOG, OTHER])
    note = parse_note(signed)
    assert note.text == text
    assert [s.name for s in note.signatures] == [LOG.name, OTHER.name]
    assert verify_note(note, [LOG.verifier, OTHER.verifier]) == [LOG.verifier, OTHER.verifier]
    assert verify_note(note, [OTHER.verifier]) == [OTHER.verifier]


def test_unknown_keys_are_ignored() -> None:
    note = parse_note(sign_note("hello\n", [OTHER, LOG]))
    # same name as a known key but another id, and the reverse: both merely unknown
    impostor = NoteSigner.generate(LOG.name)
    renamed = NoteSignature("example.org/renamed", LOG.verifier.key_id, b"\x00" * 64)
    note2 = parse_note(note.data + sign_note("hello\n", [impostor]).split("\n\n")[1]
                       + renamed.line)
    assert len(note2.signatures) == 4
    assert verify_note(note2, [LOG.verifier]) == [LOG.verifier]


def test_no_trusted_signature_fails() -> None:
    note = parse_note(sign_note("hello\n", [OTHER]))
    with pytest.raises(SignatureError, match="not signed by any trusted key"):
        verify_note(note, [LOG.verifier])


def _other_line(text: str) -> str:
    return sign_note(text, [OTHER]).split("\n\n", 1)[1]


def test_bad_signature_by_known_key_fails() -> None:
    note = parse_note(sign_note("hello\n", [LOG]))
    sig = note.signatures[0]
    forged = NoteSignature(sig.name, sig.key_id, OTHER.sign(b"hello\n"))
    bad = parse_note("hello\n\n" + _other_line("hello\n") + forged.line)
    with pytest.raises(SignatureError, match="does not verify"):
        verify_note(bad, [LOG.verifier, OTHER.verifier])
    # a truncated signature by a known key is also a failure, not an ignored line
    short = NoteSignature(sig.name, sig.key_id, sig.signature[:10])
    with pytest.raises(SignatureError):
        verify_note(parse_note("hello\n\n" + short.line), [LOG.verifier])


def test_duplicate_signature_by_known_key_is_malformed() -> None:
    line = sign_note("hello\n", [LOG]).split("\n\n", 1)[1]
    note = parse_note("hello\n\n" + line + line)
    with pytest.raises(FormatError, match="two signatures"):
        verify_note(note, [LOG.verifier])


def test_cosignature_keys_are_skipped_by_verify_note() -> None:
    note = parse_note(sign_note(CHECKPOINT.text, [LOG]) + cosign(CHECKPOINT.text, WITNESS, 7))
    assert verify_note(note, [LOG.verifier, WITNESS.verifier]) == [LOG.verifier]
    with pytest.raises(TrustError):
        verify_note(note, [WITNESS.verifier])
    with pytest.raises(TrustError):
        verify_note(note, [])


def test_sign_note_rejects_bad_input() -> None:
    with pytest.raises(FormatError, match="newline"):
        sign_note("no newline", [LOG])
    with pytest.raises(FormatError, match="control character"):
        sign_note("tab\there\n", [LOG])
    with pytest.raises(TrustError):
        sign_note("x\n", [])
    with pytest.raises(TrustError, match="cosignature key"):
        sign_note("x\n", [WITNESS])


GOOD = sign_note("hello\n", [LOG])
GOOD_LINE = GOOD.split("\n\n", 1)[1]
GOOD_B64 = GOOD_LINE.split(" ")[2][:-1]


@pytest.mark.parametrize(("data", "message"), [
    (GOOD[:-1], "does not end with a newline"),
    ("hello\n" + GOOD_LINE, "no blank line"),
    ("hello\n\n", "no signature lines"),
    ("hello\n\n\n", "no signature lines"),
    ("hello\n\n- example.org/log " + GOOD_B64 + "\n", "line 3: signature line does not start"),
    ("hello\n\n" + GOOD_LINE + "junk\n", "line 4: signature line does not start"),
    ("hello\n\n\u2014 example.org/log  " + GOOD_B64 + "\n", "line 3: signature line is not"),
    ("hello\n\n\u2014 example.org/log " + GOOD_B64 + " x\n", "line 3: signature line is not"),
    ("hello\n\n\u2014  " + GOOD_B64 + "\n", "line 3: key name is empty"),
    ("hello\n\n\u2014 a+b " + GOOD_B64 + "\n", r"line 3: key name 'a\+b'"),
    ("hello\n\n\u2014 a\u00a0b " + GOOD_B64 + "\n", "line 3: key name"),
    ("hello\n\n\u2014 x " + GOOD_B64[:-2] + "\n", "line 3: signature: not valid base64"),
    ("hello\n\n\u2014 x " + GOOD_B64[:-4] + "!!!=\n", "line 3: signature: not valid base64"),
    ("hello\n\n\u2014 x AAAAAB==\n", "line 3: signature: not canonical base64"),
    ("hello\n\n\u2014 x AAAAAA==\n", "line 3: signature is 4 bytes"),
    ("a\nb\n\n\u2014 x AAAAAAA=\n\u2014 y\n", "line 5: signature line is not"),
    ("hel\x00lo\n\n" + GOOD_LINE, "line 1: control character U\\+0000"),
    ("a\nb\r\n\n" + GOOD_LINE, "line 2: control character U\\+000D"),
    ("hello\n\n" + GOOD_LINE * 101, "101 signatures"),
    (b"ok\n\xff\n\n" + GOOD_LINE.encode(), "line 2: not UTF-8"),
    ("bad \ud800\n\n" + GOOD_LINE, "line 1: not valid Unicode"),
])
def test_malformed_notes(data: str | bytes, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        parse_note(data)


def test_limits_accept_many_signatures() -> None:
    note = parse_note("hello\n\n" + GOOD_LINE * 100)
    assert len(note.signatures) == 100
    assert parse_note("x\n\n" + GOOD_LINE).text == "x\n"


# --- keys ----------------------------------------------------------------------------------

def _vkey(name: str, sigtype: int, public: bytes, kid: bytes | None = None) -> str:
    kid = key_id(name, sigtype, public) if kid is None else kid
    return f"{name}+{kid.hex()}+{base64.b64encode(bytes([sigtype]) + public).decode()}"


@pytest.mark.parametrize(("text", "message"), [
    ("example.com/foo", "not <name>"),
    ("example.com/foo+530d903a", "not <name>"),
    ("+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "key name is empty"),
    ("example.com/foo+530D903A+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "8 lowercase hex"),
    ("example.com/foo+530d90+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "8 lowercase hex"),
    ("example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "does not match"),
    ("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2", "base64"),
    ("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv", "key is 30 bytes"),
    (_vkey("a", 2, b"\x01" * 32), "type 0x02 is not supported"),
    (_vkey("a", 1, b"\x01" * 32, b"\x00" * 4), "does not match"),
    ("my key+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "key name"),
])
def test_malformed_vkeys(text: str, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        NoteVerifier.from_vkey(text)


def test_key_objects() -> None:
    v = WITNESS.verifier
    assert v.sigtype == 4
    assert NoteVerifier.from_vkey(v.vkey) == v
    assert NoteSigner.from_skey(WITNESS.skey).verifier == v
    assert v.key_id == key_id(v.name, 4, v.public_key)
    assert v.key_id != key_id(v.name, 1, v.public_key)
    with pytest.raises(FormatError, match="does not match"):
        NoteVerifier(v.name, 1, v.key_id, v.public_key)
    with pytest.raises(FormatError, match="33 bytes"):
        NoteVerifier("x", 1, key_id("x", 1, b"\x00" * 33), b"\x00" * 33)
    with pytest.raises(FormatError, match="PRIVATE"):
        NoteSigner.from_skey(EX2["vkey"])
    skey = EX2["skey"].replace("c74f20a3", "c74f20a4")
    with pytest.raises(FormatError, match="does not match"):
        NoteSigner.from_skey(skey)
    assert LOG.verifier.verify(b"m", LOG.sign(b"m"))
    assert not LOG.verifier.verify(b"m", OTHER.sign(b"m"))
    assert not LOG.verifier.verify(b"m", b"short")
    assert "PRIVATE" not in repr(LOG)


# --- checkpoints ---------------------------------------------------------------------------

def test_checkpoint_roundtrip() -> None:
    text = f"example.org/log\n42\n{base64.b64encode(ROOT).decode()}\n"
    assert CHECKPOINT.text == text
    assert parse_checkpoint(text) == CHECKPOINT
    ext = Checkpoint("example.org/log", 0, ROOT, ("ext one", "ext two"))
    assert ext.text.endswith("\next one\next two\n")
    assert parse_checkpoint(ext.text) == ext
    big = Checkpoint("o", 2**64 - 1, ROOT)
    assert parse_checkpoint(big.text) == big


R64 = base64.b64encode(ROOT).decode()


@pytest.mark.parametrize(("text", "message"), [
    (f"o\n1\n{R64}", "does not end with a newline"),
    ("o\n1\n", "needs origin, size and root"),
    (f"\n1\n{R64}\n", "line 1: checkpoint origin is empty"),
    (f"o\n01\n{R64}\n", "line 2: tree size '01'"),
    (f"o\n-1\n{R64}\n", "line 2: tree size"),
    (f"o\n+1\n{R64}\n", "line 2: tree size"),
    (f"o\n 1\n{R64}\n", "line 2: tree size"),
    (f"o\n\u0661\n{R64}\n", "line 2: tree size"),
    (f"o\n{2**64}\n{R64}\n", "line 2: tree size"),
    (f"o\n{'9' * 5000}\n{R64}\n", "line 2: tree size"),
    ("o\n1\nAAAA\n", "line 3: root hash is 3 bytes"),
    (f"o\n1\n{R64[:-1]}\n", "line 3: root hash: not valid base64"),
    (f"o\n1\n{R64}\n\n", "line 4: empty extension line"),
    (f"o\n1\n{R64}\next\n\nmore\n", "line 5: empty extension line"),
    (f"o\x01\n1\n{R64}\n", "line 1: control character"),
])
def test_malformed_checkpoints(text: str, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        parse_checkpoint(text)


def test_checkpoint_constructor_validates() -> None:
    for args in [("", 1, ROOT), ("a\nb", 1, ROOT), ("o", -1, ROOT), ("o", 2**64, ROOT),
                 ("o", 1, ROOT[:31])]:
        with pytest.raises(FormatError):
            Checkpoint(*args)  # type: ignore[arg-type]
    with pytest.raises(FormatError, match="extension 1"):
        Checkpoint("o", 1, ROOT, ("fine", ""))


# --- cosignatures --------------------------------------------------------------------------

def _cosigned(timestamp: int = 1700000000) -> str:
    return (sign_note(CHECKPOINT.text, [LOG]) + cosign(CHECKPOINT.text, WITNESS, timestamp)
            + cosign(CHECKPOINT.text, WITNESS2, timestamp + 1))


def test_cosignature_message_layout() -> None:
    expected = b"cosignature/v1\ntime 1679315147\no\n1\nx\n"
    assert cosignature_message("o\n1\nx\n", 1679315147) == expected
    with pytest.raises(FormatError):
        cosignature_message("o\n", -1)
    with pytest.raises(FormatError):
        cosignature_message("o\n", 2**63)


def test_cosignature_roundtrip() -> None:
    line = cosign(CHECKPOINT.text, WITNESS, 1700000000)
    assert line.startswith(f"\u2014 {WITNESS.name} ") and line.endswith("\n")
    payload = base64.b64decode(line.split(" ")[2])
    assert payload[:4] == WITNESS.verifier.key_id
    assert int.from_bytes(payload[4:12], "big") == 1700000000
    assert WITNESS.verifier.verify(cosignature_message(CHECKPOINT.text, 1700000000),
                                   payload[12:])
    note = parse_note(_cosigned())
    assert verify_note(note, [LOG.verifier]) == [LOG.verifier]
    assert verify_cosignatures(note, [WITNESS.verifier, WITNESS2.verifier]) == {
        WITNESS.name: 1700000000, WITNESS2.name: 1700000001}
    assert verify_cosignatures(note, [WITNESS2.verifier]) == {WITNESS2.name: 1700000001}
    assert verify_cosignatures(note, []) == {}
    stranger = NoteSigner.generate("witness.example/w3", sigtype=4)
    assert verify_cosignatures(note, [stranger.verifier]) == {}


def test_cosignature_tampering_detected() -> None:
    data = _cosigned()
    note = parse_note(data)
    cosig = note.signatures[1]
    # a changed timestamp: the signature covers it
    later = (cosig.signature[:8][:-1] + bytes([cosig.signature[7] ^ 1]) + cosig.signature[8:])
    for sig in (NoteSignature(cosig.name, cosig.key_id, later),
                NoteSignature(cosig.name, cosig.key_id, cosig.signature[:-1]),
                NoteSignature(cosig.name, cosig.key_id, b"\xff" * 8 + cosig.signature[8:])):
        bad = parse_note(note.text + "\n" + sig.line)
        with pytest.raises(SignatureError, match=WITNESS.name):
            verify_cosignatures(bad, [WITNESS.verifier])
    # a changed checkpoint: both the log signature and the cosignature fail
    other = Checkpoint(CHECKPOINT.origin, 43, CHECKPOINT.root)
    moved = parse_note(other.text + data[len(CHECKPOINT.text):])
    with pytest.raises(SignatureError):
        verify_note(moved, [LOG.verifier])
    with pytest.raises(SignatureError):
        verify_cosignatures(moved, [WITNESS.verifier])
    # a plain note signature by the witness key does not pass as a cosignature
    with pytest.raises(TrustError):
        verify_cosignatures(note, [LOG.verifier])
    dup = parse_note(data + cosign(CHECKPOINT.text, WITNESS, 5))
    with pytest.raises(FormatError, match="two cosignatures"):
        verify_cosignatures(dup, [WITNESS.verifier])


def test_cosign_rejects_bad_input() -> None:
    with pytest.raises(TrustError):
        cosign(CHECKPOINT.text, LOG, 1)
    with pytest.raises(FormatError):
        cosign("not a checkpoint\n", WITNESS, 1)
    with pytest.raises(FormatError):
        cosign(CHECKPOINT.text, WITNESS, -5)


def test_errors_are_verifier_errors() -> None:
    for data in ["", "\n", "\n\n", "\u2014\n\n\u2014\n", b"\x80"]:
        with pytest.raises(VerifierError):
            parse_note(data)


def _mutations(data: str, seed: int, count: int) -> list[str]:
    """Random byte-level damage: flips, deletions, insertions, truncations."""
    rng = random.Random(seed)
    alphabet = "\n \u2014+=/Aa0\x00\x7f\u00e9-"
    out = []
    for _ in range(count):
        chars = list(data)
        for _ in range(rng.randint(1, 3)):
            op = rng.randrange(4)
            pos = rng.randrange(len(chars)) if chars else 0
            if op == 0 and chars:
                chars[pos] = rng.choice(alphabet)
            elif op == 1 and chars:
                del chars[pos]
            elif op == 2:
                chars.insert(pos, rng.choice(alphabet))
            else:
                chars = chars[:pos]
        out.append("".join(chars))
    return out


def test_damaged_input_raises_only_format_errors() -> None:
    """Whatever the damage, parsing either succeeds or raises FormatError (no tracebacks)."""
    note = _cosigned()
    parsed = 0
    for data in _mutations(note, 1, 1500):
        try:
            n = parse_note(data)
            parse_checkpoint(n.text)
            parsed += 1
        except FormatError:
            continue
        # a note that still parses must verify or fail with a verifier error
        try:
            verify_note(n, [LOG.verifier])
            verify_cosignatures(n, [WITNESS.verifier, WITNESS2.verifier])
        except VerifierError:
            pass
    for data in _mutations(EX1["vkey"], 2, 500) + _mutations(EX2["skey"], 3, 500):
        try:
            if data.startswith("PRIVATE"):
                NoteSigner.from_skey(data)
            else:
                NoteVerifier.from_vkey(data)
        except FormatError:
            pass
    assert parsed < 1500  # the damage is real: most mutants must be rejected
