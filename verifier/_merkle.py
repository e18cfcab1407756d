"""RFC 9162 Merkle trees: roots, inclusion and consistency proofs, and their verification.

``MerkleTree`` keeps every aligned perfect subtree (``levels[k][i]`` covers leaves
``i*2^k .. (i+1)*2^k - 1``). Every node of the RFC 9162 tree of any size ``n`` is either
one of those or lies on the ragged right edge, which is the right-to-left fold of the
perfect subtrees that the binary digits of ``n`` select. So appends cost one node hash
amortised, and the root or a proof for any past size needs lookups plus at most
``log2(n)`` hashes.

Hashing copies a pre-fed ``0x01`` (or ``0x00``) SHA-256 state instead of concatenating and
constructing a new one: it is the cheapest way to hash with ``hashlib``.
"""

from __future__ import annotations

import hashlib
import itertools
import mmap
from collections.abc import Iterable, Sequence
from typing import cast

from verifier._errors import FormatError, ProofError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MerkleTree",
    "RootAccumulator",
    "leaf_hash",
    "node_hash",
    "root_from_inclusion",
    "root_of_leaf_hashes",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
_LEAF = hashlib.sha256(b"\x00").copy
_NODE = hashlib.sha256(b"\x01").copy
_EDGE_CACHE_SIZE = 64


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data): the prefix keeps leaves from passing for interior nodes."""
    h = _LEAF()
    h.update(data)
    return h.digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    h = _NODE()
    h.update(left)
    h.update(right)
    return h.digest()


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise FormatError(f"{what}: {len(value)} bytes, a SHA-256 hash is {HASH_SIZE}")


def root_of_leaf_hashes(hashes: list[bytes]) -> bytes:
    """The RFC 9162 root of ``hashes`` without a tree: level by level, pairs hashed and an
    odd last node carried up (the same tree as splitting at the largest power of two),
    nothing kept; for a million-leaf root computed once (a draw's pool)."""
    if not hashes:
        return EMPTY_ROOT
    sha = hashlib.sha256
    level = hashes
    while len(level) > 1:
        pairs = iter(level)  # an odd last node is left over in the iterator, not hashed
        up = [sha(b"\x01" + left + right).digest()
              for left, right in zip(pairs, pairs, strict=False)]
        if len(level) & 1:
            up.append(level[-1])
        level = up
    return level[0]


class MerkleTree:
    """An append-only RFC 9162 tree over leaf hashes that serves any past size.

    Not safe for concurrent appends: callers that share one tree serialise writes.
    """

    __slots__ = ("_edge_cache", "_levels")

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        self._edge_cache: dict[int, list[bytes]] = {}
        self.extend(leaf_hashes)

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self._levels[0])

    def pack(self) -> list[bytes]:
        """Every level's hashes, concatenated: what a saved replay state keeps (a list of
        a few large strings pickles and loads far faster than millions of small ones)."""
        return [b"".join(level) for level in self._levels]

    @classmethod
    def unpack(cls, packed: list[bytes]) -> MerkleTree:
        """The tree ``pack`` gave; FormatError when the levels cannot be one."""
        tree = cls()
        levels = [[p[i:i + HASH_SIZE] for i in range(0, len(p), HASH_SIZE)] for p in packed]
        if not levels or any(len(p) % HASH_SIZE for p in packed) or any(
                len(up) != len(cur) // 2 for cur, up in itertools.pairwise(levels)):
            raise FormatError("packed tree: its levels do not make a Merkle tree")
        tree._levels = levels
        return tree

    @classmethod
    def over(cls, buf: bytes | mmap.mmap, sizes: Sequence[int], start: int = 0
             ) -> MerkleTree:
        """A read-only tree over levels packed one after another in ``buf`` from byte
        ``start`` (as ``pack`` gives them, ``sizes`` their node counts): over a
        memory-mapped file nothing is read until a proof asks for a hash. FormatError when
        the sizes cannot be one tree."""
        if not sizes or any(up != cur // 2 for cur, up in itertools.pairwise(sizes)) \
                or start + sum(sizes) * HASH_SIZE > len(buf):
            raise FormatError("packed tree: its levels do not make a Merkle tree")
        tree = cls()
        levels = []
        for count in sizes:
            levels.append(_PackedLevel(buf, start, count))
            start += count * HASH_SIZE
        tree._levels = cast(list[list[bytes]], levels)  # read by index only: no append
        return tree

    def append(self, leaf: bytes) -> None:
        """Append one leaf hash; hashes each subtree the moment it becomes complete."""
        _check_hash(leaf, "leaf hash")
        levels = self._levels
        cur = levels[0]
        cur.append(leaf)
        k = 0
        while not len(cur) & 1:
            k += 1
            if k == len(levels):
                levels.append([])
            h = _NODE()
            h.update(cur[-2])
            h.update(cur[-1])
            cur = levels[k]
            cur.append(h.digest())

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append many leaf hashes, then hash each level's new pairs in one tight loop
        (no walk up from every leaf); all-or-nothing if a hash has the wrong length."""
        new = list(leaves)
        if not new:
            return
        if set(map(len, new)) != {HASH_SIZE}:
            i = next(i for i, leaf in enumerate(new) if len(leaf) != HASH_SIZE)
            raise FormatError(f"leaf hash {self.size + i}: {len(new[i])} bytes, "
                              f"a SHA-256 hash is {HASH_SIZE}")
        levels = self._levels
        levels[0].extend(new)
        node = _NODE
        k = 0
        while len(levels[k]) >= 2:
            cur = levels[k]
            if k + 1 == len(levels):
                levels.append([])
            up = levels[k + 1]
            start = 2 * len(up)
            stop = len(cur) & ~1
            if start == stop:
                break
            it = iter(cur[start:stop])
            append = up.append
            for left, right in zip(it, it, strict=True):
                h = node()
                h.update(left)
                h.update(right)
                append(h.digest())
            k += 1

    def leaf(self, index: int) -> bytes:
        """The leaf hash at ``index``."""
        self._check_index(index, self.size)
        return self._levels[0][index]

    def nodes(self, level: int, start: int, stop: int) -> list[bytes]:
        """The hashes of the complete subtrees of ``2**level`` leaves numbered
        ``start..stop-1``: what a tlog-tiles hash tile holds (SPEC.md "Tiles")."""
        levels = self._levels
        have = len(levels[level]) if level < len(levels) else 0
        if not 0 <= start <= stop <= have:
            raise FormatError(f"level {level} holds {have} complete subtrees, not "
                              f"{start}..{stop - 1}")
        return levels[level][start:stop]

    def _check_size(self, size: int | None) -> int:
        n = len(self._levels[0])
        if size is None:
            return n
        if not 0 <= size <= n:
            raise FormatError(f"size {size} not within the tree size {n}")
        return size

    @staticmethod
    def _check_index(index: int, size: int) -> None:
        if not 0 <= index < size:
            raise FormatError(f"index {index} not below size {size}")

    def _edges(self, n: int) -> list[bytes]:
        """Ragged-edge hashes of the first ``n`` leaves: entry ``k`` is the hash of the last
        ``n mod 2^k`` of them (the right-to-left fold of the perfect subtrees that the bits
        of ``n`` below ``k`` pick; ``b""`` if there are none), so the root is entry
        ``n.bit_length()``.

        A fold costs one hash per set bit of ``n``; it never changes once the first ``n``
        leaves exist, so recent sizes are cached (proofs are mostly asked at a few
        checkpoint sizes).
        """
        edges = self._edge_cache.get(n)
        if edges is not None:
            return edges
        levels = self._levels
        acc = b""
        edges = [acc]
        m = n
        for nodes in levels[:n.bit_length()]:
            if m & 1:
                left = nodes[m - 1]
                if acc:
                    h = _NODE()
                    h.update(left)
                    h.update(acc)
                    acc = h.digest()
                else:
                    acc = left
            edges.append(acc)
            m >>= 1
        if len(self._edge_cache) >= _EDGE_CACHE_SIZE:
            self._edge_cache.clear()
        self._edge_cache[n] = edges
        return edges

    def root(self, size: int | None = None) -> bytes:
        """Root of the first ``size`` leaves (default: all)."""
        n = self._check_size(size)
        if n == 0:
            return EMPTY_ROOT
        return self._edges(n)[n.bit_length()]

    def _path(self, level: int, index: int, n: int, out: list[bytes]) -> list[bytes]:
        """Append to ``out`` the siblings of node (``level``, ``index``) up to the root of
        the first ``n`` leaves, lowest first, skipping levels where the node has none.

        Below ``inner`` the node and the last leaf are in different subtrees, so every
        sibling is complete except perhaps the one at ``inner - 1``, which may be the
        ragged edge; from ``inner`` up the node is on the right edge and its siblings are
        the perfect subtrees to its left.
        """
        levels = self._levels
        inner = (index ^ ((n - 1) >> level)).bit_length() + level
        append = out.append
        i = index
        if inner > level:
            for nodes in levels[level:inner - 1]:
                append(nodes[i ^ 1])
                i >>= 1
            k = inner - 1
            i ^= 1
            append(levels[k][i] if (i + 1) << k <= n else self._edges(n)[k])
            i >>= 1
        k = inner
        while i:
            if i & 1:
                append(levels[k][i ^ 1])
            i >>= 1
            k += 1
        return out

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 PATH(index, D[0:size]): sibling hashes from the leaf upwards."""
        n = len(self._levels[0]) if size is None else self._check_size(size)
        if not 0 <= index < n:
            raise FormatError(f"index {index} not below size {n}")
        return self._path(0, index, n, [])

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """RFC 9162 PROOF(old_size, D[0:new_size]); empty when the sizes are equal or
        ``old_size`` is 0 (every tree extends the empty tree).

        The proof is the perfect subtree ending at ``old_size`` (omitted when it is the
        whole old tree) followed by that node's path in the new tree.
        """
        n = len(self._levels[0]) if new_size is None else self._check_size(new_size)
        if not 0 <= old_size <= n:
            raise FormatError(f"old size {old_size} not within new size {n}")
        if old_size == 0 or old_size == n:
            return []
        shift = (old_size & -old_size).bit_length() - 1
        index = (old_size >> shift) - 1
        out = [] if index == 0 else [self._levels[shift][index]]
        return self._path(shift, index, n, out)


class _PackedLevel:
    """One level of ``MerkleTree.over``: its node hashes read from the buffer on demand."""

    __slots__ = ("_buf", "_count", "_start")

    def __init__(self, buf: bytes | mmap.mmap, start: int, count: int) -> None:
        self._buf, self._start, self._count = buf, start, count

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, i: int) -> bytes:
        if i < 0:
            i += self._count
        if not 0 <= i < self._count:
            raise IndexError(i)
        at = self._start + i * HASH_SIZE
        return bytes(self._buf[at:at + HASH_SIZE])


class RootAccumulator:
    """Streaming root computation in O(log n) memory (a compact range from leaf 0).

    For audits that replay a log and need the root at many sizes without keeping the
    tree: ``_stack`` holds the perfect subtrees of the binary decomposition of ``size``,
    largest first.
    """

    __slots__ = ("_size", "_stack")

    def __init__(self) -> None:
        self._size = 0
        self._stack: list[bytes] = []

    @property
    def size(self) -> int:
        """Number of leaves appended."""
        return self._size

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash, merging the equal-sized subtrees it completes."""
        _check_hash(leaf, "leaf hash")
        stack = self._stack
        n = self._size
        acc = leaf
        while n & 1:
            h = _NODE()
            h.update(stack.pop())
            h.update(acc)
            acc = h.digest()
            n >>= 1
        stack.append(acc)
        self._size += 1

    def root(self) -> bytes:
        """Root of all leaves appended so far."""
        stack = self._stack
        if not stack:
            return EMPTY_ROOT
        acc = stack[-1]
        for i in range(len(stack) - 2, -1, -1):
            h = _NODE()
            h.update(stack[i])
            h.update(acc)
            acc = h.digest()
        return acc


def _bad_sizes(proof: Sequence[bytes]) -> str:
    """Name the first hash of the wrong length, to explain a failed proof."""
    for i, p in enumerate(proof):
        if len(p) != HASH_SIZE:
            return f": hash {i} is {len(p)} bytes, not {HASH_SIZE}"
    return ""


def _inclusion_root(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The RFC 9162 2.1.3.2 walk with its shifts precomputed.

    The RFC's loop shifts ``fn``/``sn`` past levels where the node has no sibling. Here the
    ``inner`` lowest hashes sit left or right by the bits of ``index`` and every later
    one is a left sibling on the right edge, so the proof length is fixed by ``index``
    and ``size``. Hash lengths are not checked: a wrong-length hash cannot reach a valid
    root without a SHA-256 collision, so they are only looked at to explain a failure.
    """
    what = "inclusion proof for index {} in size {}"
    if not 0 <= index < size:
        raise ProofError(what.format(index, size) + ": index not below size")
    if len(leaf) != HASH_SIZE:
        raise ProofError(what.format(index, size) + f": leaf hash is {len(leaf)} bytes, "
                         f"not {HASH_SIZE}")
    inner = (index ^ (size - 1)).bit_length()
    expected = inner + (index >> inner).bit_count()
    if len(proof) != expected:
        raise ProofError(what.format(index, size) + f": {len(proof)} hashes, the tree "
                         f"shape needs {expected}")
    node = _NODE
    r = leaf
    i = index
    for p in proof[:inner]:
        h = node()
        if i & 1:
            h.update(p)
            h.update(r)
        else:
            h.update(r)
            h.update(p)
        r = h.digest()
        i >>= 1
    for p in proof[inner:]:
        h = node()
        h.update(p)
        h.update(r)
        r = h.digest()
    return r


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` leads to from ``leaf`` at ``index`` (RFC 9162 2.1.3.2).

    Raises ProofError when the proof has the wrong shape for ``index`` and ``size``.
    """
    bad = _bad_sizes(proof)
    if bad:
        raise ProofError(f"inclusion proof for index {index} in size {size}{bad}")
    return _inclusion_root(index, size, leaf, proof)


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes],
                     root: bytes) -> None:
    """Raise ProofError unless ``proof`` shows ``leaf`` at ``index`` under ``root``."""
    if _inclusion_root(index, size, leaf, proof) != root:
        raise ProofError(f"inclusion proof for index {index} in size {size}"
                         f"{_bad_sizes(proof) or ' does not lead to the expected root'}")


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> None:
    """Raise ProofError unless ``proof`` shows the ``old_size`` tree with ``old_root`` is a
    prefix of the ``new_size`` tree with ``new_root`` (RFC 9162 2.1.4.2).

    Equal sizes need an empty proof and equal roots; old size 0 an empty proof and the
    empty root, since the empty tree is a prefix of every tree. As in
    ``root_from_inclusion`` the RFC's shifts are precomputed: after the seed (the
    subtree ending at ``old_size``, or ``old_root`` itself when ``old_size`` is a power of
    two) come one hash per level up to ``inner``, then left siblings only.
    """
    what = "consistency proof from size {} to {}"
    if not 0 <= old_size <= new_size:
        raise ProofError(what.format(old_size, new_size) + ": old size not within new size")
    if old_size == 0 or old_size == new_size:
        if proof:
            raise ProofError(what.format(old_size, new_size) + f": {len(proof)} hashes, "
                             "must be empty")
        if old_root != (EMPTY_ROOT if old_size == 0 else new_root):
            raise ProofError(what.format(old_size, new_size) + ": the old root is not " +
                             ("the empty root" if old_size == 0 else "the new root"))
        return
    shift = (old_size & -old_size).bit_length() - 1
    i = (old_size - 1) >> shift
    inner = (i ^ ((new_size - 1) >> shift)).bit_length()
    seeded = i != 0  # old_size is not a power of two
    expected = seeded + inner + (i >> inner).bit_count()
    if len(proof) != expected:
        raise ProofError(what.format(old_size, new_size) + f": {len(proof)} hashes, the "
                         f"tree shape needs {expected}")
    fr = sr = proof[0] if seeded else old_root
    node = _NODE
    for p in proof[seeded:seeded + inner]:
        if i & 1:
            h = node()
            h.update(p)
            g = h.copy()  # both roots hash 0x01 || p || ...: absorb p once
            g.update(fr)
            fr = g.digest()
            h.update(sr)
        else:
            h = node()
            h.update(sr)
            h.update(p)
        sr = h.digest()
        i >>= 1
    for p in proof[seeded + inner:]:
        h = node()
        h.update(p)
        g = h.copy()
        g.update(fr)
        fr = g.digest()
        h.update(sr)
        sr = h.digest()
    if fr != old_root or sr != new_root:
        which = "old" if fr != old_root else "new"
        raise ProofError(what.format(old_size, new_size) +
                         (_bad_sizes(proof) or f" does not lead to the {which} root"))
