"""A witness's check before it cosigns (C2SP tlog-witness v1.0.0), and its state file.

The check is pure: given the request (old size, consistency proof, checkpoint note), the
log keys the witness trusts per origin and the tree it cosigned last, it returns a
``Verdict`` carrying the tlog-witness HTTP status. The witness service (``witness/``) and
the ledger's offline tool (``drawledger witness cosign``) both call it, so a witness run by
an audit body and the local trial tool refuse exactly the same things (SPEC.md 7.6).

``WitnessState`` keeps, per origin, only (size, root) of the last tree cosigned, written
atomically (temporary file, fsync, rename, fsync of the folder), so a witness killed at
any moment restarts with the old state or the new one, never a torn one; its ``update``
runs check and save under a lock per origin, so the state only grows.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import json
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from verifier._errors import FormatError, IntegrityError, TrustError, VerifierError
from verifier._merkle import EMPTY_ROOT, verify_consistency
from verifier._note import (
    ED25519_TYPE,
    Checkpoint,
    Note,
    NoteSigner,
    NoteVerifier,
    cosign,
    parse_checkpoint,
    parse_note,
    verify_note,
)

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_PROOF_LINES",
    "AddCheckpoint",
    "StateError",
    "Tree",
    "Verdict",
    "WitnessState",
    "format_add_checkpoint",
    "judge",
    "parse_add_checkpoint",
    "witness_cosign",
]

MAX_PROOF_LINES = 63  # tlog-witness: a client sends at most 63 proof lines
MAX_BODY_BYTES = 64 * 1024  # a note of 100 signatures and 63 proof lines fit with room
_OLD_RE = re.compile(r"old (0|[1-9][0-9]{0,19})")

Tree = tuple[int, bytes]
"""(size, root) of a tree a witness cosigned."""

T = TypeVar("T")


class StateError(VerifierError):
    """A witness state file that cannot be read, written or trusted."""


@dataclass(frozen=True)
class AddCheckpoint:
    """A parsed add-checkpoint request body."""

    old_size: int
    proof: tuple[bytes, ...]
    note: Note
    checkpoint: Checkpoint
    note_text: str  # the note as sent (signature lines included)


@dataclass(frozen=True)
class Verdict:
    """The witness's answer: ``status`` is the tlog-witness HTTP status (200 cosign)."""

    status: int
    zh: str = ""
    en: str = ""
    size: int | None = None  # the witness's size, for a 409

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def message(self) -> str:
        return f"{self.zh} / {self.en}"


def _decode_hash(line: str, lineno: int) -> bytes:
    try:
        raw = base64.b64decode(line, validate=True)
    except (binascii.Error, ValueError):
        raise FormatError(f"line {lineno}: consistency proof hash is not base64") from None
    if len(raw) != 32 or base64.b64encode(raw).decode() != line:
        raise FormatError(f"line {lineno}: consistency proof hash is not 32 bytes of "
                          "canonical base64")
    return raw


def parse_add_checkpoint(body: bytes) -> AddCheckpoint:
    """Parse a request body strictly; FormatError names the line (the service's 400).

    Body: ``old <size>\\n``, up to 63 base64 hash lines, an empty line, the checkpoint
    note (which may carry several signatures).
    """
    if len(body) > MAX_BODY_BYTES:
        raise FormatError(f"body is {len(body)} bytes, over the limit of {MAX_BODY_BYTES}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = body.count(b"\n", 0, exc.start) + 1
        raise FormatError(f"line {line}: not UTF-8") from None
    head, sep, note_text = text.partition("\n\n")
    if not sep:
        raise FormatError("no empty line between the old size and proof and the checkpoint")
    lines = head.split("\n")
    if not _OLD_RE.fullmatch(lines[0]):
        raise FormatError(f"line 1: {lines[0][:40]!r} is not 'old <size>' (decimal, no "
                          "leading zeros)")
    old = int(lines[0][4:])
    if old >= 2**64:
        raise FormatError("line 1: old size is not below 2^64")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise FormatError(f"{len(lines) - 1} consistency proof lines, over the limit of "
                          f"{MAX_PROOF_LINES}")
    proof = tuple(_decode_hash(line, i) for i, line in enumerate(lines[1:], 2))
    first = len(lines) + 2  # the note's first line number in the body
    try:
        note = parse_note(note_text)
        checkpoint = parse_checkpoint(note.text)
    except FormatError as exc:
        raise FormatError(f"checkpoint (from line {first}): {exc}") from None
    return AddCheckpoint(old, proof, note, checkpoint, note_text)


def format_add_checkpoint(old_size: int, proof: Sequence[bytes], note: str) -> bytes:
    """The request body a log sends (the inverse of ``parse_add_checkpoint``)."""
    lines = [f"old {old_size}", *(base64.b64encode(h).decode() for h in proof)]
    return ("\n".join(lines) + "\n\n" + note).encode()


def judge(request: AddCheckpoint, logs: Mapping[str, Sequence[NoteVerifier]],
          last: Tree | None) -> Verdict:
    """Whether a witness whose last cosigned tree for the origin is ``last`` may cosign
    ``request`` now; the checks in tlog-witness order (SPEC.md 7.6), first failure wins.

    ``logs`` maps each origin the witness serves to the log keys it trusts for it. Pure:
    nothing is signed or saved here.
    """
    cp = request.checkpoint
    keys = logs.get(cp.origin)
    if not keys:
        return Verdict(404, f"本见证不受理日志 {cp.origin!r}",
                       f"origin {cp.origin!r}: this witness has no trusted key for it "
                       "(not a log it serves)")
    try:
        verify_note(request.note, [k for k in keys if k.sigtype == ED25519_TYPE])
    except (IntegrityError, TrustError, FormatError) as exc:
        return Verdict(403, f"日志签名未通过验证（{exc}）",
                       f"the log's signature is not trusted or does not verify: {exc}")
    old = request.old_size
    held = 0 if last is None else last[0]
    if old > cp.size:
        rolled = (f"; the log rolled back: this witness cosigned size {held}"
                  if held > cp.size else "")
        return Verdict(400, f"旧大小 {old} 大于检查点大小 {cp.size}"
                       + ("（日志回退：本见证已联署过 {held} 条）" if rolled else ""),
                       f"old size {old} is above the checkpoint's size {cp.size}{rolled}")
    if old != held:
        return Verdict(409, f"旧大小 {old} 不是本见证最后联署的大小 {held}",
                       f"old size {old} is not the size this witness last cosigned, {held}",
                       size=held)
    if old == 0 and request.proof:
        return Verdict(422, "旧大小为 0 时一致性证明必须为空",
                       f"old size 0 needs an empty consistency proof, got "
                       f"{len(request.proof)} hashes")
    if cp.size == 0 and cp.root != EMPTY_ROOT:
        return Verdict(422, "大小为 0 的检查点的根不是空树的根",
                       "a checkpoint of size 0 whose root is not the empty tree's")
    held_root = EMPTY_ROOT if last is None else last[1]
    if old == cp.size and cp.root != held_root:
        return Verdict(422, f"检查点 {cp.size} 与本见证联署过的同大小的树根不同（分叉）",
                       f"checkpoint {cp.size} has another root than the tree of that size "
                       "this witness cosigned (a fork)")
    try:
        verify_consistency(old, cp.size, held_root, cp.root, request.proof)
    except IntegrityError as exc:
        return Verdict(422, f"检查点 {cp.size} 不是本见证联署过的 {old} 条的延续（分叉）",
                       f"checkpoint {cp.size} does not extend the tree of size {old} this "
                       f"witness cosigned (a fork): {exc}")
    return Verdict(200)


def witness_cosign(state: WitnessState, request: AddCheckpoint,
                   logs: Mapping[str, Sequence[NoteVerifier]], signer: NoteSigner,
                   now: Callable[[], int]) -> tuple[Verdict, str]:
    """Judge ``request`` against ``state`` and, if it passes, save the new tree and
    cosign it at ``now()``: (verdict, cosignature line or ""). Check, save and sign run
    under the origin's lock, and the state is on disk before the line is returned."""
    cp = request.checkpoint

    def decide(last: Tree | None) -> tuple[tuple[Verdict, str], Tree | None]:
        verdict = judge(request, logs, last)
        if not verdict.ok:
            return (verdict, ""), None
        return (verdict, cosign(request.note.text, signer, now())), (cp.size, cp.root)

    if cp.origin not in logs:  # no lock (nor state) for an origin it does not serve
        return judge(request, logs, None), ""
    return state.update(cp.origin, decide)


# flock is per open file description: threads of one process take this lock first.
_PROCESS_LOCK = threading.Lock()


class WitnessState:
    """The file ``path``: per origin the (size, root) of the last tree cosigned, JSON
    ``{"<origin>": {"size": N, "root": "<hex>"}}``.

    With ``hold`` the process takes an exclusive lock on ``path.lock`` for as long as the
    object lives (a service: a second process on the same state is refused) and keeps the
    state in memory; without it every ``update`` locks the file (a command-line tool).
    ``pause(stage)`` is called mid-write (``"half"``, ``"renaming"``): tests use it to
    make a crash window real.
    """

    def __init__(self, path: Path, *, hold: bool = False,
                 pause: Callable[[str], None] | None = None) -> None:
        self.path = Path(path)
        self._pause = pause
        self._guard = threading.Lock()
        self._origin_locks: dict[str, threading.Lock] = {}
        self._held: int | None = None
        self._cache: dict[str, Tree] | None = None
        if hold:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise StateError(f"见证状态 {self.path} 正被另一个进程使用 / witness state "
                                 f"{self.path} is in use by another process") from None
            self._held = fd
            for stale in self.path.parent.glob(f".{self.path.name}.*.tmp"):
                stale.unlink()  # a write cut short: never the state
            self._cache = self.read()

    @property
    def _lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def close(self) -> None:
        """Release the lock of a held state."""
        if self._held is not None:
            os.close(self._held)
            self._held = None

    def read(self) -> dict[str, Tree]:
        """The state on disk ({} when there is no file yet); StateError when it is not
        a state file (never taken as empty: a witness that forgot would cosign a fork)."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise StateError(f"见证状态 {self.path} 无法读取 / witness state {self.path} "
                             f"cannot be read ({exc.strerror})") from None
        try:
            return _parse_state(json.loads(raw.decode("utf-8")))
        except (ValueError, TypeError, KeyError) as exc:
            raise StateError(f"见证状态 {self.path} 已损坏 / witness state {self.path} is "
                             f"not a state file ({exc})") from None

    def get(self, origin: str) -> Tree | None:
        """The last tree cosigned for ``origin``, or None."""
        return (self._cache if self._cache is not None else self.read()).get(origin)

    def update(self, origin: str, decide: Callable[[Tree | None], tuple[T, Tree | None]]
               ) -> T:
        """``decide(last)`` returns (result, new tree or None); a new tree is written
        before ``update`` returns ``result``. One origin's updates run one at a time."""
        with self._guard:
            lock = self._origin_locks.setdefault(origin, threading.Lock())
        with lock, self._process_lock():
            state = self._cache if self._cache is not None else self.read()
            result, new = decide(state.get(origin))
            if new is not None and new != state.get(origin):
                with self._guard:  # other origins' updates share the file
                    merged = dict(self._cache if self._cache is not None else state)
                    merged[origin] = new
                    self._write(merged)
                    if self._cache is not None:
                        self._cache = merged
            return result

    @contextlib.contextmanager
    def _process_lock(self) -> Iterator[None]:
        if self._held is not None:
            yield
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _PROCESS_LOCK, self._lock_path.open("a") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def _write(self, state: Mapping[str, Tree]) -> None:
        data = json.dumps({o: {"size": s, "root": r.hex()} for o, (s, r) in
                           sorted(state.items())}, indent=1, ensure_ascii=False) + "\n"
        raw = data.encode()
        tmp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                half = len(raw) // 2
                os.write(fd, raw[:half])
                if self._pause:
                    self._pause("half")
                os.write(fd, raw[half:])
                os.fsync(fd)
            finally:
                os.close(fd)
            if self._pause:
                self._pause("renaming")
            os.replace(tmp, self.path)
            dfd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError as exc:
            raise StateError(f"见证状态 {self.path} 无法写入 / witness state {self.path} "
                             f"cannot be written ({exc.strerror})") from None
        finally:
            tmp.unlink(missing_ok=True)


def _parse_state(obj: Any) -> dict[str, Tree]:
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    out: dict[str, Tree] = {}
    for origin, entry in obj.items():
        size, root = entry["size"], bytes.fromhex(entry["root"])
        if type(size) is not int or not 0 <= size < 2**64 or len(root) != 32:
            raise ValueError(f"origin {origin!r}: size or root out of range")
        out[origin] = (size, root)
    return out
