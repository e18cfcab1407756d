"""A draw's committed pool kept on disk for entity proofs (SPEC.md 22), one file per draw.

An entity proof needs one leaf of the committed pool and its inclusion proof: rebuilding
the pool means replaying the log up to the commitment (about 47 s of a 40-70 s proof on a
million-entry year) and hashing every leaf, for each company that asks. So the first proof
of a draw writes its pool once, in the order committed, to
``<db>.state.bundles/pool-<commitment entry hash>.bin``: the Merkle tree's levels packed
(``MerkleTree.pack``), the USCCs and the leaf texts, each with an offset table; later
proofs map the file and read a few hundred bytes of it.

The file is the operator's own and is never trusted: every leaf and proof read from it is
checked against the commitment's ``pool.root`` and ``pool.size`` before it goes into a
proof, and a file that fails (or cannot be read) is built again from the replay.
"""

from __future__ import annotations

import bisect
import json
import logging
import mmap
import struct
from pathlib import Path
from typing import Any

from verifier._atomic import write_atomic
from verifier._draw import Snapshot
from verifier._errors import FormatError
from verifier._merkle import HASH_SIZE, MerkleTree, leaf_hash

__all__ = ["PoolFile", "cache_dir", "keep_pool", "pool_path", "write_pool"]

log = logging.getLogger("drawledger.ledger")

_MAGIC = b"drawledger-pool/1\n"


def cache_dir(ledger: Any) -> Path | None:
    """Where the ledger's bundles and pool files are kept (``<db>.state.bundles``), None
    when there is no place beside it. ``ledger`` is a ``Ledger`` (this module is below
    ledger._app's users: ledger._draws writes pools)."""
    path: Path | None = ledger.state_file
    return None if path is None else path.with_name(path.name + ".bundles")


def pool_path(ledger: Any, commit_hash: bytes) -> Path | None:
    """Where the pool of the draw committed by the entry of hash ``commit_hash`` is kept."""
    folder = cache_dir(ledger)
    return None if folder is None else folder / f"pool-{commit_hash.hex()}.bin"


def keep_pool(ledger: Any, seq: int, snapshot: Snapshot, *, missing: bool = False) -> None:
    """Write the pool of the draw committed at ``seq`` from its snapshot (with
    ``missing``, only if there is no file yet). Best effort: a file that cannot be
    written is logged, and a proof that finds none builds the evidence from the replay."""
    path = pool_path(ledger, ledger.tree.leaf(seq))
    if path is None or (missing and path.exists()):
        return
    try:
        write_pool(path, [m.uscc for m in snapshot.pool], snapshot.leaves()["pool"],
                   snapshot.excluded)
    except OSError as exc:
        log.warning("pool file %s not written: %s", path, exc)


def _table(items: list[bytes]) -> tuple[bytes, bytes]:
    """(offsets as little-endian uint64, one per item and one past the end; the items)."""
    offsets = [0]
    for item in items:
        offsets.append(offsets[-1] + len(item))
    return struct.pack(f"<{len(offsets)}Q", *offsets), b"".join(items)


def write_pool(path: Path, usccs: list[str], leaves: list[bytes], excluded: list[str]) -> None:
    """Write the pool (its members' USCCs and committed leaf texts, in USCC order) and
    the committed exclusion list."""
    tree = MerkleTree(map(leaf_hash, leaves))
    levels = tree.pack()
    u_off, u_blob = _table([u.encode() for u in usccs])
    l_off, l_blob = _table(leaves)
    parts = [b"".join(levels), u_off, u_blob, l_off, l_blob]
    header = json.dumps({"count": len(usccs), "excluded": excluded,
                         "levels": [len(x) // HASH_SIZE for x in levels],
                         "parts": [len(x) for x in parts]}).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, _MAGIC + header + b"\n" + b"".join(parts))


class PoolFile:
    """A written pool, memory-mapped: its tree, and each member's USCC and leaf text (read
    by slicing the map: no buffer is exported, so ``close`` always closes it)."""

    def __init__(self, path: Path) -> None:
        with path.open("rb") as fh:
            self._map = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            if self._map[:len(_MAGIC)] != _MAGIC:
                raise FormatError("not a pool file")
            end = self._map.find(b"\n", len(_MAGIC))
            head = json.loads(self._map[len(_MAGIC):end])
            start, self._at = end + 1, []
            for size in head["parts"]:
                self._at.append(start)
                start += int(size)
            if start != len(self._map) or len(self._at) != 5:
                raise FormatError("pool file: its parts do not fill it")
            self.count = int(head["count"])
            self.excluded = [str(u) for u in head["excluded"]]
            self.tree = MerkleTree.over(self._map, head["levels"], start=self._at[0])
            if self.tree.size != self.count or head["parts"][1] != head["parts"][3] \
                    or head["parts"][1] != 8 * (self.count + 1):
                raise FormatError("pool file: its tables disagree on the count")
        except (ValueError, KeyError, TypeError, FormatError):
            self.close()
            raise FormatError(f"{path}: not a readable pool file") from None

    def close(self) -> None:
        self._map.close()

    def _item(self, table: int, k: int) -> bytes:
        if not 0 <= k < self.count:
            raise IndexError(k)
        start, stop = struct.unpack_from("<QQ", self._map, self._at[table] + 8 * k)
        base = self._at[table + 1]
        return self._map[base + start:base + stop]

    def uscc(self, k: int) -> str:
        return self._item(1, k).decode()

    def leaf(self, k: int) -> bytes:
        return self._item(3, k)

    def index(self, code: str) -> int:
        """Where ``code`` is or would be (bisect over the USCCs, in byte order)."""
        return bisect.bisect_left(range(self.count), code, key=self.uscc)
