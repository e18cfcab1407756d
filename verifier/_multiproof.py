"""Multi-leaf inclusion proofs (SPEC.md 22.1): the node hashes from which the root of an
RFC 9162 tree is recomputed from several of its leaves at once.

Separate RFC 9162 paths for the entries of one entity proof repeat the nodes near the
root, and entries that sit close together in the log (a draw's commitment, reveals and
execution) share most of their paths; one multi-proof carries each node once. The order
is fixed by the tree's shape (SPEC.md 22.1): the RFC 9162 split of ``D[lo:hi]`` at the
largest power of two below ``hi - lo``, left before right, and a subtree holding none of
the proved leaves is one hash (its MTH) at its place in that walk.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import itertools
from collections.abc import Callable, Sequence

from verifier._errors import FormatError, ProofError
from verifier._merkle import HASH_SIZE, MerkleTree, node_hash

__all__ = ["MAX_DEPTH", "decode_hashes", "encode_hashes", "multi_proof", "multi_proof_length",
           "root_from_multi_proof", "subtree_hash", "verify_multi_inclusion"]

MAX_DEPTH = 64  # a tree of at most 2^64 leaves


def encode_hashes(hashes: Sequence[bytes]) -> list[str]:
    """Hashes as the entity proof writes them: standard padded base64 (44 characters)."""
    return [base64.b64encode(h).decode() for h in hashes]


def decode_hashes(values: object, where: str) -> list[bytes]:
    """A JSON list of hashes in canonical base64 of 32 bytes; FormatError naming
    ``where`` otherwise (one text form per hash, so no two files mean one proof)."""
    if type(values) is not list:
        raise FormatError(f"{where}: not a list of hashes")
    out = []
    for i, text in enumerate(values):
        try:
            raw = base64.b64decode(text, validate=True) if type(text) is str else b""
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != HASH_SIZE or base64.b64encode(raw).decode() != text:
            raise FormatError(f"{where}[{i}]: not the base64 of a 32-byte hash")
        out.append(raw)
    return out


def _split(n: int) -> int:
    """The largest power of two below ``n`` (n >= 2): RFC 9162's k."""
    return 1 << ((n - 1).bit_length() - 1)


def _walk(indices: Sequence[int], size: int,
          gap: Callable[[int, int], None], leaf: Callable[[int], None] | None = None) -> None:
    """Visit the shape in proof order: ``gap(lo, hi)`` for each subtree without a proved
    leaf, ``leaf(i)`` for the i-th proved leaf."""
    def visit(lo: int, hi: int, i0: int, i1: int) -> None:
        if i0 == i1:
            gap(lo, hi)
        elif hi - lo == 1:
            if leaf is not None:
                leaf(i0)
        else:
            mid = lo + _split(hi - lo)
            j = bisect.bisect_left(indices, mid, i0, i1)
            visit(lo, mid, i0, j)
            visit(mid, hi, j, i1)
    visit(0, size, 0, len(indices))


def _check_indices(indices: Sequence[int], size: int) -> None:
    if not indices:
        raise ProofError("multi-leaf inclusion proof: no leaf to prove")
    if not 0 < size <= 1 << MAX_DEPTH:
        raise ProofError(f"multi-leaf inclusion proof: tree size {size} out of range")
    if indices[0] < 0 or any(a >= b for a, b in itertools.pairwise(indices)):
        raise ProofError("multi-leaf inclusion proof: the indices are not strictly increasing")
    if indices[-1] >= size:
        raise ProofError(f"multi-leaf inclusion proof: index {indices[-1]} not below the tree "
                         f"size {size}")


def multi_proof_length(indices: Sequence[int], size: int) -> int:
    """How many hashes the proof of ``indices`` (strictly increasing) in a tree of
    ``size`` leaves holds: fixed by the shape, checked before any hashing."""
    _check_indices(indices, size)
    count = [0]

    def gap(lo: int, hi: int) -> None:
        count[0] += 1
    _walk(indices, size, gap)
    return count[0]


def subtree_hash(tree: MerkleTree, lo: int, hi: int) -> bytes:
    """MTH(D[lo:hi]) of a subtree of the RFC 9162 split: a stored perfect subtree, or a
    ragged right edge folded from them."""
    n = hi - lo
    if n & (n - 1) == 0 and lo % n == 0:
        level = n.bit_length() - 1
        return tree.nodes(level, lo >> level, (lo >> level) + 1)[0]
    mid = lo + _split(n)
    return node_hash(subtree_hash(tree, lo, mid), subtree_hash(tree, mid, hi))


def multi_proof(tree: MerkleTree, indices: Sequence[int], size: int) -> list[bytes]:
    """The multi-leaf inclusion proof of ``indices`` in the first ``size`` leaves of
    ``tree`` (SPEC.md 22.1 order)."""
    _check_indices(indices, size)
    if size > tree.size:
        raise FormatError(f"size {size} not within the tree size {tree.size}")
    out: list[bytes] = []
    _walk(indices, size, lambda lo, hi: out.append(subtree_hash(tree, lo, hi)))
    return out


def root_from_multi_proof(indices: Sequence[int], size: int, leaves: Sequence[bytes],
                          proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` leads to from ``leaves`` (leaf hashes) at ``indices``;
    ProofError when the indices or the number of hashes do not fit the tree's shape."""
    expected = multi_proof_length(indices, size)
    if len(leaves) != len(indices):
        raise ProofError(f"multi-leaf inclusion proof: {len(leaves)} leaves for "
                         f"{len(indices)} indices")
    if len(proof) != expected:
        raise ProofError(f"multi-leaf inclusion proof for {len(indices)} leaves in size "
                         f"{size}: {len(proof)} hashes, the tree shape needs {expected}")
    for what, hashes in (("leaf", leaves), ("proof", proof)):
        for i, h in enumerate(hashes):
            if len(h) != HASH_SIZE:
                raise ProofError(f"multi-leaf inclusion proof: {what} hash {i} is {len(h)} "
                                 f"bytes, not {HASH_SIZE}")
    nodes = iter(proof)

    def visit(lo: int, hi: int, i0: int, i1: int) -> bytes:
        if i0 == i1:
            return next(nodes)
        if hi - lo == 1:
            return leaves[i0]
        mid = lo + _split(hi - lo)
        j = bisect.bisect_left(indices, mid, i0, i1)
        left = visit(lo, mid, i0, j)
        return node_hash(left, visit(mid, hi, j, i1))
    return visit(0, size, 0, len(indices))


def verify_multi_inclusion(indices: Sequence[int], size: int, leaves: Sequence[bytes],
                           proof: Sequence[bytes], root: bytes) -> None:
    """Raise ProofError unless ``proof`` shows every leaf at its index under ``root``."""
    if root_from_multi_proof(indices, size, leaves, proof) != root:
        raise ProofError(f"multi-leaf inclusion proof for {len(indices)} leaves in size "
                         f"{size} does not lead to the checkpoint's root")
