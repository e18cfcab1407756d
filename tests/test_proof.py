"""C2SP tlog-proof@v1 (verifier._proof)."""

from __future__ import annotations

import base64
import hashlib
import random

import pytest

from verifier._errors import (
    FormatError,
    IntegrityError,
    ProofError,
    SignatureError,
    VerifierError,
)
from verifier._merkle import MerkleTree, leaf_hash
from verifier._note import Checkpoint, NoteSigner, cosign, sign_note
from verifier._proof import TlogProof, format_proof, parse_proof, verify_proof

ORIGIN = "example.org/log"
LOG = NoteSigner.generate(ORIGIN)
WITNESS = NoteSigner.generate("witness.example/w1", sigtype=4)
LEAVES = [leaf_hash(f"entry {i}".encode()) for i in range(21)]
TREE = MerkleTree(LEAVES)


def _note(size: int, signer: NoteSigner = LOG, origin: str = ORIGIN) -> str:
    text = Checkpoint(origin, size, TREE.root(size)).text
    return sign_note(text, [signer]) + cosign(text, WITNESS, 1700000000)


def _proof(index: int = 7, size: int = 21, extra: bytes | None = None) -> TlogProof:
    return TlogProof(index, tuple(TREE.inclusion_proof(index, size)), _note(size), extra)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def test_layout_matches_spec() -> None:
    proof = _proof(extra=b"vrf proof")
    text = format_proof(proof)
    lines = text.split("\n")
    assert lines[0] == "c2sp.org/tlog-proof@v1"
    assert lines[1] == "extra " + _b64(b"vrf proof")
    assert lines[2] == "index 7"
    assert lines[3:3 + len(proof.path)] == [_b64(h) for h in proof.path]
    assert lines[3 + len(proof.path)] == ""
    assert text.endswith("\n\n" + proof.note)
    assert format_proof(_proof()).split("\n")[1] == "index 7"


@pytest.mark.parametrize("extra", [None, b"", b"\x00\xffdata"])
def test_roundtrip(extra: bytes | None) -> None:
    proof = _proof(extra=extra)
    text = format_proof(proof)
    assert parse_proof(text) == proof
    assert parse_proof(text.encode()) == proof
    assert format_proof(parse_proof(text)) == text


def test_verify() -> None:
    for index, size in [(7, 21), (0, 1), (20, 21), (16, 17), (0, 16)]:
        proof = parse_proof(format_proof(_proof(index, size)))
        checkpoint, cosigned = verify_proof(proof, LEAVES[index], LOG.verifier, ORIGIN,
                                            [WITNESS.verifier])
        assert (checkpoint.origin, checkpoint.size) == (ORIGIN, size)
        assert checkpoint.root == TREE.root(size)
        assert cosigned == {WITNESS.name: 1700000000}
    _, cosigned = verify_proof(_proof(), LEAVES[7], LOG.verifier, ORIGIN)
    assert cosigned == {}
    assert format_proof(_proof(0, 1)).split("\n")[2:4] == ["", ORIGIN]


def test_tampering_detected() -> None:
    proof = _proof()
    log = LOG.verifier
    flipped = (bytes([proof.path[0][0] ^ 1]) + proof.path[0][1:], *proof.path[1:])
    for bad in (TlogProof(proof.index, flipped, proof.note),
                TlogProof(proof.index, proof.path[:-1], proof.note),
                TlogProof(proof.index, (*proof.path, proof.path[0]), proof.note),
                TlogProof(6, proof.path, proof.note),
                TlogProof(21, proof.path, proof.note)):
        with pytest.raises(ProofError):
            verify_proof(bad, LEAVES[7], log, ORIGIN)
    with pytest.raises(ProofError):
        verify_proof(proof, LEAVES[8], log, ORIGIN)
    # a checkpoint edited to another size or root no longer carries the log's signature
    for old, new in [("\n21\n", "\n22\n"), (_b64(TREE.root(21)), _b64(TREE.root(20)))]:
        edited = TlogProof(proof.index, proof.path, proof.note.replace(old, new, 1))
        with pytest.raises(SignatureError):
            verify_proof(edited, LEAVES[7], log, ORIGIN)
    # the right layout signed by someone else, or for another log
    with pytest.raises(SignatureError):
        verify_proof(TlogProof(7, proof.path, _note(21, NoteSigner.generate(ORIGIN))),
                     LEAVES[7], log, ORIGIN)
    with pytest.raises(IntegrityError, match="origin"):
        verify_proof(TlogProof(7, proof.path, _note(21, origin="other.example/log")),
                     LEAVES[7], log, ORIGIN)
    with pytest.raises(IntegrityError, match="origin"):
        verify_proof(proof, LEAVES[7], log, "example.org/other")
    # a forged cosignature from a trusted witness
    lines = proof.note.split("\n")
    sig = base64.b64decode(lines[-2].split(" ")[2])
    lines[-2] = lines[-2].rsplit(" ", 1)[0] + " " + _b64(sig[:12] + bytes(64))
    with pytest.raises(SignatureError):
        verify_proof(TlogProof(7, proof.path, "\n".join(lines)), LEAVES[7], log, ORIGIN,
                     [WITNESS.verifier])


GOOD = format_proof(_proof())
HEAD, NOTE = GOOD.split("\n\n", 1)
HASH = HEAD.split("\n")[2]


@pytest.mark.parametrize(("text", "message"), [
    ("", "no blank line"),
    (HEAD + "\n" + NOTE, "line 8: path hash: not valid base64"),
    ("c2sp.org/tlog-proof@v2\nindex 7\n\n" + NOTE, "line 1: not c2sp.org/tlog-proof@v1"),
    ("\nc2sp.org/tlog-proof@v1\nindex 7\n\n" + NOTE, "line 1: not c2sp.org"),
    ("c2sp.org/tlog-proof@v1\n\n" + NOTE, "line 2: expected 'index <n>'"),
    ("c2sp.org/tlog-proof@v1\n" + HASH + "\n\n" + NOTE, "line 2: expected 'index <n>'"),
    ("c2sp.org/tlog-proof@v1\nextra AA==\n\n" + NOTE, "line 3: expected 'index <n>'"),
    ("c2sp.org/tlog-proof@v1\nextra A\nindex 1\n\n" + NOTE, "line 2: extra data: not valid"),
    ("c2sp.org/tlog-proof@v1\nindex 7\nextra AA==\n\n" + NOTE, "line 3: path hash"),
    ("c2sp.org/tlog-proof@v1\nindex 07\n\n" + NOTE, "line 2: index '07'"),
    ("c2sp.org/tlog-proof@v1\nindex -7\n\n" + NOTE, "line 2: index"),
    ("c2sp.org/tlog-proof@v1\nindex  7\n\n" + NOTE, "line 2: index"),
    ("c2sp.org/tlog-proof@v1\nindex 7 \n\n" + NOTE, "line 2: index"),
    ("c2sp.org/tlog-proof@v1\nindex\n\n" + NOTE, "line 2: expected 'index <n>'"),
    (f"c2sp.org/tlog-proof@v1\nindex {2**64}\n\n" + NOTE, "line 2: index"),
    ("c2sp.org/tlog-proof@v1\nindex " + "1" * 5000 + "\n\n" + NOTE, "line 2: index"),
    ("c2sp.org/tlog-proof@v1\nindex 7\n" + HASH + "\nAAAA\n\n" + NOTE, "line 4: path hash is 3"),
    ("c2sp.org/tlog-proof@v1\nindex 7\n" + HASH[:-1] + "\n\n" + NOTE, "line 3: path hash: not"),
    ("c2sp.org/tlog-proof@v1\nindex 7\n" + (HASH + "\n") * 65 + "\n" + NOTE, "65 path hashes"),
    ("c2sp.org/tlog-proof@v1\nindex 7\n\n", "note does not end with a newline"),
    ("c2sp.org/tlog-proof@v1\nindex 7\n\n" + NOTE.replace("\u2014", "-", 1), "line 8: signature"),
    ("c2sp.org/tlog-proof@v1\nindex 7\n\nnot a checkpoint\n\n" + NOTE.split("\n\n")[1],
     "needs origin, size and root"),
    ("c2sp.org/tlog-proof@v1\nindex 7\n\n" + NOTE.replace("\n21\n", "\n021\n", 1),
     "line 5: tree size"),
    (b"c2sp.org/tlog-proof@v1\nindex 7\n\xc0\n\n" + NOTE.encode(), "line 3: not UTF-8"),
])
def test_malformed_proofs(text: str | bytes, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        parse_proof(text)


def test_constructor_validates() -> None:
    h = hashlib.sha256(b"x").digest()
    note = _note(21)
    for args in [(-1, (h,), note), (2**64, (h,), note), (0, (h[:31],), note),
                 (0, (h,) * 65, note), (0, (h,), note[:-1])]:
        with pytest.raises(FormatError):
            TlogProof(*args)  # type: ignore[arg-type]
    with pytest.raises(FormatError, match="leaf hash is 3 bytes"):
        verify_proof(_proof(), b"abc", LOG.verifier, ORIGIN)


def test_damaged_proofs_raise_only_verifier_errors() -> None:
    """Random damage to a proof either parses (and then verifies or fails cleanly) or
    raises FormatError; nothing else escapes."""
    rng = random.Random(7)
    good = format_proof(_proof(extra=b"x"))
    alphabet = "\n =+/Aa09\u2014\x00-"
    rejected = 0
    for _ in range(1500):
        chars = list(good)
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(len(chars))
            op = rng.randrange(3)
            if op == 0:
                chars[pos] = rng.choice(alphabet)
            elif op == 1:
                del chars[pos]
            else:
                chars.insert(pos, rng.choice(alphabet))
        try:
            proof = parse_proof("".join(chars))
        except FormatError:
            rejected += 1
            continue
        try:
            verify_proof(proof, LEAVES[7], LOG.verifier, ORIGIN, [WITNESS.verifier])
        except VerifierError:
            rejected += 1
    assert rejected > 1400  # almost every change breaks the proof or its signatures
