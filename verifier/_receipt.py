"""Receipts for submitted statements (docs/SPEC.md section 18).

A receipt is what the log hands a department that submitted a statement: the exact entry
it became and a promise signed by the log key (seq range, entry hash, entry time). The
department checks it offline, keeps it, and can later hold the log to it: an export that
has no entry at the promised seq, or another one, is evidence against the log
(``V1.receipt``), because only the log key could have signed the promise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from verifier._calendar import CalendarMissing, WorkingCalendar
from verifier._canonical import canonical, loads_canonical
from verifier._entry import Entry, parse_entry
from verifier._errors import FormatError, IntegrityError
from verifier._note import NoteSigner, parse_note, sign_note, verify_note
from verifier._proof import parse_proof, verify_proof
from verifier._state import INTEGRITY, Finding
from verifier._trust import Trust

__all__ = ["PROMISE_HEADER", "RECEIPT_FORMAT", "Promise", "Receipt", "ReceiptCheck",
           "inspection_due", "make_receipt", "parse_promise", "promise_text",
           "verify_receipt"]

RECEIPT_FORMAT = "drawledger/receipt/v1"
PROMISE_HEADER = "drawledger/promise/v1"
_MEMBERS = frozenset({"format", "origin", "first", "last", "entry", "promise", "proof", "due"})
_DECIMAL = r"(0|[1-9][0-9]{0,15})"
# Line 2 starts with "origin ", never a decimal: a promise can never parse as a checkpoint
# (whose second line is the tree size), so the log key's two uses cannot be confused.
_PROMISE_RE = re.compile(
    rf"{re.escape(PROMISE_HEADER)}\norigin ([^\n]+)\nfirst {_DECIMAL}\nlast {_DECIMAL}\n"
    r"hash ([0-9a-f]{64})\ntime ([0-9T:.+-]{32})\n")
_DUE_MEMBERS = frozenset({"ended_on", "record_days", "record_by", "publish_days",
                          "publish_by"})


@dataclass(frozen=True)
class Promise:
    """What the log key signs for a submission: entries ``first..last`` are in the log,
    the last of them with entry hash ``hash`` and log time ``time``."""

    origin: str
    first: int
    last: int
    hash: bytes
    time: str

    @property
    def text(self) -> str:
        return promise_text(self.origin, self.first, self.last, self.hash, self.time)


@dataclass(frozen=True)
class Receipt:
    """A receipt that ``verify_receipt`` accepted."""

    promise: Promise
    entry: Entry
    proved: bool  # it carried a tlog-proof, and the proof verified
    due: dict[str, Any] | None


def promise_text(origin: str, first: int, last: int, entry_hash: bytes, time: str) -> str:
    """The promise's note text (SPEC 18.1), final newline included."""
    return (f"{PROMISE_HEADER}\norigin {origin}\nfirst {first}\nlast {last}\n"
            f"hash {entry_hash.hex()}\ntime {time}\n")


def parse_promise(text: str) -> Promise:
    """Parse a promise's note text strictly; FormatError says what is wrong."""
    m = _PROMISE_RE.fullmatch(text)
    if m is None:
        raise FormatError(f"promise: not the six lines of {PROMISE_HEADER}")
    first, last = int(m.group(2)), int(m.group(3))
    if first > last:
        raise FormatError(f"promise: first {first} is after last {last}")
    return Promise(m.group(1), first, last, bytes.fromhex(m.group(4)), m.group(5))


def inspection_due(ended_on: str, policy: Mapping[str, Any],
                   calendars: Mapping[int, Mapping[str, Any]]) -> dict[str, Any]:
    """The result-entry and publication deadlines of an inspection ended on ``ended_on``
    (SPEC 6.4, 16.3): the policy's n-th working day after it by the published calendars,
    None for a deadline a missing calendar year leaves unknown."""
    start = date.fromisoformat(ended_on)
    record_days = policy.get("result_entry_working_days", 3)
    publish_days = policy.get("publication_working_days", 20)
    record_days = record_days if type(record_days) is int else 3
    publish_days = publish_days if type(publish_days) is int else 20
    try:
        calendar = WorkingCalendar.from_bodies(
            {y: b for y, b in calendars.items() if start.year <= y <= start.year + 2})
    except FormatError:
        calendar = WorkingCalendar({})

    def by(n: int) -> str | None:
        try:
            return calendar.add_working_days(start, n).isoformat()
        except CalendarMissing:
            return None

    return {"ended_on": ended_on, "record_days": record_days, "record_by": by(record_days),
            "publish_days": publish_days, "publish_by": by(publish_days)}


def make_receipt(log_signer: NoteSigner, origin: str, first: int, entry: bytes,
                 due: dict[str, Any] | None = None) -> bytes:
    """The canonical receipt for entries ``first..`` whose last is ``entry`` (its exact
    bytes). Ed25519 is deterministic: the same entry always gets the same bytes."""
    parsed = parse_entry(entry)
    promise = promise_text(origin, first, parsed.seq, parsed.hash, parsed.time)
    return canonical({"format": RECEIPT_FORMAT, "origin": origin, "first": first,
                      "last": parsed.seq, "entry": entry.decode(),
                      "promise": sign_note(promise, [log_signer]), "proof": None, "due": due})


def _member(obj: dict[str, Any], name: str, kind: type) -> Any:
    value = obj[name]
    if type(value) is not kind:
        raise FormatError(f"receipt.{name}: not a {kind.__name__}")
    return value


def verify_receipt(receipt: bytes | Mapping[str, Any], trust: Trust) -> Receipt:
    """Check a receipt against the pinned log key and origin (SPEC 18.2).

    Raises FormatError (naming the member) for a malformed receipt, SignatureError when
    the promise is not signed by the log key, IntegrityError when the entry is not the
    one promised, ProofError when an attached proof fails.
    """
    obj = loads_canonical(receipt) if isinstance(receipt, bytes) else dict(receipt)
    if not isinstance(obj, dict) or set(obj) != _MEMBERS:
        raise FormatError("receipt: must be an object with exactly " + ", ".join(
            sorted(_MEMBERS)))
    if obj["format"] != RECEIPT_FORMAT:
        raise FormatError(f"receipt.format: not {RECEIPT_FORMAT}")
    origin = _member(obj, "origin", str)
    first, last = _member(obj, "first", int), _member(obj, "last", int)
    if origin != trust.origin:
        raise IntegrityError(f"receipt.origin {origin!r} is not the pinned origin "
                             f"{trust.origin!r}")
    try:
        note = parse_note(_member(obj, "promise", str))
    except FormatError as exc:
        raise FormatError(f"receipt.promise: {exc}") from None
    verify_note(note, [trust.log_key])  # SignatureError: not the log's promise
    promise = parse_promise(note.text)
    if (promise.origin, promise.first, promise.last) != (origin, first, last):
        raise IntegrityError("receipt: origin, first or last differ from the signed promise")
    try:
        entry = parse_entry(_member(obj, "entry", str).encode())
    except FormatError as exc:
        raise FormatError(f"receipt.entry: {exc}") from None
    if entry.seq != last:
        raise IntegrityError(f"receipt.entry is entry {entry.seq}, the promise names {last}")
    if entry.hash != promise.hash or entry.time != promise.time:
        raise IntegrityError("receipt.entry does not hash to the promised entry hash "
                             "(or has another time)")
    proved = False
    if obj["proof"] is not None:
        try:
            proof = parse_proof(_member(obj, "proof", str))
        except FormatError as exc:
            raise FormatError(f"receipt.proof: {exc}") from None
        if proof.index != last:
            raise IntegrityError(f"receipt.proof is for entry {proof.index}, not {last}")
        verify_proof(proof, entry.hash, trust.log_key, trust.origin, list(trust.witnesses))
        proved = True
    due = obj["due"]
    if due is not None and (not isinstance(due, dict) or set(due) != _DUE_MEMBERS):
        raise FormatError("receipt.due: null or an object with exactly " + ", ".join(
            sorted(_DUE_MEMBERS)))
    return Receipt(promise, entry, proved, due)


class ReceiptCheck:
    """The audit's hook (SPEC 9.2): each verified promise must be honoured by the export,
    an entry at ``last`` with the promised hash; anything else is integrity V1.receipt."""

    def __init__(self, promises: Sequence[tuple[str, Promise]]) -> None:
        self._by_seq: dict[int, list[tuple[str, Promise]]] = {}
        for name, promise in promises:
            self._by_seq.setdefault(promise.last, []).append((name, promise))
        self.findings: list[Finding] = []

    def see(self, seq: int, leaf: bytes) -> None:
        """The export's entry at position ``seq`` hashes to ``leaf``."""
        for name, promise in self._by_seq.pop(seq, ()):
            if leaf != promise.hash:
                self.findings.append(Finding(
                    "V1.receipt", INTEGRITY, seq,
                    f"回执 {name}：日志签名承诺第 {seq} 条的哈希为 {promise.hash.hex()[:16]}…，"
                    "导出中的该条目不同（条目被改写）",
                    f"receipt {name}: the log key promised entry {seq} with hash "
                    f"{promise.hash.hex()[:16]}..., the export holds another entry there "
                    "(rewritten)"))

    def finish(self, size: int) -> list[Finding]:
        """Promises past the export's last entry: the log dropped what it receipted."""
        for seq in sorted(self._by_seq):
            for name, _ in self._by_seq[seq]:
                self.findings.append(Finding(
                    "V1.receipt", INTEGRITY, seq,
                    f"回执 {name}：日志签名承诺了第 {seq} 条，导出只有 {size} 条（日志被截断）",
                    f"receipt {name}: the log key promised entry {seq}, the export holds "
                    f"only {size} entries (truncated)"))
        self._by_seq.clear()
        return self.findings

