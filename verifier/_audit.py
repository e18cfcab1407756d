"""The audit replay of an export (SPEC.md section 9), as a numbered checklist.

For every line of ``entries.jsonl``, in order:

1. the line is UTF-8, terminated, within the size limit and canonical JSON (V1.format);
2. ``seq`` is the line's position, with no gap, repeat or reordering (V1.seq);
3. ``prev`` is the hash of the entry before (V1.chain);
4. ``time`` never goes backwards (V1.time);
5. the statement is allowed: known type and body, stream and version discipline, a key that
   is registered and not revoked at that entry, the right role, no replayed statement id
   (verifier._state); its signature verifies (V1.signature, optional for benchmarks);
6. the Merkle root of the entries so far equals the root of every checkpoint of that size
   (V1.checkpoint), and every checkpoint verifies under the pinned log key.

Checkpoints brought from outside the export (``outside``: a note fetched from the API or a
witness) are checked the same way, so a log that drops its tail together with the
checkpoints covering it is still caught (V1.truncated). Entries that no checkpoint
cosigned by the pinned quorum covers are reported (V1.unwitnessed): the log key alone could
rewrite them. Deadlines that need "by now" are judged at the audit's ``now``, not at the
last entry's time, which a truncation also moves.

The core takes lines and checkpoint bytes, never paths, and never raises on bad data: every
problem becomes a Finding, so a tampered export yields a report, not a traceback.
"""

from __future__ import annotations

import base64
import functools
import gc
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, ParamSpec, TypeVar

from verifier._cosigntime import COSIGNATURE_SKEW, Cosigned, implausible
from verifier._deadlines import PlanTracker
from verifier._drawaudit import DrawAuditor
from verifier._entry import GENESIS_PREV, MAX_ENTRY_BYTES, Entry
from verifier._errors import FormatError, VerifierError
from verifier._grouping import Signers, attribute, causes, groups, signer_dept
from verifier._merkle import RootAccumulator
from verifier._note import (
    Checkpoint,
    parse_checkpoint,
    parse_note,
    verify_cosignatures,
    verify_note,
)
from verifier._opener import Opener
from verifier._pipeline import entry_of, records
from verifier._receipt import Promise, ReceiptCheck
from verifier._resultaudit import ResultAuditor
from verifier._resume import AuditState, StateError, dumps, loads, trust_id
from verifier._sealed import SPEC_V2
from verifier._state import INTEGRITY, TYPE_RULES, UNVERIFIABLE, Finding, LogState
from verifier._trust import Trust
from verifier._version import version_info

__all__ = ["COSIGNATURE_SKEW", "EXIT_CLEAN", "EXIT_INTEGRITY", "EXIT_UNVERIFIABLE",
           "EXIT_USAGE", "EXIT_VIOLATION", "Oversize", "Report", "audit"]

# Entries that findings made at the end of the replay may name (kept seq -> department).
_LATER = frozenset({"plan.filed", "plan.amended", "draw.committed", "draw.executed",
                    "inspection.completed", "result.recorded"})
_MEMBER_KINDS = ("target.", "inspector.", "conflict.")  # LogState.apply_clean_member's
# The types whose body rules a worker may judge (verifier._bodies.stateless_errors).
_STATELESS_TYPES = frozenset(t for t in TYPE_RULES if t.startswith(("target.", "inspector.")))
EXIT_CLEAN = 0
EXIT_VIOLATION = 1
EXIT_INTEGRITY = 2
EXIT_UNVERIFIABLE = 3
EXIT_USAGE = 64
_SHANGHAI = timezone(timedelta(hours=8))


@dataclass(frozen=True)
class Oversize:
    """A line the reader cut off because it exceeds the entry size limit."""

    length: int


@dataclass
class Report:
    """What an audit found; ``exit_code`` maps it to the documented exit status."""

    entries: int = 0
    checkpoints: int = 0
    checkpoints_verified: int = 0
    signatures_checked: int = 0
    cosignatures: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    dropped: int = 0  # findings beyond the cap, counted but not kept
    draws: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    departments: dict[str, dict[str, Any]] = field(default_factory=dict)
    statistics: dict[str, Any] = field(default_factory=dict)
    # checkpoint size -> unix time by which a quorum of trusted witnesses cosigned it, and
    # the latest time a quorum cosigned it (still the log's latest tree then)
    witnessed: dict[int, int] = field(default_factory=dict)
    still_latest: dict[int, int] = field(default_factory=dict)
    checkpoints_outside: int = 0  # of ``checkpoints``, how many came from outside the export
    # The time "not yet done" is judged at (unix seconds), how it was obtained ("given",
    # "witnessed" or "last_entry") and from which checkpoint when witnessed.
    now: int | None = None
    now_basis: str | None = None
    now_source: str | None = None
    # The largest checkpoint that verified and matched the replayed tree.
    relied_on: dict[str, Any] | None = None
    # With ``save``: the replay state at the last verified checkpoint (verifier._resume).
    state: AuditState | None = None

    def not_before(self, seq: int) -> int | None:
        """Witnessed lower bound of an entry's time: a quorum cosigned a tree without it."""
        times = [t for size, t in self.still_latest.items() if size <= seq]
        return max(times) if times else None

    def not_after(self, seq: int) -> int | None:
        """Witnessed upper bound: the earliest quorum cosignature of a tree holding it."""
        times = [t for size, t in self.witnessed.items() if size > seq]
        return min(times) if times else None
    max_findings: int = 1000

    def add(self, finding: Finding) -> None:
        if len(self.findings) < self.max_findings:
            self.findings.append(finding)
        else:
            self.dropped += 1

    def count(self, kind: str) -> int:
        return sum(1 for f in self.findings if f.kind == kind)

    @property
    def exit_code(self) -> int:
        kinds = {f.kind for f in self.findings}
        if INTEGRITY in kinds:
            return EXIT_INTEGRITY
        if UNVERIFIABLE in kinds:
            return EXIT_UNVERIFIABLE
        return EXIT_VIOLATION if kinds else EXIT_CLEAN

    def to_json(self) -> dict[str, Any]:
        cause = causes(self.findings)  # SPEC.md 9.3: consequences name their cause
        return {
            "exit_code": self.exit_code,
            "verifier": version_info(),
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "checkpoints_verified": self.checkpoints_verified,
            "signatures_checked": self.signatures_checked,
            "checkpoints_outside": self.checkpoints_outside,
            "cosignatures": self.cosignatures,
            "now": {"time": _iso(self.now), "basis": self.now_basis,
                    "source": self.now_source},
            "relied_on": self.relied_on,
            "findings": [f.to_json() if c is None else {**f.to_json(), "cause": c}
                         for f, c in zip(self.findings, cause, strict=True)],
            "groups": groups(cause),
            "findings_not_shown": self.dropped,
            "draws": self.draws,
            "results": self.results,
            "departments": self.departments,
            "statistics": self.statistics,
        }


def _finding(rule: str, seq: int | None, zh: str, en: str, kind: str = INTEGRITY,
             seq_end: int | None = None) -> Finding:
    return Finding(rule, kind, seq, zh, en, seq_end)


def _iso(t: float | None) -> str | None:
    """A unix time as an Asia/Shanghai RFC 3339 time, as entry times are written."""
    return None if t is None else datetime.fromtimestamp(int(t), _SHANGHAI).isoformat()


@dataclass
class _Checkpoint:
    name: str  # the export's file name, or the --checkpoint argument it came from
    checkpoint: Checkpoint
    outside: bool = False
    # pinned witness -> cosignature time, only the cosignatures kept as evidence (7.3)
    cosigned: dict[str, int] = field(default_factory=dict)
    matched: bool = False  # its root equals the replayed tree's at its size


def _load_checkpoints(files: Sequence[tuple[str, bytes]], trust: Trust | None,
                      report: Report, *, outside: bool = False) -> list[_Checkpoint]:
    """Parse and verify every checkpoint note; bad ones become findings."""
    out: list[_Checkpoint] = []
    for name, data in files:
        report.checkpoints += 1
        report.checkpoints_outside += outside
        try:
            note = parse_note(data)
            checkpoint = parse_checkpoint(note.text)
        except FormatError as exc:
            report.add(_finding("V1.checkpoint", None, f"检查点 {name} 格式错误：{exc}",
                                f"checkpoint {name} is malformed: {exc}"))
            continue
        cosigned: dict[str, int] = {}
        if trust is not None:
            try:
                verify_note(note, [trust.log_key])
            except VerifierError as exc:
                last = checkpoint.size - 1 if checkpoint.size else None
                report.add(_finding("V1.checkpoint", last, f"检查点 {name} 的日志签名无效：{exc}",
                                    f"checkpoint {name} is not signed by the pinned log key: "
                                    f"{exc}"))
                continue
            if checkpoint.origin != trust.origin:
                report.add(_finding("V1.checkpoint", None,
                                    f"检查点 {name} 的来源 {checkpoint.origin} 不是 {trust.origin}",
                                    f"checkpoint {name} origin {checkpoint.origin!r} is not the "
                                    f"pinned {trust.origin!r}"))
                continue
            try:
                cosigned = verify_cosignatures(note, list(trust.witnesses))
            except VerifierError as exc:
                report.add(_finding("V1.cosignature", None, f"检查点 {name} 的见证签名无效：{exc}",
                                    f"checkpoint {name} carries a bad witness cosignature: {exc}"))
                continue
            report.checkpoints_verified += 1
        out.append(_Checkpoint(name, checkpoint, outside, cosigned))
    return out


def _forks(checkpoints: list[_Checkpoint], report: Report) -> None:
    """The log must never sign two different trees of the same size (a fork)."""
    by_size: dict[int, _Checkpoint] = {}
    for cp in checkpoints:
        seen = by_size.setdefault(cp.checkpoint.size, cp)
        if seen.checkpoint.root != cp.checkpoint.root:
            report.add(_finding("V1.fork", cp.checkpoint.size - 1,
                                f"检查点 {seen.name} 与 {cp.name} 规模相同但根哈希不同（分叉）",
                                f"checkpoints {seen.name} and {cp.name} have the same size "
                                "and different roots (a fork)"))


def _cosignature_times(checkpoints: list[_Checkpoint], trust: Trust | None, limit: float,
                       report: Report) -> dict[int, str]:
    """Drop the cosignatures whose time cannot be true (V1.cosignature_time), then derive
    each tree's witnessed times from the rest (SPEC.md 7.3, 16.5).

    A time after the audit's now (plus the skew) is from the future. A witness that keeps
    its state (7.5) never cosigns a smaller tree after a bigger one, so a cosignature of a
    smaller tree dated strictly after the same witness cosigned a bigger one contradicts
    the witness's own order; it is the one that broke the rule and is not evidence.
    Returns, per tree size, the note whose cosignature gives its ``still_latest`` time.
    """
    if trust is None:
        return {}
    notes = {cp.name: cp for cp in checkpoints}
    for c, bigger in implausible((Cosigned(witness, cp.checkpoint.size, t, cp.name)
                                  for cp in checkpoints
                                  for witness, t in sorted(cp.cosigned.items())), limit):
        notes[c.name].cosigned.pop(c.witness, None)
        if bigger is None:
            report.add(_finding(
                "V1.cosignature_time", None,
                f"检查点 {c.name} 上见证 {c.witness} 的联署时间 {_iso(c.time)} 晚于审计时间 "
                f"{_iso(limit - COSIGNATURE_SKEW)}（允许误差 {COSIGNATURE_SKEW} 秒）："
                "来自未来的时间不可信，不作为证据",
                f"checkpoint {c.name}: witness {c.witness}'s cosignature is dated "
                f"{_iso(c.time)}, after the audit's now {_iso(limit - COSIGNATURE_SKEW)} (plus "
                f"{COSIGNATURE_SKEW} s of clock skew): a time from the future, not used as "
                "evidence"))
        else:
            report.add(_finding(
                "V1.cosignature_time", None,
                f"见证 {c.witness} 于 {_iso(c.time)} 联署了 {c.size} 条的检查点 {c.name}，"
                f"但已于更早的 {_iso(bigger.time)} 联署了更大的 {bigger.size} 条的检查点 "
                f"{bigger.name}：见证不会在联署较大的树之后再联署较小的树，此联署时间"
                "自相矛盾，不作为证据",
                f"witness {c.witness} cosigned the {c.size}-entry checkpoint {c.name} at "
                f"{_iso(c.time)}, after cosigning the bigger {bigger.size}-entry checkpoint "
                f"{bigger.name} at {_iso(bigger.time)}: a witness never cosigns a "
                "smaller tree after a bigger one, so this time contradicts the witness's "
                "own order and is not used as evidence"))
    # Per tree: by when a quorum of witnesses had cosigned it (its entries are not later:
    # each witness's first cosignature), and until when a quorum still cosigned it as the
    # latest (later entries are not earlier: each witness's last one).
    cosigns: dict[int, dict[str, tuple[int, int, str]]] = {}  # size -> witness -> times
    for cp in checkpoints:
        by_witness_times = cosigns.setdefault(cp.checkpoint.size, {})
        for witness, t in cp.cosigned.items():
            report.cosignatures[witness] = max(report.cosignatures.get(witness, 0), t)
            first, last, name = by_witness_times.get(witness, (t, t, cp.name))
            by_witness_times[witness] = (min(first, t), *max((last, name), (t, cp.name)))
    q = trust.quorum
    sources: dict[int, str] = {}
    for size, times in cosigns.items():
        if q and len(times) >= q:
            report.witnessed[size] = sorted(first for first, _, _ in times.values())[q - 1]
            report.still_latest[size], sources[size] = sorted(
                ((last, name) for _, last, name in times.values()), reverse=True)[q - 1]
    return sources


P = ParamSpec("P")
R = TypeVar("R")


def _long_lived(fn: Callable[P, R]) -> Callable[P, R]:
    """The replay's state lives until the audit ends: at each verified checkpoint it is
    moved out of the collector's reach (``gc.freeze``), so the collector stops rescanning a
    registry of a million objects (6 % of the 1M year's audit, more when resuming); when
    the audit ends it is handed back, unless the caller had frozen objects itself."""
    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        frozen = gc.get_freeze_count()
        try:
            return fn(*args, **kwargs)
        finally:
            if not frozen:
                gc.unfreeze()
    return run


@_long_lived
def audit(lines: Iterable[bytes | Oversize], checkpoint_files: Sequence[tuple[str, bytes]],
          trust: Trust | None, *, signatures: bool = True, body_rules: bool = True,
          max_findings: int = 1000, workers: int = 0,
          outside: Sequence[tuple[str, bytes]] = (), now: datetime | None = None,
          clock: float | None = None, receipts: Sequence[tuple[str, Promise]] = (),
          resume: AuditState | None = None, save: bool = False, expect: int | None = None,
          openings: Iterable[object] | None = None) -> Report:
    """Replay an export: ``lines`` as read from entries.jsonl (each with its newline).

    ``outside`` holds (source, note bytes) of checkpoints obtained elsewhere (the API, a
    witness), checked like the export's own. ``now`` is the time completeness is judged
    at (default: the latest time a quorum of witnesses cosigned, or the last entry's time
    when later); cosignatures dated after it, or after ``clock`` (default this machine's
    clock) when it is not given, are not evidence. ``receipts`` holds (name, promise) of
    receipts already verified under the trust policy: each must be honoured (V1.receipt).

    ``signatures=False`` skips statement signatures and ``body_rules=False`` the field
    rules of section 6.3: each leaves the audit incomplete, which the report says.
    ``workers`` > 1 uses that many processes: ``workers - 1`` decode, hash and check the
    signatures of the lines (verifier._pipeline) while this one replays the rules in
    order; the report is the same for every number of workers.

    Incremental (SPEC.md 9.4): ``save`` puts in ``report.state`` the replay state at the
    last checkpoint that matched; ``resume`` continues such a state, ``lines`` then being
    the lines after its ``offset``. A state that does not fit this log or these options
    raises StateError (nothing trusted).

    ``openings``: the lines of an auditor export's ``openings.jsonl`` (SPEC.md 21.6). A v2
    log audited without them has its sealed fields unknown: the rules about them and the
    draws' snapshots and matching are not checked, which the report says.
    """
    if resume is not None and receipts:
        raise StateError("--receipt 不能与 --state 同用：状态之前的条目不再重读",
                         "--receipt cannot be used with --state: the entries before the "
                         "state are not read again; audit without --state")
    report = Report(max_findings=max_findings)
    if save:
        report.state = resume  # still the last verified point until a newer one matches
    if trust is None:
        report.add(_finding("TRUST", None,
                            "未提供信任策略：签名只能对照日志自称的密钥核对，结论不可信",
                            "no trust policy given: keys come from the log itself, so nothing "
                            "is verified against a pinned key", UNVERIFIABLE))
    if not signatures:
        report.add(_finding("V1.signature", None, "未核对声明签名（--no-signatures）",
                            "statement signatures were not checked (--no-signatures)",
                            UNVERIFIABLE))
    pending = (_load_checkpoints(checkpoint_files, trust, report)
               + _load_checkpoints(outside, trust, report, outside=True))
    if not checkpoint_files and not outside:
        report.add(_finding("V1.checkpoint", None, "导出中没有签名检查点，条目未被锚定",
                            "the export holds no signed checkpoint: no entry is anchored",
                            UNVERIFIABLE))
    _forks(pending, report)
    limit = (now.timestamp() if now is not None else time.time() if clock is None
             else clock) + COSIGNATURE_SKEW
    now_sources = _cosignature_times(pending, trust, limit, report)
    pending.sort(key=lambda c: c.checkpoint.size)
    save_from = 0 if expect is None else max(
        (c.checkpoint.size for c in pending if c.checkpoint.size <= expect), default=0)
    state = LogState()
    if not body_rules:
        state.body_check = None
        report.add(_finding("AUTH.body", None, "未核对事件内容的字段规则（--no-body-rules）",
                            "the field rules of event bodies were not checked "
                            "(--no-body-rules)", UNVERIFIABLE))
    plans = PlanTracker()
    chains = trust.chains() if trust is not None else Trust.builtin_chains()
    draws = DrawAuditor(chains)
    results = ResultAuditor()
    actors: dict[int, str] = {}  # seq -> department, for entries findings may name
    signers = Signers()  # seq -> the signing key's department, for integrity findings
    acc = RootAccumulator()
    prev = bytes.fromhex(GENESIS_PREV)
    last_time = ""
    expected = 0  # the seq the next line should carry
    next_cp = 0  # index into pending of the next checkpoint to compare
    verified_from = 0  # size of the last checkpoint whose root matched
    honoured = ReceiptCheck(receipts)
    roots: dict[int, bytes] = {}  # size -> root of each checkpoint that matched
    replay_mark, dropped_mark = len(report.findings), report.dropped
    offset = 0  # bytes of entries.jsonl read
    opener = Opener(openings) if openings is not None else None
    if resume is not None:
        saved = _resumed(resume, trust, _options(signatures, body_rules, opener), pending,
                         report)
        (state, plans, draws, results, actors, signers, acc, prev, last_time, expected,
         verified_from, roots) = saved
        draws.chains = chains
        offset = resume.offset
        gc.freeze()
        while next_cp < len(pending) and pending[next_cp].checkpoint.size <= acc.size:
            cp = pending[next_cp]
            next_cp += 1
            _old_checkpoint(cp, roots, acc.size, report)
        if opener is not None:
            opener.skip_before(acc.size)
    keys: dict[str, bytes] = {}

    def known_keys() -> dict[str, bytes]:
        """The keys registered so far, for the plain signatures of the next chunk."""
        if len(keys) != len(state.keys):
            keys.update((name, k.verifier.public_key) for name, k in state.keys.items())
        return keys
    decoded = records(lines, workers, known_keys, signatures=signatures,
                      body_rules=body_rules)
    for lineno, (line, record) in enumerate(decoded, start=report.entries + 1):
        report.entries += 1
        offset += line.length if isinstance(line, Oversize) else len(line)
        seq = expected
        entry: Entry | None = None
        if record is None:
            report.add(_finding("V1.format", seq, f"第 {lineno} 行长 {line.length} 字节，超过上限",
                                f"line {lineno} is {line.length} bytes, over the "
                                f"{MAX_ENTRY_BYTES}-byte limit"))
            leaf = b"\xff" * 32  # unknowable: any root over it will mismatch, as it should
        else:
            leaf, error, linked, digest, verified, body_ok = record
            if not line.endswith(b"\n"):
                report.add(_finding("V1.format", seq,
                                    f"第 {lineno} 行没有换行符结尾（文件被截断？）",
                                    f"line {lineno} is not newline-terminated (truncated file?)"))
            if error is not None:
                report.add(_finding("V1.format", seq, f"第 {lineno} 行不是合规条目：{error}",
                                    f"line {lineno} is not a valid entry: {error}"))
            else:
                entry = entry_of(line[:-1] if line.endswith(b"\n") else line, leaf)
        if entry is not None:
            if entry.seq != expected:
                report.add(_finding("V1.seq", expected,
                                    f"第 {lineno} 行应为第 {expected} 条，实为第 {entry.seq} 条"
                                    "（条目缺失、重复或顺序被调换）",
                                    f"line {lineno} should hold entry {expected} but holds "
                                    f"{entry.seq} (an entry was dropped, repeated or moved)"))
                seq = entry.seq
            elif not linked and entry.prev != prev.hex():
                # A broken link implicates the entry before it: its bytes no longer hash to
                # what its successor recorded.
                report.add(_finding("V1.chain", expected - 1,
                                    f"第 {expected - 1} 条的哈希与第 {expected} 条记录的 prev 不符"
                                    "（内容被改动或插入了条目）",
                                    f"entry {expected - 1} does not hash to the prev recorded by "
                                    f"entry {expected} (altered or inserted)"))
            if entry.time < last_time:
                report.add(_finding("V1.time", seq, f"第 {seq} 条的时间早于前一条",
                                    f"entry {seq} is timed before the entry preceding it"))
            else:
                last_time = entry.time
            if opener is not None and state.spec >= SPEC_V2 and seq > 0 and entry.canonical:
                body, sealing = opener.open(seq, entry)
                for finding in sealing:
                    report.add(finding)
                entry = replace(entry, body=body)
                body_ok = False  # the workers judged the sealed body, not this one
            if entry.type in ("target.updated", "target.removed"):
                draws.before(seq, entry.type, entry.body, entry.time, state)
            mark = len(report.findings)
            if entry.actor != "authority" and entry.type in _LATER:
                actors[seq] = entry.actor
            authorised = _statement(state, entry, seq, signatures, trust, report, digest,
                                    verified, body_ok)
            signers.note(seq, signer_dept(state, entry))
            for finding in (_judge(entry, seq, state, plans, draws, results) if authorised
                            else ()):
                report.add(finding)
            if entry.actor != "authority":
                for i in range(mark, len(report.findings)):
                    f = report.findings[i]
                    if f.dept is None and f.seq == seq:
                        report.findings[i] = replace(f, dept=entry.actor)
            expected = seq + 1
            if seq == 0 and state.spec >= SPEC_V2 and opener is None:
                state.unopened, draws.opened = True, False
                report.add(_finding(
                    "SEAL.unopened", None,
                    "本日志（规范第 2 版）的内部字段已封存，未提供开启值（审计导出的 "
                    "openings.jsonl）：这些字段的规则、抽取的对象池与人员匹配未核对",
                    "this log (SPEC v2) seals its internal fields and no openings were given "
                    "(the auditor export's openings.jsonl): the rules of those fields and the "
                    "draws' pools and matching were not checked", UNVERIFIABLE))
        else:
            expected += 1
        prev = leaf
        honoured.see(acc.size, leaf)
        acc.append(leaf)
        while next_cp < len(pending) and pending[next_cp].checkpoint.size == acc.size:
            cp = pending[next_cp]
            next_cp += 1
            if acc.root() == cp.checkpoint.root:
                verified_from = acc.size
                cp.matched = True
                roots[acc.size] = cp.checkpoint.root
            else:
                report.add(_finding(
                    "V1.checkpoint", verified_from,
                    f"检查点 {cp.name} 的根哈希与重算结果不符；若该检查点属实，差异在第 "
                    f"{verified_from}..{acc.size - 1} 条之间，否则是日志签发了分叉的历史",
                    f"checkpoint {cp.name} root differs from the root recomputed over the "
                    f"entries; if the checkpoint is genuine the difference lies in entries "
                    f"{verified_from}..{acc.size - 1}, otherwise the log signed a fork",
                    seq_end=acc.size - 1))
        if verified_from == acc.size and acc.size in roots:  # at a verified checkpoint
            if save and state.batch is None and acc.size >= save_from:
                # Between statements: a point the next run resumes at.
                report.state = AuditState(
                    acc.size, roots[acc.size], state.origin, trust_id(trust),
                    _options(signatures, body_rules, opener), offset,
                    dumps((state, plans, draws, results, actors, signers, acc, prev,
                           last_time, expected, verified_from, roots, report.entries,
                           report.findings[replay_mark:], report.dropped - dropped_mark)))
            gc.freeze()
        while next_cp < len(pending) and pending[next_cp].checkpoint.size < acc.size:
            next_cp += 1  # size 0 checkpoints
    for finding in [*state.finish(), *honoured.finish(acc.size),
                    *(opener.finish() if opener is not None else ())]:
        report.add(finding)
    judged_at = _judged_at(report, now, last_time, now_sources)
    for finding in plans.finish(state, judged_at):
        report.add(finding)
    for finding in draws.finish(state, judged_at):
        report.add(finding)
    for finding in results.finish(state, judged_at):
        report.add(finding)
    report.draws = draws.stats.to_json()
    report.statistics, unusual = draws.year.finish(draws.stats.voided, draws.stats.substituted)
    for finding in unusual:
        report.add(finding)
    report.departments = _departments(state, plans, draws, results, report)
    _evidence(report)
    # Every finding about a department's entry names the department.
    for i, f in enumerate(report.findings):
        if f.dept is None and f.seq is not None and f.seq in actors:
            report.findings[i] = replace(f, dept=actors[f.seq])
    report.results = results.stats()
    report.signatures_checked = state.signatures_checked
    if report.entries == 0:
        report.add(_finding("V1.genesis", 0, "导出中没有任何条目", "the export holds no entries"))
    for cp in pending[next_cp:]:
        report.add(_finding("V1.truncated", acc.size,
                            f"检查点 {cp.name} 覆盖 {cp.checkpoint.size} 条，但导出只有 "
                            f"{acc.size} 条（尾部被截断）",
                            f"checkpoint {cp.name} covers {cp.checkpoint.size} entries but the "
                            f"export holds {acc.size} (tail truncated)",
                            seq_end=cp.checkpoint.size - 1))
    _anchoring(pending, trust, acc.size, report)
    attribute(report.findings, signers, report.departments)
    return report


def _options(signatures: bool, body_rules: bool, opener: Opener | None) -> dict[str, bool]:
    """What a saved state was replayed with, so it resumes only under the same options."""
    options = {"signatures": signatures, "body_rules": body_rules}
    if opener is not None:
        options["openings"] = True
    return options


def _resumed(resume: AuditState, trust: Trust | None, options: dict[str, bool],
             checkpoints: list[_Checkpoint], report: Report) -> tuple[Any, ...]:
    """The saved replay, once the state is shown to belong to this log and these options
    (SPEC.md 9.4); its findings are added to ``report``. Anything else is refused."""
    def refuse(zh: str, en: str) -> StateError:
        return StateError(f"审计状态与本次审计不符：{zh}；请不带 --state 重新审计",
                          f"the audit state does not match this audit: {en}; audit "
                          "without --state")
    if resume.trust != trust_id(trust):
        raise refuse("信任策略不同（另一个日志或已更换的固定密钥）",
                     "another trust policy (another log, or other pinned keys)")
    if trust is not None and resume.origin != trust.origin:
        raise refuse(f"状态属于日志 {resume.origin}，而非 {trust.origin}",
                     f"the state is of log {resume.origin!r}, not {trust.origin!r}")
    if resume.options != options:
        raise refuse(f"选项不同（状态 {resume.options}，本次 {options}）",
                     f"other options (the state's {resume.options}, this run's {options})")
    for cp in checkpoints:
        if cp.checkpoint.size == resume.size and cp.checkpoint.root != resume.root:
            raise refuse(f"检查点 {cp.name}（{resume.size} 条）的根哈希不是状态验证过的根：若两者"
                         "都由日志签名，日志签发了分叉的历史",
                         f"checkpoint {cp.name} of size {resume.size} has another root than "
                         "the one the state verified: if both are log-signed, the log "
                         "signed a fork")
    try:
        saved = loads(resume.payload)
        *replay, entries, findings, dropped = saved
        state = replay[0]
    except Exception as exc:  # any failure to unpickle is a refusal, never a traceback
        raise refuse(f"状态内容无法读取（{exc}）", f"its content cannot be read ({exc})") from None
    if not isinstance(state, LogState) or state.origin != resume.origin:
        raise refuse("状态内容与其头部不符", "its content differs from its header")
    report.entries = entries
    for finding in findings:
        report.add(finding)
    report.dropped += dropped
    return tuple(replay)


def _old_checkpoint(cp: _Checkpoint, roots: dict[int, bytes], size: int,
                    report: Report) -> None:
    """A checkpoint within the resumed state's entries: matched against the roots the
    state verified, since those entries are not read again."""
    root = roots.get(cp.checkpoint.size)
    if root == cp.checkpoint.root:
        cp.matched = True
    elif root is not None:
        report.add(_finding(
            "V1.checkpoint", cp.checkpoint.size - 1,
            f"检查点 {cp.name} 的根哈希与审计状态验证过的同规模检查点不符（日志签发了分叉的历史）",
            f"checkpoint {cp.name} root differs from the one the audit state verified at "
            "that size (the log signed a fork)", seq_end=cp.checkpoint.size - 1))
    elif cp.checkpoint.size:
        report.add(_finding(
            "V1.checkpoint", cp.checkpoint.size - 1,
            f"检查点 {cp.name}（{cp.checkpoint.size} 条）不晚于审计状态的 {size} 条，"
            "且状态未验证过它，增量审计无法核对；请不带 --state 审计",
            f"checkpoint {cp.name} (size {cp.checkpoint.size}) lies within the audit state's "
            f"{size} entries and the state did not verify it, so an incremental audit cannot "
            "check it; audit without --state", UNVERIFIABLE))


def _judged_at(report: Report, now: datetime | None, last_time: str,
               sources: dict[int, str]) -> str:
    """The audit's now (SPEC.md 9.2), as an entry time string for the end-of-replay checks,
    recorded in the report with where it came from.

    Given, it is the auditor's. Otherwise the latest time a quorum of pinned witnesses
    still cosigned a tree (their word that this time had come, which dropping entries
    cannot take back); the last entry's time only when it is later (the log's own word).
    """
    if now is not None:
        report.now, report.now_basis = int(now.timestamp()), "given"
        return now.astimezone(_SHANGHAI).isoformat()
    witnessed = max(report.still_latest.items(), key=lambda item: (item[1], item[0]),
                    default=None)
    last = int(datetime.fromisoformat(last_time).timestamp()) if last_time else None
    if witnessed is not None and (last is None or witnessed[1] >= last):
        report.now, report.now_basis = witnessed[1], "witnessed"
        report.now_source = sources.get(witnessed[0])
        return _iso(witnessed[1]) or ""
    if last is not None:
        report.now, report.now_basis = last, "last_entry"
    return last_time


def _anchoring(checkpoints: list[_Checkpoint], trust: Trust | None, size: int,
               report: Report) -> None:
    """The checkpoint the audit relied on, and the entries no quorum-cosigned checkpoint
    covers (V1.unwitnessed): with the log key alone they could be rewritten or dropped."""
    if trust is None:
        return
    matched = [cp for cp in checkpoints if cp.matched]
    if matched:
        top = matched[-1].checkpoint
        same = [cp for cp in matched if cp.checkpoint.size == top.size]
        source = next((cp for cp in same if cp.outside), same[0])
        report.relied_on = {"size": top.size, "root": base64.b64encode(top.root).decode(),
                            "source": source.name, "outside": source.outside,
                            "witnessed": _iso(report.witnessed.get(top.size))}
    q = trust.quorum
    if not q or not size:
        return  # the pinned policy asks for no witness: the log key alone anchors
    witnesses: dict[int, set[str]] = {}
    for cp in matched:
        witnesses.setdefault(cp.checkpoint.size, set()).update(cp.cosigned)
    covered = max((s for s, names in witnesses.items() if len(names) >= q), default=0)
    if covered >= size:
        return
    if covered:
        zh = (f"第 {covered}..{size - 1} 条在最后一个经 {q} 个受信见证联署的检查点（{covered} 条）"
              "之后")
        en = (f"entries {covered}..{size - 1} come after the last checkpoint cosigned by a "
              f"quorum of {q} pinned witnesses (size {covered})")
    else:
        zh = f"没有任何与重算一致的检查点获得 {q} 个受信见证的联署，第 0..{size - 1} 条均未被见证"
        en = (f"no checkpoint that matches the replay is cosigned by a quorum of {q} pinned "
              f"witnesses: entries 0..{size - 1} are unwitnessed")
    report.add(_finding("V1.unwitnessed", covered,
                        f"{zh}：仅凭日志密钥即可删改或截断这些条目而不留痕迹，其内容与时间只有日志"
                        "自己的说法",
                        f"{en}; the log key alone could rewrite or drop them unseen, so their "
                        "content and times rest on the log's word", UNVERIFIABLE,
                        seq_end=size - 1))


def _departments(state: LogState, plans: PlanTracker, draws: DrawAuditor,
                 results: ResultAuditor, report: Report) -> dict[str, dict[str, Any]]:
    """The per-department table: plans on time, draws verified, results on time."""
    out: dict[str, dict[str, Any]] = {
        code: {"name": name, "plans": 0, "plans_on_time": 0, "draws": 0, "draws_verified": 0,
               "results": 0, "results_on_time": 0, "published": 0, "findings": 0}
        for code, name in sorted(state.departments.items())}

    def row(code: str) -> dict[str, Any]:
        return out.setdefault(code, {"name": code, "plans": 0, "plans_on_time": 0,
                                     "draws": 0, "draws_verified": 0, "results": 0,
                                     "results_on_time": 0, "published": 0, "findings": 0})
    late = {(f.dept, f.seq) for f in report.findings if f.rule.startswith("V2.plan_")}
    for plan in plans.plans.values():
        r = row(plan.dept)
        r["plans"] += 1
        r["plans_on_time"] += (plan.dept, plan.filed) not in late
    for pending in draws.pending.values():
        r = row(pending.dept)
        r["draws"] += pending.executed_seq is not None
        r["draws_verified"] += pending.verified
    for info in results.inspections.values():
        r = row(info.dept)
        r["results"] += info.recorded is not None
        r["results_on_time"] += info.recorded is not None and not info.late
        r["published"] += info.published is not None
    for f in report.findings:
        if f.dept is not None:
            row(f.dept)["findings"] += 1
    return out


def _evidence(report: Report) -> None:
    """Time findings: "witnessed" when a quorum of witnesses cosigned, after the limit, a
    tree that did not yet hold the entry (so the entry is not earlier than that, whatever
    the log claims); else "claimed" (the log's own time)."""
    for i, f in enumerate(report.findings):
        if f.seq is None:
            continue
        if f.due is None:
            # Not about a limit: witnessed when a quorum-cosigned tree holds the entry,
            # so the log can no longer retract or re-date it.
            held = report.not_after(f.seq) is not None
            report.findings[i] = replace(f, evidence="witnessed" if held else "claimed")
            continue
        limit = f.due if "T" in f.due else f.due + "T23:59:59+08:00"
        bound = report.not_before(f.seq)
        witnessed = bound is not None and bound > datetime.fromisoformat(limit).timestamp()
        report.findings[i] = replace(f, evidence="witnessed" if witnessed else "claimed")


def _judge(entry: Entry, seq: int, state: LogState, plans: PlanTracker, draws: DrawAuditor,
           results: ResultAuditor) -> list[Finding]:
    """Deadlines, draw fairness and results, for an authorised statement."""
    if entry.type.startswith("plan."):
        return plans.feed(seq, entry.type, entry.body, entry.time, state)
    if entry.type.startswith("draw."):
        return draws.feed(seq, entry.type, entry.body, entry.time, entry.hash, state)
    if entry.type.startswith(("inspection.", "result.")):
        return results.feed(seq, entry.type, entry.body, entry.time, state)
    return []


def _statement(state: LogState, entry: Entry, seq: int, signatures: bool, trust: Trust | None,
               report: Report, digest: bytes | None, verified: bytes | None,
               body_ok: bool) -> bool:
    """Rule checks for one entry's statement, then advance the replay state; whether the
    statement was authorised (a forged or unauthorised one is reported, and its content
    is not then judged as the department's: no deadline or draw check runs on it).
    ``digest``, ``verified`` and ``body_ok`` are what the stateless pass found
    (verifier._pipeline): the statement's digest for a batch member, the key its
    signature verified under, and that its state-free body rules found nothing."""
    if seq == 0 and entry.type == "log.genesis" and trust is not None:
        for problem in _genesis_vs_trust(entry.body, trust):
            report.add(_finding("V1.trust", 0, f"创世条目与固定的信任策略不符：{problem}",
                                f"the genesis entry differs from the pinned trust: {problem}"))
    # A clean registry row of the open batch (nearly every entry): checked and applied in
    # one step; anything else, or any doubt, through check and apply below.
    if state.batch is not None and entry.type.startswith(_MEMBER_KINDS) \
            and state.apply_clean_member(seq, entry.type, entry.stream, entry.version,
                                         entry.actor, entry.body, entry.sig,
                                         digest if signatures else None,
                                         _STATELESS_TYPES if body_ok else frozenset()):
        return True
    signed = entry.signed_bytes() if signatures else None
    signature = entry.signature() if signatures else None
    authorised = True
    for finding in state.check(seq, entry.stream, entry.version, entry.type, entry.actor,
                               entry.body, entry.sig, signed, signature, verified):
        report.add(finding)
        authorised = authorised and not finding.rule.startswith(("AUTH.role", "AUTH.owner",
                                                                 "V1.key", "V1.signature"))
    state.apply(seq, entry.stream, entry.version, entry.type, entry.actor, entry.body, entry.sig)
    return authorised


def _genesis_vs_trust(body: dict[str, Any], trust: Trust) -> list[str]:
    problems = []
    if body.get("origin") != trust.origin:
        problems.append("origin")
    if body.get("log_key") != trust.log_key.vkey:
        problems.append("log_key")
    if body.get("authority_keys") != [k.vkey for k in trust.authority_keys]:
        problems.append("authority_keys")
    if body.get("witnesses") != [w.vkey for w in trust.witnesses]:
        problems.append("witnesses")
    if body.get("quorum") != trust.quorum:
        problems.append("quorum")
    return problems
