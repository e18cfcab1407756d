"""The log as C2SP tlog-tiles (SPEC.md section 19): paths, entry bundles, and an audit
straight from tiles.

A tile log is a tree of static files any web server or object store can carry: the
published ``checkpoint``, hash tiles ``tile/<L>/<N>[.p/<W>]`` (height 8: 256 hashes of
level ``8L``), entry bundles ``tile/entries/<N>[.p/<W>]`` holding the stored entry bytes,
and (a drawledger extension) the log's other checkpoint notes under ``checkpoints/``,
listed in ``checkpoints/index``, which the audit needs for witnessed times.

``TileReplay`` fetches the bundles one at a time and yields the entries as
``entries.jsonl`` lines, so the normal audit runs over them unchanged; meanwhile it
recomputes every hash tile from the entries and compares it with the served one, so a
tile that would mislead a client that trusts tiles (Go's ``tlog.TileHashReader``, a
browser) is a finding (``V1.tiles``) and not only a wrong proof somewhere later.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from verifier._audit import Oversize
from verifier._entry import MAX_ENTRY_BYTES, entry_hash
from verifier._errors import FormatError
from verifier._merkle import HASH_SIZE, root_of_leaf_hashes
from verifier._note import parse_checkpoint, parse_note
from verifier._state import INTEGRITY, Finding

__all__ = ["CHECKPOINT_INDEX", "MAX_BUNDLE_BYTES", "TILE_HEIGHT", "TILE_WIDTH", "TileReplay",
           "TileSource", "check_note_name", "decode_bundle", "encode_bundle", "parse_tile_path",
           "tile_checkpoints", "tile_counts", "tile_path"]

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
SHORT_MAX = 0xFFFF  # the largest entry tlog-tiles' 2-byte length prefix can carry
_LONG = b"\x00\x00"  # drawledger's long form: a length 0 never occurs (entries are not empty)
MAX_BUNDLE_BYTES = TILE_WIDTH * (len(_LONG) + 4 + MAX_ENTRY_BYTES)
MAX_SMALL_FILE = 64 * 1024  # checkpoint, one note
MAX_INDEX_BYTES = 16 * 1024 * 1024
CHECKPOINT_INDEX = "checkpoints/index"
FETCH_TIMEOUT = 10
_NOTE_NAME = re.compile(r"[0-9]{12}(\.[0-9]{6})?\.note")
_GROUP = re.compile(r"[0-9]{3}")
_NUMBER = re.compile(r"0|[1-9][0-9]*")


def _index(n: int) -> str:
    """``1234067`` -> ``x001/x234/067``: 3-digit groups, ``x`` on all but the last."""
    groups = []
    while True:
        groups.append(f"{n % 1000:03d}")
        n //= 1000
        if not n:
            break
    return "/".join([f"x{g}" for g in reversed(groups[1:])] + [groups[0]])


def tile_path(level: int | None, index: int, width: int = TILE_WIDTH) -> str:
    """The path of hash tile ``level`` (None: the entry bundle) ``index``, ``width``
    hashes or entries wide (a partial tile below 256)."""
    if not 1 <= width <= TILE_WIDTH or index < 0:
        raise FormatError(f"no tile of index {index} and width {width}")
    head = "tile/entries" if level is None else f"tile/{level}"
    tail = "" if width == TILE_WIDTH else f".p/{width}"
    return f"{head}/{_index(index)}{tail}"


def parse_tile_path(path: str) -> tuple[int | None, int, int]:
    """``(level or None for entries, index, width)`` of a canonical tile path (no
    ``tile/`` prefix): each spelling has one meaning and one meaning one spelling, so a
    cache never holds one tile under two names."""
    parts = path.split("/")
    head, parts = parts[0], parts[1:]
    if head == "entries":
        level: int | None = None
    elif _NUMBER.fullmatch(head) and int(head) < 64:
        level = int(head)
    else:
        raise FormatError(f"tile/{path}: the level is a number 0..63 or 'entries'")
    width = TILE_WIDTH
    if len(parts) >= 2 and parts[-2].endswith(".p"):
        if not _NUMBER.fullmatch(parts[-1]) or not 1 <= int(parts[-1]) < TILE_WIDTH:
            raise FormatError(f"tile/{path}: a partial width is 1..255")
        width = int(parts[-1])
        parts = [*parts[:-2], parts[-2][:-2]]
    if not parts or any(not _GROUP.fullmatch(p.removeprefix("x")) for p in parts) \
            or any(not p.startswith("x") for p in parts[:-1]) or parts[-1].startswith("x") \
            or (len(parts) > 1 and parts[0] == "x000"):
        raise FormatError(f"tile/{path}: the index is 3-digit groups, x on all but the last")
    index = int("".join(p.removeprefix("x") for p in parts))
    return level, index, width


def tile_counts(size: int) -> Iterator[tuple[int, int]]:
    """For a tree of ``size`` leaves: ``(level, number of level-8L hashes)`` of every
    level that holds one, bottom up."""
    level = 0
    while size >> (TILE_HEIGHT * level):
        yield level, size >> (TILE_HEIGHT * level)
        level += 1


def encode_bundle(entries: list[bytes]) -> bytes:
    """tlog-tiles' entry bundle: each entry behind its 2-byte big-endian length; an entry
    over 65,535 bytes behind ``00 00`` and its 4-byte length (SPEC.md 19.3)."""
    out = bytearray()
    for entry in entries:
        n = len(entry)
        if not 0 < n <= MAX_ENTRY_BYTES:
            raise FormatError(f"an entry of {n} bytes cannot be in a bundle")
        out += n.to_bytes(2, "big") if n <= SHORT_MAX else _LONG + n.to_bytes(4, "big")
        out += entry
    return bytes(out)


def decode_bundle(data: bytes, count: int) -> list[bytes]:
    """The ``count`` entries of a bundle; FormatError unless it is exactly that many in
    the one encoding ``encode_bundle`` gives (no trailing bytes, no long form for a
    short entry, nothing over the entry limit)."""
    out: list[bytes] = []
    i = 0
    for k in range(count):
        if i + 2 > len(data):
            raise FormatError(f"the bundle ends before entry {k} of {count}")
        n = int.from_bytes(data[i:i + 2], "big")
        i += 2
        if n == 0:
            if i + 4 > len(data):
                raise FormatError(f"entry {k}: the bundle ends inside its long length")
            n = int.from_bytes(data[i:i + 4], "big")
            i += 4
            if n <= SHORT_MAX or n > MAX_ENTRY_BYTES:
                raise FormatError(f"entry {k}: the long form carries {n} bytes; it is only "
                                  f"for {SHORT_MAX + 1}..{MAX_ENTRY_BYTES}")
        if i + n > len(data):
            raise FormatError(f"entry {k}: {n} bytes announced, {len(data) - i} left")
        out.append(data[i:i + n])
        i += n
    if i != len(data):
        raise FormatError(f"{len(data) - i} bytes after the {count} entries")
    return out


def check_note_name(name: str) -> str:
    """A name from ``checkpoints/index`` as the export names notes, nothing else: a
    listed ``../x`` must not read a file outside the tile directory."""
    if not _NOTE_NAME.fullmatch(name):
        raise FormatError(f"{CHECKPOINT_INDEX}: {name!r} is not a checkpoint note's name "
                          "(<12 digits>[.<6 digits>].note)")
    return name


class TileSource:
    """A tile log at an http(s) URL or in a directory: ``get(path)`` gives a file's bytes,
    None when it is not there (404), OSError when the source cannot be read at all."""

    def __init__(self, location: str) -> None:
        self.location = location
        self._url = location.rstrip("/") + "/" if location.startswith(
            ("http://", "https://")) else None
        if self._url is None and "://" in location:
            raise FormatError(f"{location}: only a directory or an http(s) URL")
        self._dir = None if self._url else Path(location)

    def get(self, path: str, limit: int) -> bytes | None:
        """At most ``limit`` bytes (one more tells the caller it was too long)."""
        if self._url is None:
            assert self._dir is not None
            file = self._dir / path
            if not file.is_file():
                return None
            with file.open("rb") as fh:
                return fh.read(limit + 1)
        try:
            with urllib.request.urlopen(self._url + path, timeout=FETCH_TIMEOUT) as response:
                data: bytes = response.read(limit + 1)
                return data
        except urllib.error.HTTPError as exc:
            if exc.code in (404, 410):
                return None
            raise


def _tile_finding(level: int | None, index: int, width: int, zh: str, en: str) -> Finding:
    span = 1 << (TILE_HEIGHT * (level or 0))
    first = index * TILE_WIDTH * span
    return Finding("V1.tiles", INTEGRITY, first, f"瓦片 {tile_path(level, index, width)}：{zh}",
                   f"tile {tile_path(level, index, width)}: {en}",
                   first + width * span - 1)


@dataclass
class TileReplay:
    """The entries of a tile log up to ``size``, rebuilt from its bundles, with every hash
    tile checked against the tree recomputed from them.

    ``before``: the leaf hashes, already known and trusted, of the first entries (a whole
    number of bundles); the replay then starts at the bundle after them, and the hash
    tiles above level 0 are still all checked against the tree they and the new entries
    give (a monitor following a log fetches only what is new)."""

    source: TileSource
    size: int
    findings: list[Finding] = field(default_factory=list)
    before: Sequence[bytes] = ()
    # level -> hashes of complete level-8L subtrees recomputed from the entries so far
    _up: dict[int, list[bytes]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        start = len(self.before)
        if start % TILE_WIDTH or start > self.size:
            raise FormatError(f"a replay starts at a whole bundle within the tree, not at "
                              f"{start} of {self.size}")
        if start:
            self._up[1] = [root_of_leaf_hashes(list(self.before[i:i + TILE_WIDTH]))
                           for i in range(0, start, TILE_WIDTH)]

    def _fetch(self, level: int | None, index: int, width: int, limit: int) -> bytes | None:
        """The tile, or the full tile it is a prefix of (a partial tile may be gone once
        full, as tlog-tiles allows); None when neither is there."""
        data = self.source.get(tile_path(level, index, width), limit)
        if data is None and width < TILE_WIDTH:
            data = self.source.get(tile_path(level, index), limit)
            if data is not None and level is not None:
                data = data[:width * HASH_SIZE]
        return data

    def _check_hashes(self, level: int, index: int, hashes: list[bytes]) -> None:
        width = len(hashes)
        served = self._fetch(level, index, width, TILE_WIDTH * HASH_SIZE)
        if served is None:
            self.findings.append(_tile_finding(level, index, width, "缺失",
                                               "missing: the checkpoint commits to it"))
        elif served != b"".join(hashes):
            self.findings.append(_tile_finding(
                level, index, width, "与由条目重算的哈希不符",
                "does not hold the hashes recomputed from the entries"))
        if width == TILE_WIDTH:
            self._up.setdefault(level + 1, []).append(root_of_leaf_hashes(hashes))

    def lines(self) -> Iterator[bytes | Oversize]:
        """The entries as ``entries.jsonl`` lines; stops at a missing or malformed bundle
        (the audit then reports the tree short of its checkpoint)."""
        for index in range(len(self.before) // TILE_WIDTH, -(-self.size // TILE_WIDTH)):
            width = min(TILE_WIDTH, self.size - index * TILE_WIDTH)
            data = self._fetch(None, index, width, MAX_BUNDLE_BYTES)
            try:
                if data is None:
                    raise FormatError("missing: the checkpoint commits to it")
                if len(data) > MAX_BUNDLE_BYTES:
                    raise FormatError(f"over {MAX_BUNDLE_BYTES} bytes")
                entries = decode_bundle(data, width)
            except FormatError as exc:
                self.findings.append(_tile_finding(None, index, width, f"无法读取：{exc}",
                                                   f"unreadable: {exc}"))
                return
            self._check_hashes(0, index, [entry_hash(e) for e in entries])
            for entry in entries:
                yield Oversize(len(entry)) if len(entry) > MAX_ENTRY_BYTES else entry + b"\n"

    def finish(self) -> list[Finding]:
        """Check the hash tiles above level 0 (after ``lines`` was read to its end)."""
        for level, count in tile_counts(self.size):
            if level == 0:
                continue
            nodes = self._up.get(level, [])
            if len(nodes) != count:
                break  # the entries stopped short: already a finding
            for index in range(-(-count // TILE_WIDTH)):
                self._check_hashes(level, index,
                                   nodes[index * TILE_WIDTH:(index + 1) * TILE_WIDTH])
        return self.findings


def tile_checkpoints(source: TileSource) -> tuple[int, list[tuple[str, bytes]], list[Finding]]:
    """The published checkpoint's size, the checkpoint notes to audit (``checkpoints/``
    as the index lists them, the ``checkpoint`` too when it carries a signature none of
    them has) and findings about notes the index lists but the source lacks.

    FormatError when the source has no ``checkpoint`` (it is not a tile log) or its index
    names a file that is not a checkpoint note."""
    head = source.get("checkpoint", MAX_SMALL_FILE)
    if head is None:
        raise FormatError(f"{source.location}: no checkpoint there, not a tile log")
    index = source.get(CHECKPOINT_INDEX, MAX_INDEX_BYTES) or b""
    if len(index) > MAX_INDEX_BYTES:
        raise FormatError(f"{CHECKPOINT_INDEX}: over {MAX_INDEX_BYTES} bytes")
    notes: list[tuple[str, bytes]] = []
    findings: list[Finding] = []
    for line in index.decode("utf-8", "replace").splitlines():
        name = check_note_name(line)
        data = source.get(f"checkpoints/{name}", MAX_SMALL_FILE)
        if data is None:
            findings.append(Finding("V1.tiles", INTEGRITY, None,
                                    f"{CHECKPOINT_INDEX} 列出的 checkpoints/{name} 缺失",
                                    f"checkpoints/{name}, listed in {CHECKPOINT_INDEX}, is "
                                    "missing"))
            continue
        notes.append((name, data))
    try:
        note = parse_note(head)
        size = parse_checkpoint(note.text).size
    except FormatError:
        return 0, [*notes, ("checkpoint", head)], findings  # the audit says it is malformed
    known = {line for name, data in notes for line in _signature_lines(data, note.text)}
    if any(sig.line not in known for sig in note.signatures):
        notes.append(("checkpoint", head))
    return size, notes, findings


def _signature_lines(data: bytes, text: str) -> list[str]:
    """The signature lines of a note over ``text`` (none when it is over another text)."""
    try:
        other = parse_note(data)
    except FormatError:
        return []
    return [sig.line for sig in other.signatures] if other.text == text else []
