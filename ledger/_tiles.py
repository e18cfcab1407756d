"""The log as C2SP tlog-tiles (SPEC.md section 19), built from the stored entries: the
tiles the API serves and ``drawledger tiles OUT_DIR`` writes as static files.

Only the published tree (``Ledger.published_checkpoint``: cosigned by the witness
quorum) is served: a tile beyond it would let a client build proofs to a tree the
witnesses have not seen. Full tiles never change (a different full tile is a fork), so
the static writer refuses to replace one with other bytes; partial tiles are written for
the published size and left for older checkpoints' readers.
"""

from __future__ import annotations

from pathlib import Path

from ledger._app import Ledger
from ledger._errors import InputError, StorageError
from verifier import Trust
from verifier._atomic import write_atomic
from verifier._tiles import (
    CHECKPOINT_INDEX,
    TILE_HEIGHT,
    TILE_WIDTH,
    encode_bundle,
    tile_counts,
    tile_path,
)

__all__ = ["checkpoint_notes", "entry_bundle", "hash_tile", "published", "write_tiles"]


def published(ledger: Ledger) -> tuple[int, bytes, str]:
    """The published checkpoint, or InputError when there is none yet."""
    latest = ledger.published_checkpoint()
    if latest is None:
        raise InputError("no published checkpoint yet (none cosigned by the witness quorum)")
    return latest


def _available(size: int, level: int | None) -> int:
    """How many hashes (entries for None) tiles of ``level`` hold at tree size ``size``."""
    return size >> (TILE_HEIGHT * (level or 0))


def covered(size: int, level: int | None, index: int, width: int) -> bool:
    """Whether tile (``level``, ``index``, ``width``) lies within a tree of ``size``."""
    return index * TILE_WIDTH + width <= _available(size, level)


def hash_tile(ledger: Ledger, size: int, level: int, index: int, width: int) -> bytes:
    """The hashes of hash tile ``level``/``index`` (``width`` of them) of the tree at
    ``size``; the caller holds the ledger's lock and checked ``covered``."""
    if ledger.size < size:
        ledger.refresh()
    start = index * TILE_WIDTH
    return b"".join(ledger.tree.nodes(TILE_HEIGHT * level, start, start + width))


def entry_bundle(ledger: Ledger, index: int, width: int) -> bytes:
    """Entry bundle ``index``: the stored bytes of ``width`` entries."""
    start = index * TILE_WIDTH
    return encode_bundle([raw for _, raw in ledger.entries(start, start + width)])


def checkpoint_notes(ledger: Ledger, size: int) -> list[tuple[str, str]]:
    """The notes of checkpoints up to ``size`` named as in an export (SPEC.md 9.1): each
    stored note, and each cosignature added later as a note of its own, so that the audit
    of the tiles has the same witnessed times as the audit of the export."""
    trust: Trust = ledger.trust()
    notes = {n: note for n, _, note in ledger.chain.checkpoints()}
    out = [(f"{n:012d}.note", note) for n, note in notes.items() if n <= size]
    for i, (n, line) in enumerate(ledger.chain.cosignatures()):
        if n > size:
            continue
        text, _, sigs = notes[n].partition("\n\n")
        log_sigs = "".join(s + "\n" for s in sigs.splitlines()
                           if s.split(" ")[1] == trust.log_key.name)
        out.append((f"{n:012d}.{i:06d}.note", f"{text}\n\n{log_sigs}{line}"))
    return out


def _write(path: Path, data: bytes, *, once: bool = False) -> bool:
    """Write ``path`` atomically (``verifier._atomic``). ``once``: a file that exists
    must already hold ``data``. Returns whether it wrote."""
    if path.exists():
        if path.read_bytes() == data:
            return False
        if once:
            raise StorageError(f"{path} already holds other bytes: a full tile never changes "
                               "(a fork of the log, or another log's tiles in this folder)")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data)
    return True


def write_tiles(ledger: Ledger, out_dir: Path) -> dict[str, int]:
    """``drawledger tiles OUT_DIR``: the published tree as static files (SPEC.md 19.4).
    The checkpoint is written last, so a reader never gets one whose tiles are absent."""
    ledger.refresh()
    size, _, note = published(ledger)
    written = tiles = 0
    for index in range(-(-size // TILE_WIDTH)):
        width = min(TILE_WIDTH, size - index * TILE_WIDTH)
        tiles += 1
        written += _write(out_dir / tile_path(None, index, width),
                          entry_bundle(ledger, index, width), once=width == TILE_WIDTH)
    for level, count in tile_counts(size):
        for index in range(-(-count // TILE_WIDTH)):
            width = min(TILE_WIDTH, count - index * TILE_WIDTH)
            tiles += 1
            written += _write(out_dir / tile_path(level, index, width),
                              hash_tile(ledger, size, level, index, width),
                              once=width == TILE_WIDTH)
    notes = checkpoint_notes(ledger, size)
    for name, text in notes:
        _write(out_dir / "checkpoints" / name, text.encode())
    _write(out_dir / CHECKPOINT_INDEX, "".join(name + "\n" for name, _ in notes).encode())
    _write(out_dir / "trust.json", ledger.trust().canonical_bytes())
    _write(out_dir / "checkpoint", note.encode())
    return {"size": size, "tiles": tiles, "written": written, "checkpoints": len(notes)}
