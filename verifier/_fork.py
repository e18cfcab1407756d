"""Fork evidence (SPEC.md 7.7): two checkpoints the log signed that cannot both be true.

A split view is only worth catching if the catch can be shown to anyone: the monitor
writes both signed notes, and for different sizes the consistency proof from the larger
tree together with the root it gives the smaller size, so a third party needs nothing but
the pinned log key to see that the log signed two histories. A proof that verifies from
the smaller note's own root would refute the claim; that is why the evidence carries the
proof and the prefix root it leads to, not only an assertion that a proof "fails".
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from verifier._canonical import canonical, decode_json, decode_text
from verifier._errors import FormatError, ProofError, VerifierError
from verifier._merkle import verify_consistency
from verifier._note import Checkpoint, parse_checkpoint, parse_note, verify_note
from verifier._trust import Trust

__all__ = ["FORK_FORMAT", "ForkVerdict", "check_fork", "fork_evidence", "parse_fork"]

FORK_FORMAT = "drawledger/fork-evidence/v1"
SAME_SIZE = "same_size"
NOT_A_PREFIX = "not_a_prefix"
MAX_EVIDENCE_BYTES = 1 << 20
MAX_PROOF = 64  # a consistency proof of a 2^64 tree has at most 2 * 64 hashes; 64 suffices
_KEYS = {"format", "origin", "why", "sizes", "notes"}


@dataclass(frozen=True)
class ForkVerdict:
    """What ``check_fork`` concluded: exit code 2 (fork shown), 0 (refuted) or 64."""

    code: int
    zh: str
    en: str


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _checkpoint(note: str) -> Checkpoint:
    return parse_checkpoint(parse_note(note).text)


def fork_evidence(note_a: str, note_b: str, proof: list[bytes] | None = None,
                  prefix_root: bytes | None = None) -> bytes:
    """The canonical evidence bytes for two conflicting notes. For different sizes give
    the consistency ``proof`` from the smaller size to the larger tree and the
    ``prefix_root`` it verifies with (the larger tree's root at the smaller size)."""
    a, b = sorted((note_a, note_b), key=lambda n: (_checkpoint(n).size, n))
    ca, cb = _checkpoint(a), _checkpoint(b)
    obj: dict[str, Any] = {"format": FORK_FORMAT, "origin": ca.origin,
                           "sizes": [ca.size, cb.size], "notes": [a, b]}
    if ca.size == cb.size:
        obj["why"] = SAME_SIZE
    else:
        if proof is None or prefix_root is None:
            raise FormatError("notes of different sizes need the proof and the prefix root")
        obj.update(why=NOT_A_PREFIX, prefix_root=_b64(prefix_root),
                   proof=[_b64(h) for h in proof])
    return canonical(obj) + b"\n"


def _hash(text: Any, where: str) -> bytes:
    if not isinstance(text, str):
        raise FormatError(f"{where}: not a base64 string")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise FormatError(f"{where}: not valid base64") from None
    if len(raw) != 32 or _b64(raw) != text:
        raise FormatError(f"{where}: not the canonical base64 of a 32-byte hash")
    return raw


def parse_fork(data: bytes) -> dict[str, Any]:
    """The evidence object, FormatError naming the field when it is not one: the exact
    fields of its ``why``, in canonical JSON (one evidence, one byte string)."""
    if len(data) > MAX_EVIDENCE_BYTES:
        raise FormatError(f"evidence: over {MAX_EVIDENCE_BYTES} bytes")
    obj = decode_json(decode_text(data))
    if not isinstance(obj, dict):
        raise FormatError("evidence: not a JSON object")
    if obj.get("format") != FORK_FORMAT:
        raise FormatError(f"evidence.format: not {FORK_FORMAT!r}")
    keys = _KEYS | ({"prefix_root", "proof"} if obj.get("why") == NOT_A_PREFIX else set())
    if obj.get("why") not in (SAME_SIZE, NOT_A_PREFIX):
        raise FormatError(f"evidence.why: not {SAME_SIZE!r} or {NOT_A_PREFIX!r}")
    if set(obj) != keys:
        raise FormatError(f"evidence: expected exactly the fields {sorted(keys)}")
    notes = obj["notes"]
    if not isinstance(notes, list) or len(notes) != 2 or not all(
            isinstance(n, str) for n in notes):
        raise FormatError("evidence.notes: not a list of two note texts")
    if canonical(obj) + b"\n" != data:
        raise FormatError("evidence: not in canonical JSON (SPEC.md 7.7)")
    return obj


def check_fork(data: bytes, trust: Trust) -> ForkVerdict:
    """Judge fork evidence under the pinned log key alone."""
    try:
        obj = parse_fork(data)
        cps = []
        for i, text in enumerate(obj["notes"]):
            try:
                note = parse_note(text)
                verify_note(note, [trust.log_key])
                cps.append(parse_checkpoint(note.text))
            except VerifierError as exc:
                raise FormatError(f"evidence.notes[{i}]: {exc}") from None
        a, b = cps
        for i, cp in enumerate(cps):
            if cp.origin != trust.origin or obj["origin"] != trust.origin:
                raise FormatError(f"evidence.notes[{i}]: origin {cp.origin!r} is not the "
                                  f"pinned {trust.origin!r}")
        if obj["sizes"] != [a.size, b.size] or a.size > b.size:
            raise FormatError("evidence.sizes: not the notes' sizes, smaller first")
        if obj["why"] == SAME_SIZE:
            if a.size != b.size:
                raise FormatError("evidence.why: same_size, but the sizes differ")
            if a.root == b.root:
                return ForkVerdict(0, "两个检查点规模相同、根相同：并非分叉",
                                   "the two checkpoints have the same size and root: no fork")
            return ForkVerdict(2, f"日志签署了两份历史：规模 {a.size} 的两个检查点根哈希不同",
                               f"the log signed two histories: two checkpoints of size "
                               f"{a.size} with different roots")
        if a.size == b.size:
            raise FormatError("evidence.why: not_a_prefix needs two different sizes")
        proof_list = obj["proof"]
        if not isinstance(proof_list, list) or len(proof_list) > 2 * MAX_PROOF:
            raise FormatError("evidence.proof: not a list of hashes")
        proof = [_hash(h, f"evidence.proof[{i}]") for i, h in enumerate(proof_list)]
        prefix = _hash(obj["prefix_root"], "evidence.prefix_root")
    except FormatError as exc:
        return ForkVerdict(64, f"分叉证据无法采信：{exc}",
                           f"the fork evidence is not usable: {exc}")
    try:
        verify_consistency(a.size, b.size, a.root, b.root, proof)
        return ForkVerdict(0, "一致性证明成立：较大的树延续了较小的树，并非分叉",
                           "the consistency proof verifies: the larger tree extends the "
                           "smaller one, no fork")
    except ProofError:
        pass
    try:
        verify_consistency(a.size, b.size, prefix, b.root, proof)
    except ProofError as exc:
        return ForkVerdict(64, f"分叉证据无法采信：证明不成立（{exc}）",
                           f"the fork evidence is not usable: its proof does not verify ({exc})")
    return ForkVerdict(2, f"日志签署了两份历史：规模 {b.size} 的树在规模 {a.size} 处的根"
                          f"不是规模 {a.size} 检查点的根",
                       f"the log signed two histories: the size-{b.size} tree's root at size "
                       f"{a.size} is not the root of the size-{a.size} checkpoint")
