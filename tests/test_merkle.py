"""RFC 9162 Merkle tree: vectors, and exhaustive agreement with a naive recursive model.

The model below is written straight from RFC 9162 sections 2.1.1, 2.1.3.1 and 2.1.4.1
(recursive MTH, PATH and SUBPROOF) and shares no code with verifier._merkle.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from verifier._errors import FormatError, ProofError
from verifier._merkle import (
    EMPTY_ROOT,
    MerkleTree,
    RootAccumulator,
    leaf_hash,
    node_hash,
    root_from_inclusion,
    root_of_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

VECTORS = json.loads((Path(__file__).parent / "vectors" / "rfc6962.json").read_text())
MAX_EXHAUSTIVE = 64


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    """Largest power of two strictly below n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def naive_mth(leaves: list[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return _h(b"")
    if n == 1:
        return leaves[0]
    k = _k(n)
    return _h(b"\x01" + naive_mth(leaves[:k]) + naive_mth(leaves[k:]))


def naive_path(m: int, leaves: list[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*naive_path(m, leaves[:k]), naive_mth(leaves[k:])]
    return [*naive_path(m - k, leaves[k:]), naive_mth(leaves[:k])]


def naive_subproof(m: int, leaves: list[bytes], b: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if b else [naive_mth(leaves)]
    k = _k(n)
    if m <= k:
        return [*naive_subproof(m, leaves[:k], b), naive_mth(leaves[k:])]
    return [*naive_subproof(m - k, leaves[k:], False), naive_mth(leaves[:k])]


def naive_proof(m: int, leaves: list[bytes]) -> list[bytes]:
    return naive_subproof(m, leaves, True)


LEAVES = [_h(b"\x00" + i.to_bytes(4, "big")) for i in range(300)]


@pytest.fixture(scope="module")
def naive_roots() -> list[bytes]:
    return [naive_mth(LEAVES[:n]) for n in range(MAX_EXHAUSTIVE + 1)]


def _flip(proof: list[bytes], i: int) -> list[bytes]:
    out = list(proof)
    out[i] = bytes([out[i][0] ^ 1]) + out[i][1:]
    return out


def test_hash_functions() -> None:
    assert bytes.fromhex(VECTORS["roots_hex"][0]) == EMPTY_ROOT
    assert leaf_hash(b"abc") == _h(b"\x00abc")
    assert node_hash(b"L" * 32, b"R" * 32) == _h(b"\x01" + b"L" * 32 + b"R" * 32)


def test_rfc6962_roots() -> None:
    leaves = [leaf_hash(bytes.fromhex(x)) for x in VECTORS["leaves_hex"]]
    roots = [bytes.fromhex(x) for x in VECTORS["roots_hex"]]
    tree = MerkleTree(leaves)
    for n, expected in enumerate(roots):
        assert tree.root(n) == expected, n
    incremental = MerkleTree()
    acc = RootAccumulator()
    assert incremental.root() == roots[0] == acc.root()
    for n, leaf in enumerate(leaves, 1):
        incremental.append(leaf)
        acc.append(leaf)
        assert incremental.root() == roots[n] == acc.root()


def test_level_by_level_root_matches_the_recursive_definition() -> None:
    """The draw's root-only path carries an odd last node up a level; RFC 6962 splits at
    the largest power of two below n. Same tree, for every size up to 300."""
    for n in range(len(LEAVES) + 1):
        assert root_of_leaf_hashes(LEAVES[:n]) == naive_mth(LEAVES[:n]), n


def test_rfc6962_inclusion_prefixes() -> None:
    leaves = [leaf_hash(bytes.fromhex(x)) for x in VECTORS["leaves_hex"]]
    tree = MerkleTree(leaves)
    path = tree.inclusion_proof(0, 8)
    assert [p.hex()[:8] for p in path] == VECTORS["inclusion_leaf0_size8_prefixes"]
    verify_inclusion(0, 8, leaves[0], path, bytes.fromhex(VECTORS["roots_hex"][8]))


def test_exhaustive_inclusion(naive_roots: list[bytes]) -> None:
    tree = MerkleTree(LEAVES[:MAX_EXHAUSTIVE])
    for n in range(1, MAX_EXHAUSTIVE + 1):
        assert tree.root(n) == naive_roots[n]
        for i in range(n):
            proof = tree.inclusion_proof(i, n)
            assert proof == naive_path(i, LEAVES[:n]), (i, n)
            verify_inclusion(i, n, LEAVES[i], proof, naive_roots[n])
            assert root_from_inclusion(i, n, LEAVES[i], proof) == naive_roots[n]


def test_exhaustive_consistency(naive_roots: list[bytes]) -> None:
    tree = MerkleTree(LEAVES[:MAX_EXHAUSTIVE])
    for n in range(1, MAX_EXHAUSTIVE + 1):
        for m in range(1, n + 1):
            proof = tree.consistency_proof(m, n)
            expected = naive_proof(m, LEAVES[:n]) if m < n else []
            assert proof == expected, (m, n)
            verify_consistency(m, n, naive_roots[m], naive_roots[n], proof)


def test_incremental_append_matches_bulk() -> None:
    bulk = MerkleTree(LEAVES[:110])
    one = MerkleTree()
    for leaf in LEAVES[:110]:
        one.append(leaf)
    mixed = MerkleTree()
    for chunk in (1, 1, 2, 3, 5, 8, 13, 21, 34, 12):  # odd boundaries, each then an append
        mixed.extend(LEAVES[mixed.size:mixed.size + chunk])
        mixed.append(LEAVES[mixed.size])
    mixed.extend([])
    assert mixed.size == one.size == bulk.size == 110
    for n in range(111):
        assert one.root(n) == bulk.root(n) == mixed.root(n) == naive_mth(LEAVES[:n])
    assert one.consistency_proof(37, 110) == bulk.consistency_proof(37) == \
        mixed.consistency_proof(37, 110)
    assert one.inclusion_proof(99) == mixed.inclusion_proof(99, 110)
    assert one.leaf(99) == LEAVES[99]


def test_mutated_inclusion_proofs_fail(naive_roots: list[bytes]) -> None:
    tree = MerkleTree(LEAVES[:MAX_EXHAUSTIVE])
    for n in (1, 2, 3, 5, 8, 13, 33, 64):
        root = naive_roots[n]
        for i in range(n):
            proof = tree.inclusion_proof(i, n)
            leaf = LEAVES[i]
            bad: list[tuple[int, int, bytes, list[bytes]]] = []
            bad += [(i, n, leaf, _flip(proof, j)) for j in range(len(proof))]
            bad.append((i, n, leaf, [*proof, proof[0] if proof else LEAVES[0]]))
            if proof:
                bad.append((i, n, leaf, proof[:-1]))
                bad.append((i, n, leaf, proof[1:]))
            bad.append((i, n, bytes([leaf[0] ^ 0x80]) + leaf[1:], proof))
            bad += [(j, n, leaf, proof) for j in range(n) if j != i]
            # Another size whose path has the same shape gives the same root (which is why
            # a checkpoint signs the size), so only sizes with another shape must fail.
            bad += [(i, s, leaf, proof) for s in range(i + 1, 2 * n + 2)
                    if len(naive_path(i, LEAVES[:s])) != len(proof)]
            bad.append((n, n, leaf, proof))
            bad.append((-1, n, leaf, proof))
            for args in bad:
                with pytest.raises(ProofError):
                    verify_inclusion(*args, root)


def test_mutated_consistency_proofs_fail(naive_roots: list[bytes]) -> None:
    tree = MerkleTree(LEAVES[:MAX_EXHAUSTIVE])
    for n in (2, 3, 7, 8, 9, 21, 64):
        for m in range(1, n):
            proof = tree.consistency_proof(m, n)
            old, new = naive_roots[m], naive_roots[n]
            bad: list[tuple[int, int, bytes, bytes, list[bytes]]] = []
            bad += [(m, n, old, new, _flip(proof, j)) for j in range(len(proof))]
            bad.append((m, n, old, new, [*proof, proof[0]]))
            bad.append((m, n, old, new, proof[:-1]))
            bad.append((m, n, old, new, proof[1:]))
            bad.append((m, n, new, new, proof))
            bad.append((m, n, old, old, proof))
            bad += [(j, n, old, new, proof) for j in range(1, n + 1) if j != m]
            bad += [(m, s, old, new, proof) for s in range(m, 2 * n + 2)
                    if len(naive_proof(m, LEAVES[:s])) != len(proof)]
            bad.append((n + 1, n, old, new, proof))
            for args in bad:
                with pytest.raises(ProofError):
                    verify_consistency(*args)


def test_consistency_edge_cases() -> None:
    tree = MerkleTree(LEAVES[:10])
    assert tree.consistency_proof(0, 10) == []
    assert tree.consistency_proof(10) == []
    verify_consistency(0, 10, EMPTY_ROOT, tree.root(), [])
    verify_consistency(10, 10, tree.root(), tree.root(), [])
    with pytest.raises(ProofError):
        verify_consistency(0, 10, tree.root(), tree.root(), [])
    with pytest.raises(ProofError):
        verify_consistency(10, 10, tree.root(9), tree.root(), [])
    with pytest.raises(ProofError):
        verify_consistency(10, 10, tree.root(), tree.root(), [tree.root()])
    with pytest.raises(ProofError):
        verify_consistency(3, 10, tree.root(3), tree.root(), [])
    with pytest.raises(ProofError, match="1 hashes, the tree shape needs 5"):
        verify_consistency(3, 10, tree.root(3), tree.root(), [b"x" * 32])
    proof = tree.consistency_proof(3)
    with pytest.raises(ProofError, match="hash 0 is 31 bytes"):
        verify_consistency(3, 10, tree.root(3), tree.root(), [b"x" * 31, *proof[1:]])
    proof = tree.inclusion_proof(0)
    with pytest.raises(ProofError, match="hash 1 is 33 bytes"):
        verify_inclusion(0, 10, LEAVES[0], [proof[0], b"x" * 33, *proof[2:]], tree.root())
    with pytest.raises(ProofError, match="leaf hash is 31 bytes"):
        verify_inclusion(0, 10, LEAVES[0][:31], proof, tree.root())


def test_out_of_range_arguments() -> None:
    tree = MerkleTree(LEAVES[:8])
    with pytest.raises(FormatError, match="index 8 not below size 8"):
        tree.inclusion_proof(8)
    with pytest.raises(FormatError, match="index 5 not below size 5"):
        tree.inclusion_proof(5, 5)
    with pytest.raises(FormatError, match="size 9 not within the tree size 8"):
        tree.root(9)
    with pytest.raises(FormatError, match="size -1"):
        tree.root(-1)
    with pytest.raises(FormatError, match="old size 6 not within new size 5"):
        tree.consistency_proof(6, 5)
    with pytest.raises(FormatError, match="index -1"):
        tree.leaf(-1)
    with pytest.raises(FormatError, match="index 0 not below size 0"):
        MerkleTree().inclusion_proof(0)
    with pytest.raises(FormatError, match="leaf hash: 3 bytes"):
        tree.append(b"abc")
    with pytest.raises(FormatError, match="leaf hash 9: 31 bytes"):
        tree.extend([LEAVES[0], b"x" * 31])
    assert tree.size == 8  # a rejected extend leaves the tree untouched
    with pytest.raises(FormatError, match="leaf hash: 0 bytes"):
        RootAccumulator().append(b"")


def test_root_accumulator_matches_tree() -> None:
    tree = MerkleTree(LEAVES)
    acc = RootAccumulator()
    assert acc.root() == tree.root(0) == EMPTY_ROOT
    for n, leaf in enumerate(LEAVES, 1):
        acc.append(leaf)
        assert acc.size == n
        assert acc.root() == tree.root(n), n


def test_large_tree_against_model() -> None:
    """Sizes past the exhaustive range, where the ragged edge spans many levels."""
    leaves = [_h(i.to_bytes(4, "big")) for i in range(1000)]
    tree = MerkleTree(leaves)
    for n in (127, 128, 129, 255, 511, 700, 1000):
        root = naive_mth(leaves[:n])
        assert tree.root(n) == root
        for i in (0, 1, n // 3, n // 2, n - 2, n - 1):
            proof = tree.inclusion_proof(i, n)
            assert proof == naive_path(i, leaves[:n])
            verify_inclusion(i, n, leaves[i], proof, root)
        for m in (1, 2, 63, 64, 65, n // 2 + 1, n - 1):
            proof = tree.consistency_proof(m, n)
            assert proof == naive_proof(m, leaves[:n])
            verify_consistency(m, n, naive_mth(leaves[:m]), root, proof)
