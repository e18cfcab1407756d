"""A witness's own tool: cosign a log's checkpoint only if it extends what it cosigned.

Audit and supervision bodies (审计、纪检监察) run it with their own key and state file. The
witness remembers, per log origin, the size and root of the last tree it cosigned; it
cosigns a new checkpoint only when the log's signature verifies and a consistency proof
shows the new tree extends that one (the C2SP tlog-witness discipline). A different root
for the same size, a smaller tree or a proof that fails is a fork or a rollback: it
refuses and says so, and its state is unchanged. Cosigning the same tree again later
records that it was still the log's latest then (a witnessed "not before" bound).

This is the only way the ledger produces a cosignature (``Ledger.checkpoint``,
``Ledger.witness_latest``): a bare witness key never cosigns unchecked. Check, sign and
save run under an exclusive lock on the state file, so two processes cosigning at once
cannot both pass a check against the same old state.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ledger._errors import InputError, LedgerError
from verifier import (
    Checkpoint,
    NoteSigner,
    NoteVerifier,
    cosign,
    parse_checkpoint,
    parse_note,
    verify_note,
)
from verifier._errors import VerifierError
from verifier._merkle import verify_consistency

__all__ = ["ForkError", "Witness"]


class ForkError(LedgerError):
    """The log presented a tree that does not extend the one this witness cosigned."""


@dataclass
class Witness:
    """One witness key and the file where it keeps what it last cosigned."""

    signer: NoteSigner
    state_path: Path

    def last(self, origin: str) -> tuple[int, bytes] | None:
        """(size, root) of the last tree cosigned for ``origin``, or None."""
        try:
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise InputError(f"{self.state_path}: unreadable witness state ({exc})") from None
        entry = state.get(origin)
        return None if entry is None else (int(entry["size"]), bytes.fromhex(entry["root"]))

    def check(self, note: str, log_key: NoteVerifier, prove: Callable[[int], Sequence[bytes]]
              ) -> Checkpoint:
        """The checkpoint of ``note`` if this witness would cosign it now, else raises
        ForkError (a rollback or a fork) or VerifierError (the log key did not sign it).

        ``prove(old_size)`` returns the consistency proof from the last cosigned size to
        the note's size (the log serves it). Nothing is signed or saved.
        """
        parsed = parse_note(note)
        verify_note(parsed, [log_key])
        checkpoint = parse_checkpoint(parsed.text)
        last = self.last(checkpoint.origin)
        if last is None:
            return checkpoint
        size, root = last
        if checkpoint.size < size:
            raise ForkError(f"拒绝联署：日志回退到 {checkpoint.size} 条，本见证已联署过 "
                            f"{size} 条 / refused: the log rolled back to size "
                            f"{checkpoint.size}; this witness cosigned size {size}")
        try:
            if checkpoint.size == size:
                if checkpoint.root != root:
                    raise VerifierError("same size, different root")
            else:
                verify_consistency(size, checkpoint.size, root, checkpoint.root,
                                   list(prove(size)))
        except VerifierError as exc:
            raise ForkError(f"拒绝联署：检查点 {checkpoint.size} 与本见证联署过的 {size} "
                            f"不一致（分叉） / refused: checkpoint {checkpoint.size} does "
                            f"not extend the tree of size {size} this witness cosigned "
                            f"(a fork): {exc}") from None
        return checkpoint

    def cosign(self, note: str, log_key: NoteVerifier, prove: Callable[[int], Sequence[bytes]],
               now: int) -> str:
        """The cosignature line for ``note`` at unix time ``now``, after ``check``; the
        state then records the note's tree. Raises as ``check`` does, state unchanged."""
        with self._locked():
            checkpoint = self.check(note, log_key, prove)
            line = cosign(parse_note(note).text, self.signer, now)
            self._save(checkpoint.origin, checkpoint.size, checkpoint.root)
        return line

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """An exclusive lock beside the state file (another process, or another thread
        of this one, waits: both would check against the same old state)."""
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.state_path.with_name(self.state_path.name + ".lock")
        with _THREAD_LOCK, lock_path.open("a") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def _save(self, origin: str, size: int, root: bytes) -> None:
        try:
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            state = {}
        state[origin] = {"size": size, "root": root.hex()}
        tmp = self.state_path.with_name(f".{self.state_path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(state, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, self.state_path)


# flock is per open file description: threads of one process take this lock first.
_THREAD_LOCK = threading.Lock()
