"""The stateless half of the audit replay (SPEC.md 9.1), on every core.

Per line of entries.jsonl some work needs nothing but the line: the canonical decode and
the field checks (``parse_entry``), the leaf hash, whether ``prev`` is the hash of the
line before it, the SHA-256 of a batch member's statement (what its batch signature
covers), a plain statement's Ed25519 signature and the field rules that read no log
state (registry targets and inspectors). ``decode_chunk`` does that for a chunk of lines;
``records`` runs it in this process or in worker processes and hands the results back
strictly in order, so the stateful rules (``LogState``, draws, results) see the very same
records whatever the number of workers, and the report is the same byte for byte.

A worker cannot know which keys the log has registered when it reaches a line, so each
chunk carries the keys the replay knew when it was sent: a worker's "this signature
verifies" names the public key it used, and the replay relies on it only when that is
the key it resolves itself at that entry (otherwise, and for every failure, it verifies
again). Workers send back a few flags and hashes per line, not entries: pickling is most
of what a process pool costs.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from hashlib import sha256
from itertools import islice
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from verifier._bodies import stateless_errors
from verifier._canonical import codec, loads, use_codec
from verifier._entry import Entry, parse_entry, splice_statement
from verifier._errors import FormatError

__all__ = ["CHUNK", "Decoded", "decode_chunk", "entry_of", "records"]

CHUNK = 2048  # lines per task: large enough that a task's fixed cost vanishes
# A decoded line: (leaf hash, the FormatError's message or None, whether ``prev`` is the
# leaf of the line before in the same chunk, the statement digest of a batch member, the
# raw public key a plain statement's signature verified under, whether the body rules
# that read no state found nothing); None for a line the reader cut off (Oversize). The
# entry's fields themselves are not sent: decoding the line again (``entry_of``) costs
# the replay less than unpickling them would, and the workers far less than pickling.
Decoded = tuple[bytes, str | None, bool, bytes | None, bytes | None, bool] | None
_OVERSIZE_LEAF = b"\xff" * 32  # unknowable: any root over it mismatches, as it should

_public: dict[bytes, Ed25519PublicKey] = {}


def _verifies(public: bytes, message: bytes, signature: bytes) -> bool:
    key = _public.get(public)
    if key is None:
        key = _public[public] = Ed25519PublicKey.from_public_bytes(public)
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def decode_chunk(lines: list[Any], keys: dict[str, bytes], signatures: bool,
                 body_rules: bool) -> list[Decoded]:
    """Decode each line (bytes with or without its newline; anything else is a line the
    reader cut off); ``keys`` maps key names to raw public keys for the plain
    statements' signatures."""
    out: list[Decoded] = []
    prev_leaf: bytes | None = None  # the chunk's first line is linked by the replay
    for line in lines:
        if type(line) is not bytes:
            out.append(None)
            prev_leaf = _OVERSIZE_LEAF
            continue
        raw = line[:-1] if line.endswith(b"\n") else line
        try:
            e = parse_entry(raw)
        except FormatError as exc:
            prev_leaf = sha256(b"\x00" + raw).digest()
            out.append((prev_leaf, str(exc), False, None, None, False))
            continue
        digest = verified = None
        if signatures:
            sig = e.sig
            if sig["sid"].startswith("batch/"):
                digest = sha256(splice_statement(raw)).digest()
            else:
                public = keys.get(sig["key"])
                if public is not None and _verifies(public, splice_statement(raw),
                                                    e.signature()):
                    verified = public
        body_ok = False
        if body_rules:
            errors = stateless_errors(e.type, e.body)
            body_ok = errors is not None and not errors
        out.append((e.hash, None, prev_leaf is not None and e.prev == prev_leaf.hex(), digest,
                    verified, body_ok))
        prev_leaf = e.hash
    return out


def entry_of(raw: bytes, leaf: bytes, *, canonical: bool = True) -> Entry:
    """The Entry of a line ``decode_chunk`` found valid (so canonical, every field of
    its type), decoded again without the checks; ``canonical=False`` for bytes known
    valid by other means (a ledger's own entries) but not proven canonical here."""
    o = loads(raw)
    return Entry(o["seq"], o["prev"], o["time"], o["stream"], o["version"], o["type"],
                 o["actor"], o["body"], o["sig"], raw, leaf, canonical)


def _start(name: str) -> None:
    """A worker's start: the parent's codec, whatever its environment says."""
    use_codec(name)


def _context() -> Any:
    """Fork where it is the platform's safe default (Linux): workers start at once and
    share the loaded verifier; elsewhere a fresh interpreter each."""
    return multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")


def records(lines: Iterable[Any], workers: int, keys: Callable[[], dict[str, bytes]], *,
            signatures: bool, body_rules: bool) -> Iterator[tuple[Any, Decoded]]:
    """(line, decoded) for each of ``lines`` in order, using ``workers`` processes: this
    one (which goes on to replay the rules) and ``workers - 1`` decoding chunks, at most
    two chunks per worker ahead of the replay (bounded memory); with one, all here, a
    chunk at a time. ``keys()`` is asked when a chunk is sent."""
    def chunks() -> Iterator[list[Any]]:
        it = iter(lines)
        while chunk := list(islice(it, CHUNK)):
            yield chunk

    if workers <= 1:
        for chunk in chunks():
            yield from zip(chunk, decode_chunk(chunk, keys(), signatures, body_rules),
                           strict=True)
        return
    workers -= 1
    pool = ProcessPoolExecutor(workers, mp_context=_context(), initializer=_start,
                               initargs=(codec(),))
    inflight: deque[tuple[list[Any], Future[list[Decoded]]]] = deque()
    try:
        for chunk in chunks():
            inflight.append((chunk, pool.submit(decode_chunk, chunk, keys(), signatures,
                                                body_rules)))
            if len(inflight) > 2 * workers:
                done, future = inflight.popleft()
                yield from zip(done, future.result(), strict=True)
        while inflight:
            done, future = inflight.popleft()
            yield from zip(done, future.result(), strict=True)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
