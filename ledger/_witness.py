"""A witness's own tool: cosign a log's checkpoint only if it extends what it cosigned.

Audit and supervision bodies (审计、纪检监察) run it with their own key and state file. The
check is the verifier's (``verifier._witness.judge``, the C2SP tlog-witness rules the
witness service ``python -m witness serve`` applies too): the log's signature verifies and
a consistency proof shows the new tree extends the one the witness cosigned last. A
different root for the same size, a smaller tree or a proof that fails is a fork or a
rollback: it refuses and says so, and its state is unchanged. Cosigning the same tree
again later records that it was still the log's latest then (a witnessed "not before"
bound).

This is the only way the ledger produces a cosignature (``Ledger.checkpoint``,
``Ledger.witness_latest``): a bare witness key never cosigns unchecked. Check, sign and
save run under an exclusive lock on the state file (``verifier._witness.WitnessState``),
so two processes cosigning at once cannot both pass a check against the same old state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ledger._errors import InputError, LedgerError
from verifier import Checkpoint, NoteSigner, NoteVerifier, parse_checkpoint, parse_note
from verifier._errors import SignatureError
from verifier._witness import (
    AddCheckpoint,
    StateError,
    Verdict,
    WitnessState,
    judge,
    witness_cosign,
)

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
            return WitnessState(self.state_path).get(origin)
        except StateError as exc:
            raise InputError(str(exc)) from None

    def _request(self, note: str, prove: Callable[[int], Sequence[bytes]]) -> AddCheckpoint:
        """The add-checkpoint request the log would send this witness: from the size it
        holds (so a rollback shows as an old size above the checkpoint's)."""
        parsed = parse_note(note)
        checkpoint = parse_checkpoint(parsed.text)
        last = self.last(checkpoint.origin)
        old = 0 if last is None else last[0]
        proof = tuple(prove(old)) if 0 < old < checkpoint.size else ()
        return AddCheckpoint(old, proof, parsed, checkpoint, note)

    def check(self, note: str, log_key: NoteVerifier, prove: Callable[[int], Sequence[bytes]]
              ) -> Checkpoint:
        """The checkpoint of ``note`` if this witness would cosign it now, else raises
        ForkError (a rollback or a fork) or SignatureError (the log key did not sign it).

        ``prove(old_size)`` returns the consistency proof from the last cosigned size to
        the note's size (the log serves it). Nothing is signed or saved.
        """
        request = self._request(note, prove)
        _raise(judge(request, _logs(log_key), self.last(request.checkpoint.origin)))
        return request.checkpoint

    def cosign(self, note: str, log_key: NoteVerifier, prove: Callable[[int], Sequence[bytes]],
               now: int) -> str:
        """The cosignature line for ``note`` at unix time ``now``, after ``check``; the
        state then records the note's tree. Raises as ``check`` does, state unchanged."""
        for _ in range(3):
            request = self._request(note, prove)
            try:
                verdict, line = witness_cosign(WitnessState(self.state_path), request,
                                               _logs(log_key), self.signer, lambda: now)
            except StateError as exc:
                raise InputError(str(exc)) from None
            if verdict.status != 409:
                break
            # Another process cosigned between reading the state and taking its lock (the
            # state only grows): ask again from the size the witness holds now.
        _raise(verdict)
        return line


def _logs(log_key: NoteVerifier) -> dict[str, list[NoteVerifier]]:
    return {log_key.name: [log_key]}  # the log key's name is its origin (SPEC.md 5.1)


def _raise(verdict: Verdict) -> None:
    if verdict.ok:
        return
    if verdict.status in (403, 404):
        raise SignatureError(verdict.en)
    raise ForkError(f"拒绝联署：{verdict.zh} / refused: {verdict.en}")
