"""The auditor's side of sealed fields (SPEC.md 21.6): while the audit replays a v2 log,
each sealed entry is opened with its line of the auditor export's ``openings.jsonl``.

Each line is the canonical JSON ``{"fields": {...}, "salt": hex, "seq": n}`` of one sealed
entry, in increasing ``seq``. A sealed entry without its line, a line that does not open its
entry, a line for an entry that seals nothing or for no entry, and a line out of order are
findings located at the entry; the replay then goes on with the public body alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from verifier._canonical import UNSURE, dumps, fast_loads_canonical, loads_canonical
from verifier._entry import Entry
from verifier._errors import CanonicalError
from verifier._sealed import Opening, SealError, parse_opening, unseal
from verifier._state import INTEGRITY, VIOLATION, Finding

__all__ = ["Opener", "opening_line"]

# The department's own doing (it signed a body that does not follow SPEC 21); the rest
# is the internal store's, which the log checked at write time: a broken one was altered.
_VIOLATIONS = ("SEAL.clear", "SEAL.absent")


def opening_line(seq: int, opening: Opening) -> bytes:
    """One line of ``openings.jsonl`` (without its newline)."""
    return dumps({"fields": opening.fields, "salt": opening.salt.hex(), "seq": seq})


class Opener:
    """Feeds each entry's opening to the replay, in log order."""

    def __init__(self, lines: Iterable[object]) -> None:
        """``lines``: bytes each (a line over the size limit as anything else)."""
        self._lines: Iterator[object] = iter(lines)
        self._next: tuple[int, Opening | SealError] | None = None
        self._last = -1
        self._lineno = 0
        self.pending: list[Finding] = []  # about lines, not entries: reported by the caller
        self.opened = 0
        self._advance()

    def _advance(self) -> None:
        self._next = None
        for raw in self._lines:
            self._lineno += 1
            if not isinstance(raw, bytes):
                self.pending.append(Finding("SEAL.format", INTEGRITY, None,
                                            f"openings.jsonl 第 {self._lineno} 行超长",
                                            f"openings.jsonl line {self._lineno} is too long"))
                continue
            line = raw.rstrip(b"\n")
            if not line:
                continue
            try:
                obj: Any = fast_loads_canonical(line)
                if obj is UNSURE:
                    obj = loads_canonical(line)
                if type(obj) is not dict or type(obj.get("seq")) is not int \
                        or obj.keys() != {"fields", "salt", "seq"}:
                    raise SealError("SEAL.format", "须为含 fields、salt、seq 的对象",
                                    "must be an object with exactly fields, salt and seq")
                seq = obj["seq"]
                parsed: Opening | SealError = parse_opening(obj)
            except (CanonicalError, ValueError) as exc:
                zh, en = ((exc.zh, exc.en) if isinstance(exc, SealError)
                          else ("不是规范 JSON", f"not canonical JSON ({exc})"))
                self.pending.append(Finding(
                    "SEAL.format", INTEGRITY, None,
                    f"openings.jsonl 第 {self._lineno} 行：{zh}",
                    f"openings.jsonl line {self._lineno}: {en}"))
                continue
            if seq <= self._last:
                self.pending.append(Finding(
                    "SEAL.format", INTEGRITY, seq,
                    f"openings.jsonl 第 {self._lineno} 行（第 {seq} 条）重复或顺序颠倒",
                    f"openings.jsonl line {self._lineno} (entry {seq}) repeats or is out of "
                    "order"))
                continue
            self._last = seq
            self._next = (seq, parsed)
            return

    def skip_before(self, seq: int) -> None:
        """Resuming at ``seq``: the openings of earlier entries were used before."""
        while self._next is not None and self._next[0] < seq:
            self._advance()

    def _take(self, seq: int) -> tuple[Opening | None, list[Finding]]:
        out: list[Finding] = []
        while self._next is not None and self._next[0] < seq:
            out.append(_extra(self._next[0]))
            self._advance()
        if self._next is None or self._next[0] != seq:
            return None, out
        found = self._next[1]
        self._advance()
        if isinstance(found, SealError):
            out.append(Finding(found.rule, INTEGRITY, seq, f"第 {seq} 条的开启值：{found.zh}",
                               f"the opening of entry {seq}: {found.en}"))
            return None, out
        return found, out

    def open(self, seq: int, entry: Entry) -> tuple[dict[str, Any], list[Finding]]:
        """The entry's logical body (its public body if it cannot be opened) and the
        findings about its seal."""
        opening, out = self._take(seq)
        try:
            body = unseal(entry.type, entry.stream, entry.body, opening)
        except SealError as exc:
            kind = VIOLATION if exc.rule in _VIOLATIONS else INTEGRITY
            out.append(Finding(exc.rule, kind, seq, f"第 {seq} 条：{exc.zh}",
                               f"entry {seq}: {exc.en}"))
            if exc.rule == "SEAL.extra":
                return dict(entry.body), out
            return {k: v for k, v in entry.body.items() if k != "sealed"}, out
        if opening is not None:
            self.opened += 1
        return body, out

    def finish(self) -> list[Finding]:
        """Lines left over: openings of entries the log does not hold."""
        out = list(self.pending)
        self.pending.clear()
        while self._next is not None:
            out.append(_extra(self._next[0]))
            self._advance()
        return out + self.pending


def _extra(seq: int) -> Finding:
    return Finding("SEAL.extra", INTEGRITY, seq,
                   f"openings.jsonl 有第 {seq} 条的开启值，但该条目没有封存字段",
                   f"openings.jsonl holds an opening for entry {seq}, which seals nothing")
