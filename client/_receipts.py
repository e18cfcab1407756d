"""Receipts as the client keeps and checks them (SPEC.md section 18).

With pinned keys (``--trust``) a receipt is checked by the verifier's ``verify_receipt``:
the promise signed by the log key, the entry it names, the proof when there is one. With
none, the client still reads it but says plainly that it is unverified: a server that is
not pinned could have signed anything with a key of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from verifier import Trust, VerifierError, loads_canonical, parse_entry
from verifier._receipt import verify_receipt

__all__ = ["ReceiptError", "Seen", "check_receipt", "summary"]


class ReceiptError(Exception):
    """A receipt that is malformed or does not verify under the pinned keys."""


@dataclass(frozen=True)
class Seen:
    """What a receipt says: the entries, the last one's hash and time, the due dates."""

    first: int
    last: int
    hash: str
    time: str
    stream: str
    type: str
    due: dict[str, Any] | None
    proved: bool


def check_receipt(data: bytes, trust: Trust | None) -> Seen:
    """Read a receipt; verify it when ``trust`` is given (ReceiptError if it fails)."""
    try:
        if trust is not None:
            checked = verify_receipt(data, trust)
            entry, due, proved = checked.entry, checked.due, checked.proved
            first = checked.promise.first
        else:
            obj = loads_canonical(data)
            if not isinstance(obj, dict) or not isinstance(obj.get("entry"), str):
                raise ReceiptError("receipt: not a receipt object with an entry")
            entry = parse_entry(obj["entry"].encode())
            due = obj.get("due") if isinstance(obj.get("due"), dict) else None
            first = obj["first"] if type(obj.get("first")) is int else entry.seq
            proved = False
    except VerifierError as exc:
        raise ReceiptError(str(exc)) from None
    return Seen(first, entry.seq, entry.hash.hex(), entry.time, entry.stream, entry.type, due,
                proved)


def summary(seen: Seen, *, verified: bool) -> str:
    """The receipt in a few lines, Chinese first: where the entry is and what is due."""
    where = (f"第 {seen.first} 条 / entry {seen.first}" if seen.first == seen.last
             else f"第 {seen.first}–{seen.last} 条 / entries {seen.first}-{seen.last}")
    lines = [f"  {where}: {seen.type} {seen.stream}",
             f"  哈希 / hash {seen.hash}",
             f"  日志时间 / log time {seen.time}"]
    if seen.due:
        for days, by, zh, en in (("record_days", "record_by", "结果录入", "result entry"),
                                 ("publish_days", "publish_by", "结果公示", "publication")):
            date = seen.due.get(by) or "未知（缺少工作日历）/ unknown (no published calendar)"
            lines.append(f"  {zh}期限（{seen.due.get(days)} 个工作日）/ {en} due "
                         f"({seen.due.get(days)} working days): {date}")
    if verified:
        lines.append("  回执已核验 / receipt verified" + (
            "（含证明 / with its proof）" if seen.proved else "（日志签名承诺 / the log's signed "
            "promise; the proof follows from GET /v1/proof/SEQ）"))
    else:
        lines.append("  回执未核验：未提供 --trust，服务器未被固定 / receipt NOT verified: no "
                     "--trust, the server is not pinned")
    return "\n".join(lines)
