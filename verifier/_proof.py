"""C2SP tlog-proof@v1: an offline-verifiable proof that an entry is in a signed tree.

Layout (one item per line, each ending in a newline)::

    c2sp.org/tlog-proof@v1
    extra <base64>            optional, unauthenticated application data
    index <decimal>           zero-based leaf index, no leading zeros
    <base64 hash>             zero or more: the RFC 9162 inclusion path, leaf's sibling first
                              (a blank line)
    <checkpoint signed note>  verbatim, cosignatures included

The proof is self-contained: with the log's origin, its key and the witness keys a third
party checks it without contacting the log.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from verifier._errors import FormatError, IntegrityError
from verifier._merkle import verify_inclusion
from verifier._note import (
    Checkpoint,
    NoteVerifier,
    _b64,
    _b64decode,
    _decode,
    _parse_checkpoint,
    _parse_note,
    verify_cosignatures,
    verify_note,
)

__all__ = ["HEADER", "MAX_PATH", "TlogProof", "format_proof", "parse_proof", "verify_proof"]

HEADER = "c2sp.org/tlog-proof@v1"
MAX_PATH = 64  # a tree of fewer than 2^64 leaves has at most 64 levels
_DECIMAL_RE = re.compile(r"0|[1-9][0-9]*")


@dataclass(frozen=True)
class TlogProof:
    """A parsed tlog-proof: leaf index, inclusion path, checkpoint note, extra data."""

    index: int
    path: tuple[bytes, ...]
    note: str
    extra: bytes | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.index < 2**64:
            raise FormatError(f"proof index {self.index}: not an unsigned 64-bit integer")
        if len(self.path) > MAX_PATH:
            raise FormatError(f"proof path has {len(self.path)} hashes, over {MAX_PATH}")
        for i, h in enumerate(self.path):
            if len(h) != 32:
                raise FormatError(f"proof path hash {i}: {len(h)} bytes, not 32")
        if not self.note.endswith("\n"):
            raise FormatError("proof note does not end with a newline")


def format_proof(proof: TlogProof) -> str:
    """The text form of ``proof``."""
    lines = [HEADER]
    if proof.extra is not None:
        lines.append(f"extra {_b64(proof.extra)}")
    lines.append(f"index {proof.index}")
    lines.extend(_b64(h) for h in proof.path)
    return "\n".join(lines) + "\n\n" + proof.note


def parse_proof(raw: str | bytes) -> TlogProof:
    """Parse a proof strictly, including its checkpoint note; FormatError names the line.

    The header ends at the first blank line (header lines are never empty); everything
    after it is the checkpoint note, which has its own blank line before its signatures.
    """
    text = _decode(raw)
    split = text.find("\n\n")
    if split < 0:
        raise FormatError("proof has no blank line before the checkpoint")
    lines = text[:split].split("\n")
    if lines[0] != HEADER:
        raise FormatError(f"line 1: not {HEADER}")
    n = 1
    extra = None
    if n < len(lines) and lines[n].startswith("extra "):
        extra = _b64decode(lines[n][len("extra "):], f"line {n + 1}: extra data")
        n += 1
    if n == len(lines) or not lines[n].startswith("index "):
        raise FormatError(f"line {n + 1}: expected 'index <n>'")
    digits = lines[n][len("index "):]
    if not _DECIMAL_RE.fullmatch(digits) or len(digits) > 20 or int(digits) >= 2**64:
        raise FormatError(f"line {n + 1}: index {digits!r} is not a decimal without leading "
                          "zeros below 2^64")
    index = int(digits)
    n += 1
    if len(lines) - n > MAX_PATH:
        raise FormatError(f"proof has {len(lines) - n} path hashes, over {MAX_PATH}")
    path = []
    for i in range(n, len(lines)):
        h = _b64decode(lines[i], f"line {i + 1}: path hash")
        if len(h) != 32:
            raise FormatError(f"line {i + 1}: path hash is {len(h)} bytes, not 32")
        path.append(h)
    note_text = text[split + 2:]
    first = len(lines) + 2
    note = _parse_note(note_text, first)
    _parse_checkpoint(note.text, first)
    return TlogProof(index, tuple(path), note_text, extra)


def verify_proof(proof: TlogProof, leaf: bytes, log_key: NoteVerifier, origin: str,
                 witnesses: Sequence[NoteVerifier] = ()) -> tuple[Checkpoint, dict[str, int]]:
    """Check that ``leaf`` (a leaf hash) is at ``proof.index`` in a tree the log signed.

    Checks, in order: the log's signature on the checkpoint note (SignatureError), its
    origin (IntegrityError), the inclusion path to its root (ProofError), and the
    cosignatures of known witnesses. Returns the checkpoint and witness name -> cosigning
    time; whether enough witnesses cosigned is the caller's policy.
    """
    if len(leaf) != 32:
        raise FormatError(f"leaf hash is {len(leaf)} bytes, not 32")
    note = _parse_note(proof.note)
    verify_note(note, [log_key])
    checkpoint = _parse_checkpoint(note.text)
    if checkpoint.origin != origin:
        raise IntegrityError(f"checkpoint origin {checkpoint.origin!r} is not the expected "
                             f"{origin!r}")
    verify_inclusion(proof.index, checkpoint.size, leaf, proof.path, checkpoint.root)
    cosigned = verify_cosignatures(note, witnesses) if witnesses else {}
    return checkpoint, cosigned
