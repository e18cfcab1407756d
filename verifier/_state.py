"""Replay state and the authorisation rules of SPEC.md section 6.

The ledger runs the same ``LogState.check`` before it writes a statement and the auditor
runs it again over the export, so what the log accepts is by construction what the
verifier accepts. ``check`` reads the state (and advances only the tracker of an open
batch statement and the signature counter); ``apply`` mutates, optionally into an undo
journal so a rejected submission can be rolled back without a full replay.
"""

from __future__ import annotations

import base64
import hashlib
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from verifier._draw import TARGET_FIELDS
from verifier._entry import batch_message
from verifier._errors import FormatError
from verifier._index import ConflictIndex, InspectorIndex, TargetIndex
from verifier._note import NoteVerifier
from verifier._results import random_target
from verifier._sealed import SEALED_FIELDS

__all__ = [
    "INTEGRITY",
    "TYPE_RULES",
    "UNVERIFIABLE",
    "VIOLATION",
    "Finding",
    "KeyInfo",
    "LogState",
]

INTEGRITY = "integrity"
VIOLATION = "violation"
UNVERIFIABLE = "unverifiable"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: which rule, what kind, which entry, and a sentence in each language."""

    rule: str
    kind: str
    seq: int | None
    zh: str
    en: str
    seq_end: int | None = None
    dept: str | None = None  # the department concerned, when one is
    # For time findings: "claimed" (the log's own time) or "witnessed" (a quorum-cosigned
    # checkpoint bounds it); None when time plays no part.
    evidence: str | None = None
    due: str | None = None  # the limit a time finding compares with (ISO date or datetime)

    @property
    def severity(self) -> str:
        """critical (the history itself is in doubt), major (a rule was broken) or
        warning (a check could not be made)."""
        return {INTEGRITY: "critical", VIOLATION: "major"}.get(self.kind, "warning")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.rule, "kind": self.kind,
                               "severity": self.severity, "seq": self.seq,
                               "dept": self.dept, "zh": self.zh, "en": self.en}
        if self.seq_end is not None:
            out["seq_end"] = self.seq_end
        if self.evidence is not None:
            out["evidence"] = self.evidence
        if self.due is not None:
            out["due"] = self.due
        return out


@dataclass(slots=True)
class KeyInfo:
    """A signing key as registered in the log."""

    name: str
    verifier: NoteVerifier
    role: str  # "authority" or "department"
    dept: str | None
    registered: int  # seq of the registering entry; valid for later entries
    revoked: int | None = None


@dataclass(frozen=True, slots=True)
class TypeRule:
    """Who may write an event type, on which stream, and how it moves the stream.

    ``required_set`` and ``stream`` are made once per type (``_rule``): every entry asks."""

    role: str  # "genesis", "authority" or "department"
    prefix: str  # stream prefix; the id fields' values follow it, joined by "/"
    id_fields: tuple[str, ...]
    lifecycle: str  # "create", "change" or "end"
    required: tuple[str, ...]
    required_set: frozenset[str]
    # body -> the stream it belongs to: the prefix, then the id fields' values joined by "/"
    stream: Callable[[dict[str, Any]], str]


def _stream_of(prefix: str, id_fields: tuple[str, ...]) -> Callable[[dict[str, Any]], str]:
    if not id_fields:
        return lambda body: prefix
    if len(id_fields) == 1:
        (name,) = id_fields
        return lambda body: prefix + str(body[name])
    return lambda body: prefix + "/".join(str(body[f]) for f in id_fields)


def _rule(role: str, prefix: str, id_fields: str, lifecycle: str, required: str) -> TypeRule:
    ids, needed = tuple(id_fields.split()), tuple(required.split())
    return TypeRule(role, prefix, ids, lifecycle, needed, frozenset(needed),
                    _stream_of(prefix, ids))


TYPE_RULES: dict[str, TypeRule] = {
    "log.genesis": _rule("genesis", "log", "", "create",
                         "origin log_key authority_keys witnesses quorum policy"),
    "policy.amended": _rule("authority", "log", "", "change", "policy"),
    "department.registered": _rule("authority", "dept/", "code", "create", "code name"),
    "key.registered": _rule("authority", "key/", "name", "create", "name vkey dept role"),
    "key.revoked": _rule("authority", "key/", "name", "end", "name reason"),
    "matter.published": _rule("authority", "matter/", "id", "create",
                              "id name dept kind basis ratio_ppm"),
    "matter.amended": _rule("authority", "matter/", "id", "change", "id"),
    "matter.withdrawn": _rule("authority", "matter/", "id", "end", "id reason"),
    "calendar.published": _rule("authority", "calendar/", "year", "create",
                                "year weekday_days_off weekend_makeup_workdays source"),
    # A later State Council notice can change a published year (make-up days of 12-31 are
    # set by the next year's notice): the amendment replaces the year's calendar.
    "calendar.amended": _rule("authority", "calendar/", "year", "change",
                              "year weekday_days_off weekend_makeup_workdays source"),
    "import.recorded": _rule("department", "import/", "dept file_sha256", "create",
                             "kind dept file_sha256 file_name rows batch"),
    "target.added": _rule("department", "target/", "uscc", "create", "uscc name dept"),
    "target.updated": _rule("department", "target/", "uscc", "change", "uscc dept"),
    "target.removed": _rule("department", "target/", "uscc", "end", "uscc dept reason"),
    "inspector.added": _rule("department", "inspector/", "cert_no", "create",
                             "cert_no name dept unit"),
    "inspector.updated": _rule("department", "inspector/", "cert_no", "change", "cert_no dept"),
    "inspector.removed": _rule("department", "inspector/", "cert_no", "end",
                               "cert_no dept reason"),
    "conflict.declared": _rule("department", "conflict/", "cert_no uscc", "create",
                               "cert_no uscc dept relation declared_on"),
    "conflict.withdrawn": _rule("department", "conflict/", "cert_no uscc", "end",
                                "cert_no uscc dept reason"),
    "plan.filed": _rule("department", "plan/", "plan_id", "create", "plan_id year dept tasks"),
    "plan.amended": _rule("department", "plan/", "plan_id", "change", "plan_id year dept tasks"),
    "plan.received": _rule("authority", "plan/", "plan_id", "change", "plan_id received_on"),
    "plan.published": _rule("department", "plan/", "plan_id", "change", "plan_id dept url"),
    # Draws (SPEC.md section 7): one stream per plan batch, created by the commitment.
    "draw.committed": _rule("department", "draw/", "plan_id batch_id", "create",
                            "plan_id batch_id dept algorithm plan_seq draw_time beacon lottery "
                            "parties pool roster conflicts excluded"),
    "draw.revealed": _rule("department", "draw/", "plan_id batch_id", "change",
                           "plan_id batch_id dept secret"),
    "draw.executed": _rule("department", "draw/", "plan_id batch_id", "change",
                           "plan_id batch_id dept commit_seq beacon lottery reveals outcome"),
    "draw.unfillable": _rule("department", "draw/", "plan_id batch_id", "change",
                             "plan_id batch_id dept uscc short"),
    "draw.substituted": _rule("department", "draw/", "plan_id batch_id", "change",
                              "plan_id batch_id dept uscc out in reason"),
    "draw.voided": _rule("department", "draw/", "plan_id batch_id", "end",
                         "plan_id batch_id dept reason approver"),
    # Inspections and results (SPEC.md section 16): one stream per inspection.
    "lead.received": _rule("department", "lead/", "dept case_id", "create",
                           "dept case_id source received_on commitment"),
    "inspection.completed": _rule("department", "inspection/", "inspection_id", "create",
                                  "inspection_id kind dept uscc ended_on inspectors"),
    "result.recorded": _rule("department", "inspection/", "inspection_id", "change",
                             "inspection_id dept outcome findings"),
    "result.corrected": _rule("department", "inspection/", "inspection_id", "change",
                              "inspection_id dept corrects outcome findings reason"),
    "result.published": _rule("department", "inspection/", "inspection_id", "change",
                              "inspection_id dept record_sha256 url"),
}

# SPEC v2 (section 21): a conflict's stream names the department and an opaque id, never
# the pair, which is sealed.
V2_TYPE_RULES: dict[str, TypeRule] = {
    "conflict.declared": _rule("department", "conflict/", "dept id", "create",
                               "id cert_no uscc dept relation declared_on"),
    "conflict.withdrawn": _rule("department", "conflict/", "dept id", "end",
                                "id cert_no uscc dept reason"),
}

assert TARGET_FIELDS == ("registry", "industry", "region", "risk", "status", "unit")
# The inspector fields a draw reads, in the order LogState.inspectors keeps them.
INSPECTOR_VIEW = ("dept", "unit", "qualifications", "valid_from", "valid_to", "expert")

BodyCheck = Callable[[str, dict[str, Any], "LogState"], list[str]]


def _default_body_check() -> BodyCheck:
    from verifier._bodies import body_errors

    return body_errors


_MISSING = object()
# Event kinds that LogState.apply_clean_members takes: registry rows, as imports write them.
_FAST_MEMBER_KINDS = ("target.", "inspector.", "conflict.")
Journal = list[tuple[dict[Any, Any], Any, Any]]


@dataclass(frozen=True, slots=True)
class StreamInfo:
    version: int
    owner: str  # the actor that created the stream
    ended: bool = False


@dataclass(slots=True)
class OpenBatch:
    """A batch statement being read: its members so far and the digest of their statements."""

    batch_id: str
    count: int
    key: str
    ctime: str
    value: str
    start: int  # seq of member 0
    next_index: int = 0
    digest: Any = None  # hashlib object over member statement digests, or None


@dataclass(frozen=True, slots=True)
class PlanInfo:
    """The current version of a plan: its body, the seq of that version, published?"""

    body: dict[str, Any]
    seq: int
    published: bool = False

    def participants(self) -> set[str]:
        joint = self.body.get("joint", [])
        return {str(self.body.get("dept")), *(joint if type(joint) is list else [])}

    def batch(self, batch_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """(task, batch) of ``batch_id`` in this version, or None."""
        for task in self.body.get("tasks", []):
            if type(task) is not dict or type(task.get("batches")) is not list:
                continue
            for batch in task["batches"]:
                if type(batch) is dict and batch.get("batch_id") == batch_id:
                    return task, batch
        return None


@dataclass(frozen=True, slots=True)
class DrawInfo:
    """A batch's draw as replayed: replaced, never mutated, so the undo journal holds."""

    plan_id: str
    batch_id: str
    matter: str
    draw_date: str
    commit_seq: int
    commit: dict[str, Any]
    reveals: tuple[tuple[str, str], ...] = ()
    executed: int = 0  # how many draw.executed entries (more than one is a re-draw)
    executed_seq: int | None = None
    teams: tuple[tuple[str, tuple[str, ...]], ...] = ()  # the first execution, substituted
    recused: tuple[tuple[str, str], ...] = ()  # (uscc, cert_no) substituted out
    voided: bool = False


@dataclass
class LogState:
    """What the log says so far: keys, departments, streams, statement ids and the
    published matters and calendars.

    ``body_check`` validates a body against the type's field rules (registries, plans,
    calendars); it returns messages naming the field.
    """

    origin: str | None = None
    keys: dict[str, KeyInfo] = field(default_factory=dict)
    departments: dict[str, str] = field(default_factory=dict)
    streams: dict[str, StreamInfo] = field(default_factory=dict)
    statements: dict[tuple[str, str], int] = field(default_factory=dict)
    matters: dict[str, dict[str, Any]] = field(default_factory=dict)
    calendars: dict[int, dict[str, Any]] = field(default_factory=dict)
    # batch id -> (seq of its import record, announced rows, signing key)
    imports: dict[str, tuple[int, int, str]] = field(default_factory=dict)
    # import stream -> (seq of its record, rows), for idempotent re-imports
    import_streams: dict[str, tuple[int, int]] = field(default_factory=dict)
    genesis: dict[str, Any] | None = None
    policy: dict[str, Any] = field(default_factory=dict)
    # The registries as they stand (None once removed), for draws (verifier._snapshot),
    # indexed by what a snapshot selects on (verifier._index).
    targets: TargetIndex = field(default_factory=TargetIndex)
    inspectors: InspectorIndex = field(default_factory=InspectorIndex)
    conflicts: ConflictIndex = field(default_factory=ConflictIndex)
    plans: dict[str, PlanInfo] = field(default_factory=dict)
    draws: dict[str, DrawInfo] = field(default_factory=dict)
    # inspection stream -> seqs of its result.recorded and result.corrected entries, in
    # order (a correction's ``corrects`` names one; the first record is the result)
    results: dict[str, tuple[tuple[str, int], ...]] = field(default_factory=dict)
    # Equal immutable records (stream records, target views), stored once.
    _shared: dict[Any, Any] = field(default_factory=dict, repr=False)
    batch: OpenBatch | None = None
    body_check: BodyCheck | None = field(default_factory=_default_body_check)
    signatures_checked: int = 0
    # The specification version the genesis declares (SPEC.md 21): 2 seals internal fields.
    spec: int = 1
    # A v2 log replayed without its openings: the sealed fields are unknown, so the rules
    # about them are not applied (the audit says so) and the views lack them.
    unopened: bool = False
    # v2: conflict stream -> its (cert_no, uscc), so a withdrawal names the declared pair
    conflict_pairs: dict[str, tuple[str, str]] = field(default_factory=dict)

    def rule_of(self, type_: str) -> TypeRule | None:
        """The type's stream and lifecycle rule under this log's specification version."""
        if self.spec >= 2:
            rule = V2_TYPE_RULES.get(type_)
            if rule is not None:
                return rule
        return TYPE_RULES.get(type_)

    def _hidden(self, type_: str) -> frozenset[str]:
        """Fields a statement of ``type_`` seals that this replay cannot see."""
        if not self.unopened:
            return frozenset()
        return frozenset(SEALED_FIELDS.get(type_, ((), ()))[0])

    def seq_of(self, key: str, sid: str) -> int | None:
        """The seq of the statement ``sid`` signed by ``key`` (a batch member's from its
        batch's first member)."""
        batch = _batch_sid(sid) if sid.startswith("batch/") else None
        first = self.statements.get((key, _replay_id(sid, batch)))
        return None if first is None else first + (batch[1] if batch else 0)

    def first_record(self, stream: str) -> int | None:
        """The seq of the inspection's first ``result.recorded`` (its result), or None."""
        return next((seq for type_, seq in self.results.get(stream, ())
                     if type_ == "result.recorded"), None)

    def min_team_size(self) -> int:
        size = self.policy.get("min_team_size", 2)
        return size if type(size) is int else 2

    def next_version(self, stream: str) -> int:
        info = self.streams.get(stream)
        return 1 if info is None else info.version + 1

    def check(self, seq: int, stream: str, version: int, type_: str, actor: str,
              body: dict[str, Any], sig: dict[str, Any], signed: bytes | None,
              signature: bytes | None, verified: bytes | None = None) -> list[Finding]:
        """Findings for one statement at ``seq``.

        ``signed`` and ``signature`` are the statement bytes and the raw signature; pass
        None to skip signature checks. ``verified``: the raw public key this signature is
        already known to verify under (the audit's workers), relied on only when it is
        the key the state resolves. Besides reading, this advances the tracker of the
        batch statement the entry belongs to (SPEC.md section 4.2), so call it once per
        entry, in log order.
        """
        out: list[Finding] = []
        rule = self.rule_of(type_)
        key_name = sig["key"]
        batch = _batch_sid(sig["sid"])
        out.extend(self._batch_step(seq, batch, sig, signed))
        if rule is None:
            out.append(Finding("AUTH.type", VIOLATION, seq, f"未知的事件类型 {type_}",
                               f"unknown event type {type_}"))
            return out
        if (seq == 0) != (rule.role == "genesis"):
            out.append(Finding("V1.genesis", INTEGRITY, seq, "创世条目必须且只能位于第 0 条",
                               "the genesis entry must be entry 0 and only entry 0"))
            return out
        hidden = self._hidden(type_)
        if not body.keys() >= rule.required_set - hidden:
            missing = [f for f in rule.required if f not in body and f not in hidden]
            out.append(Finding("AUTH.body", VIOLATION, seq, f"事件内容缺少字段 {missing}",
                               f"body lacks the fields {missing}"))
            return out
        # Stream naming and version discipline.
        expected_stream = rule.stream(body)
        if stream != expected_stream:
            out.append(Finding("AUTH.stream", VIOLATION, seq,
                               f"流 {stream} 与事件内容不符，应为 {expected_stream}",
                               f"stream {stream} does not match the body; expected "
                               f"{expected_stream}"))
        info = self.streams.get(stream)
        expected_version = 1 if info is None else info.version + 1
        if version != expected_version:
            out.append(Finding("V1.version", INTEGRITY, seq,
                               f"流 {stream} 的版本应为 {expected_version}，实为 {version}",
                               f"stream {stream} version should be {expected_version}, "
                               f"is {version}"))
        if rule.lifecycle == "create" and info is not None:
            out.append(Finding("AUTH.lifecycle", VIOLATION, seq, f"{stream} 已存在，不能重复创建",
                               f"{stream} already exists and cannot be created again"))
        if rule.lifecycle != "create" and (info is None or info.ended):
            out.append(Finding("AUTH.lifecycle", VIOLATION, seq,
                               f"{stream} 不存在或已移除", f"{stream} does not exist or has ended"))
        # The key: registered, valid at this entry, and allowed to speak for the actor.
        key = self.keys.get(key_name)
        if rule.role == "genesis":
            key = _genesis_key(body, key_name)
        if key is None:
            out.append(Finding("V1.key", INTEGRITY, seq, f"签名密钥 {key_name} 未登记",
                               f"signing key {key_name} is not registered"))
            return out
        if key.revoked is not None and key.revoked < seq:
            out.append(Finding("V1.key", INTEGRITY, seq,
                               f"签名密钥 {key_name} 已于第 {key.revoked} 条吊销",
                               f"signing key {key_name} was revoked at entry {key.revoked}"))
        if batch is None and signed is not None and signature is not None:
            self.signatures_checked += 1
            if verified != key.verifier.public_key \
                    and not key.verifier.verify(signed, signature):
                out.append(Finding("V1.signature", INTEGRITY, seq,
                                   f"声明签名无效（密钥 {key_name}）",
                                   f"statement signature does not verify under key {key_name}"))
        # A batch is one statement: its id is checked (and kept) once, at member 0.
        prior = (self.statements.get((key_name, _replay_id(sig["sid"], batch)))
                 if batch is None or batch[1] == 0 else None)
        if prior is not None:
            out.append(Finding("V1.replay", INTEGRITY, seq,
                               f"声明编号 {sig['sid']} 已在第 {prior} 条使用（重放）",
                               f"statement id {sig['sid']} was already used at entry {prior} "
                               "(replay)"))
        out.extend(self._role(seq, rule, type_, actor, body, key, info))
        if type_ == "conflict.withdrawn" and self.spec >= 2 and not self.unopened:
            pair = self.conflict_pairs.get(stream)
            if pair is not None and pair != (body.get("cert_no"), body.get("uscc")):
                out.append(Finding("AUTH.body", VIOLATION, seq,
                                   f"撤回的回避关系与 {stream} 申报的不是同一对",
                                   f"the withdrawn pair is not the one {stream} declared"))
        if self.body_check is not None:
            for problem in self.body_check(type_, body, self):
                if hidden and problem.partition(":")[0].partition(".")[0] in hidden:
                    continue  # a rule about a sealed field this replay cannot see
                out.append(Finding("AUTH.body", VIOLATION, seq, f"事件内容不合规：{problem}",
                                   f"invalid body: {problem}"))
        if type_ == "inspection.completed" and body.get("kind") == "random" \
                and random_target(self, str(body.get("plan_id")), str(body.get("batch_id")),
                                  str(body.get("uscc"))) is None:
            out.append(Finding("V14.trace", VIOLATION, seq,
                               f"随机抽查对象 {body.get('uscc')} 不是批次 {body.get('plan_id')}/"
                               f"{body.get('batch_id')} 抽中的对象",
                               f"{body.get('uscc')} was not drawn in batch "
                               f"{body.get('plan_id')}/{body.get('batch_id')}: a random "
                               "inspection must trace to a draw", dept=actor))
        return out

    def _batch_step(self, seq: int, batch: tuple[str, int, int] | None, sig: dict[str, Any],
                    signed: bytes | None) -> list[Finding]:
        """Track batch members: consecutive, announced, one key, one signature."""
        out: list[Finding] = []
        open_ = self.batch
        if open_ is not None and (batch is None or batch[0] != open_.batch_id
                                  or batch[1] == 0):
            out.append(Finding("V1.batch", INTEGRITY, seq,
                               f"批量声明 {open_.batch_id} 在第 {seq} 条被打断"
                               f"（只有 {open_.next_index}/{open_.count} 条）",
                               f"batch {open_.batch_id} is interrupted at entry {seq} "
                               f"({open_.next_index} of {open_.count} members)",
                               seq_end=None))
            self.batch = open_ = None
        if batch is None:
            if sig["sid"].startswith("batch/"):
                out.append(Finding("V1.batch", INTEGRITY, seq,
                                   f"声明编号 {sig['sid']} 不是合规的批量编号",
                                   f"statement id {sig['sid']} is not a valid batch member id "
                                   "(batch/<id>/<index>/<count>)"))
            return out
        batch_id, index, count = batch
        if open_ is None:
            announced = self.imports.get(batch_id)
            if index != 0 or announced is None or announced[0] != seq - 1 \
                    or announced[1] != count or announced[2] != sig["key"]:
                out.append(Finding("V1.batch", INTEGRITY, seq,
                                   f"批量声明 {batch_id} 的第 {index} 条没有紧随其导入记录",
                                   f"batch member {index} of {batch_id} does not follow its "
                                   "import record"))
                return out
            digest = hashlib.sha256() if signed is not None else None
            open_ = self.batch = OpenBatch(batch_id, count, sig["key"], sig["ctime"],
                                           sig["value"], seq, 0, digest)
        if (index != open_.next_index or count != open_.count or sig["key"] != open_.key
                or sig["ctime"] != open_.ctime or sig["value"] != open_.value):
            out.append(Finding("V1.batch", INTEGRITY, seq,
                               f"批量声明 {batch_id} 的第 {index} 条顺序或签名字段不符",
                               f"batch {batch_id} member {index} is out of order or its "
                               "key, time or signature differs from the batch's"))
            self.batch = None
            return out
        open_.next_index = index + 1
        if open_.digest is not None and signed is not None:
            open_.digest.update(hashlib.sha256(signed).digest())
        if index == count - 1:
            self.batch = None
            key = self.keys.get(open_.key)
            if open_.digest is not None and key is not None:
                self.signatures_checked += 1
                message = batch_message(open_.key, open_.batch_id, open_.ctime, count,
                                        open_.digest.digest())
                if not key.verifier.verify(message, base64.b64decode(open_.value)):
                    out.append(Finding("V1.signature", INTEGRITY, open_.start,
                                       f"批量签名无效（密钥 {open_.key}，"
                                       f"第 {open_.start}..{seq} 条）",
                                       f"batch signature does not verify under key {open_.key} "
                                       f"(entries {open_.start}..{seq})", seq_end=seq))
        return out

    def apply_clean_members(self, seq: int, items: Sequence[tuple[str, str, dict[str, Any]]],
                            start: int, stop: int, actor: str, digests: bytes,
                            checked_types: frozenset[str] = frozenset(),
                            journal: Journal | None = None) -> list[int]:
        """``check`` then ``apply`` for the batch members ``items[start:stop]`` (``(type,
        stream, body)``, at ``seq``, ``seq + 1``, ...) for as long as ``check`` would find
        nothing; returns the versions of those applied, so a caller goes on with ``check``
        from ``start + len(result)``.

        A writer's fast path for its own large batches (an import's rows): the members
        follow the open batch's ``next_index``, carry its key, time and signature, are
        stated by ``actor`` and are registry events (``target.``, ``inspector.``,
        ``conflict.``); ``digests`` holds the SHA-256 of each one's statement bytes, 32
        bytes per member. The batch's last member is left to ``check`` (it verifies the
        signature), and so is any member that ``check`` would report on. Body rules run
        unless the member's type is in ``checked_types`` (the caller ran them already).
        ``tests/test_batch.py`` compares this with ``check`` and ``apply``.
        """
        open_ = self.batch
        if open_ is None or not start < stop:
            return []
        stop = min(stop, start + open_.count - 1 - open_.next_index)  # never the last member
        key = self.keys.get(open_.key)
        if (key is None or key.role != "department" or key.dept != actor
                or actor not in self.departments or len(digests) < 32 * (stop - start)
                or (key.revoked is not None and key.revoked < seq + (stop - start))):
            return []
        put = _put if journal is None else _journaled(journal)
        versions: list[int] = []
        for k in range(start, stop):
            type_, stream, body = items[k]
            version = self._clean_row(seq, type_, stream, body, actor, checked_types, put)
            if version is None:
                break
            versions.append(version)
            seq += 1
        if versions:
            if open_.digest is not None:
                open_.digest.update(digests[:32 * len(versions)])
            open_.next_index += len(versions)
        return versions

    def apply_clean_member(self, seq: int, type_: str, stream: str, version: int, actor: str,
                           body: dict[str, Any], sig: dict[str, Any], digest: bytes | None,
                           checked_types: frozenset[str] = frozenset()) -> bool:
        """``check`` then ``apply`` of one entry at ``seq`` when it is a clean registry
        member of the open batch: the auditor's fast path (nearly every entry of a year
        is an imported registry row). True when applied; False, with nothing changed,
        whenever ``check`` might have something to say (then call ``check`` and
        ``apply``). The member must be the batch's next, not its last, carry the batch's
        key, time and signature, and the stream's next ``version``; ``digest`` is the
        SHA-256 of its statement bytes (None when signatures are not checked); body rules
        run unless its type is in ``checked_types``."""
        open_ = self.batch
        if (open_ is None or open_.next_index >= open_.count - 1 or sig["key"] != open_.key
                or sig["value"] != open_.value or sig["ctime"] != open_.ctime
                or sig["sid"] != f"batch/{open_.batch_id}/{open_.next_index}/{open_.count}"):
            return False
        key = self.keys.get(open_.key)
        info = self.streams.get(stream)
        if (key is None or key.role != "department" or key.dept != actor
                or actor not in self.departments
                or (key.revoked is not None and key.revoked < seq)
                or version != (1 if info is None else info.version + 1)
                or (digest is None) != (open_.digest is None)):
            return False
        if self._clean_row(seq, type_, stream, body, actor, checked_types, _put) is None:
            return False
        if open_.digest is not None:
            open_.digest.update(digest)
        open_.next_index += 1
        return True

    def _clean_row(self, seq: int, type_: str, stream: str, body: dict[str, Any], actor: str,
                   checked_types: frozenset[str],
                   put: Callable[[dict[Any, Any], Any, Any], None]) -> int | None:
        """Apply one registry member of ``actor``'s open batch (its key already judged
        able) if ``check`` would find nothing in its type, stream, lifecycle, ownership and
        body; its new stream version, or None with nothing changed."""
        rule = self.rule_of(type_)
        if self.unopened and "sealed" in body:
            return None  # check() knows what to leave out
        if (rule is None or rule.role != "department" or not type_.startswith(_FAST_MEMBER_KINDS)
                or not body.keys() >= rule.required_set or stream != rule.stream(body)):
            return None
        info = self.streams.get(stream)
        if info is None:
            if rule.lifecycle != "create":
                return None
            record = StreamInfo(1, sys.intern(actor))
        elif rule.lifecycle == "create" or info.ended or info.owner != actor:
            return None
        else:
            record = StreamInfo(info.version + 1, info.owner, rule.lifecycle == "end")
        registry = body.get("registry")
        if body.get("dept") != actor or (type(registry) is str
                                         and not registry.startswith(actor + "/")):
            return None
        body_check = self.body_check
        if body_check is not None and type_ not in checked_types \
                and body_check(type_, body, self):
            return None
        put(self.streams, stream, self._shared.setdefault(record, record))
        self._apply_domain(seq, type_, body, put)
        return record.version

    def finish(self) -> list[Finding]:
        """Findings that only the end of the log reveals (an unfinished batch)."""
        if self.batch is None:
            return []
        b = self.batch
        return [Finding("V1.batch", INTEGRITY, b.start,
                        f"批量声明 {b.batch_id} 未完整（只有 {b.next_index}/{b.count} 条）",
                        f"batch {b.batch_id} is incomplete ({b.next_index} of {b.count} "
                        "members)")]

    def _role(self, seq: int, rule: TypeRule, type_: str, actor: str, body: dict[str, Any],
              key: KeyInfo, info: StreamInfo | None) -> list[Finding]:
        if rule.role in ("genesis", "authority"):
            if actor != "authority" or key.role != "authority":
                return [Finding("AUTH.role", VIOLATION, seq,
                                f"{type_} 只能由联席会议办公室签发",
                                f"{type_} may only be stated by the authority")]
            if type_ == "key.registered":
                return self._key_registration(seq, body)
            return []
        if key.role != "department" or key.dept != actor:
            return [Finding("AUTH.role", VIOLATION, seq,
                            f"密钥 {key.name} 不能代表 {actor} 发表声明",
                            f"key {key.name} may not speak for {actor}")]
        if actor not in self.departments:
            return [Finding("AUTH.role", VIOLATION, seq, f"部门 {actor} 未登记",
                            f"department {actor} is not registered")]
        if type_.startswith("draw."):
            return self._draw_role(seq, type_, actor, body)
        registry = body.get("registry")
        if (body.get("dept") != actor or (info is not None and info.owner != actor)
                or (isinstance(registry, str) and not registry.startswith(actor + "/"))):
            return [Finding("AUTH.owner", VIOLATION, seq,
                            f"{actor} 只能维护本部门的名录和计划",
                            f"{actor} may only change its own registries and plans")]
        return []

    def _draw_role(self, seq: int, type_: str, actor: str, body: dict[str, Any]
                   ) -> list[Finding]:
        """The plan's lead department commits and executes; any participant reveals,
        substitutes or records what concerns it."""
        plan = self.plans.get(str(body.get("plan_id")))
        lead = plan.body.get("dept") if plan else None
        allowed = plan.participants() if plan else set()
        if type_ in ("draw.committed", "draw.executed", "draw.voided", "draw.unfillable"):
            allowed = {str(lead)}
        if body.get("dept") != actor or actor not in allowed:
            return [Finding("AUTH.owner", VIOLATION, seq,
                            f"{actor} 不能为计划 {body.get('plan_id')} 发表 {type_}",
                            f"{actor} may not state {type_} for plan {body.get('plan_id')}")]
        return []

    def _key_registration(self, seq: int, body: dict[str, Any]) -> list[Finding]:
        try:
            verifier = NoteVerifier.from_vkey(str(body["vkey"]))
        except FormatError as exc:
            return [Finding("AUTH.body", VIOLATION, seq, f"密钥格式错误：{exc}",
                            f"malformed vkey: {exc}")]
        problems = []
        if verifier.name in self.keys:
            problems.append(f"key name {verifier.name} is already in use")
        if verifier.name != body["name"]:
            problems.append("vkey name differs from body.name")
        if body["role"] == "auditor":
            # An audit or supervision body's key (SPEC.md 21.8): it signs requests for the
            # internal data, never a statement; its body is no member department.
            if body["dept"] in self.departments:
                problems.append(f"an auditor key's body {body['dept']} must not be a member "
                                "department")
        elif body["role"] != "department":
            problems.append("role must be 'department' or 'auditor'")
        elif body["dept"] not in self.departments:
            problems.append(f"department {body['dept']} is not registered")
        return [Finding("AUTH.body", VIOLATION, seq, f"密钥登记无效：{p}", f"invalid key: {p}")
                for p in problems]

    def apply(self, seq: int, stream: str, version: int, type_: str, actor: str,
              body: dict[str, Any], sig: dict[str, Any], journal: Journal | None = None) -> None:
        """Advance the state past one entry (whatever ``check`` said about it)."""
        put = _put if journal is None else _journaled(journal)
        rule = self.rule_of(type_)
        info = self.streams.get(stream)
        ended = info.ended if info else False
        owner = info.owner if info else sys.intern(actor)
        if rule is not None and rule.lifecycle == "end":
            ended = True
        # Stream records are replaced, never changed in place: equal ones are shared (a
        # million registry streams hold a handful of distinct records).
        record = StreamInfo(version, owner, ended)
        put(self.streams, stream, self._shared.setdefault(record, record))
        sid = sig["sid"]
        batch = _batch_sid(sid) if sid.startswith("batch/") else None
        if batch is None or batch[1] == 0:
            put(self.statements, (sys.intern(sig["key"]), _replay_id(sid, batch)), seq)
        if type_ in ("log.genesis", "policy.amended") and type(body.get("policy")) is dict:
            self.policy = body["policy"]  # not journaled: the authority's, never batched
        if type_ == "log.genesis":
            self.genesis = body
            spec = body.get("spec", 1)
            self.spec = spec if type(spec) is int else 1
            self.origin = str(body.get("origin"))
            for vkey in body.get("authority_keys", []):
                try:
                    v = NoteVerifier.from_vkey(str(vkey))
                except FormatError:
                    continue
                put(self.keys, v.name, KeyInfo(v.name, v, "authority", None, seq))
        elif type_ == "department.registered":
            put(self.departments, str(body.get("code")), str(body.get("name")))
        elif type_ in ("matter.published", "matter.amended"):
            put(self.matters, str(body.get("id")), {**self.matters.get(str(body.get("id")), {}),
                                                  **body})
        elif type_ == "matter.withdrawn":
            put(self.matters, str(body.get("id")), {**self.matters.get(str(body.get("id")), {}),
                                                  "withdrawn": True})
        elif type_ in ("calendar.published", "calendar.amended") \
                and type(body.get("year")) is int:
            put(self.calendars, body["year"], body)
        elif type_ == "import.recorded":
            rows = body.get("rows")
            rows = rows if type(rows) is int else -1
            put(self.imports, str(body.get("batch")), (seq, rows, sig["key"]))
            put(self.import_streams, stream, (seq, rows))
        elif type_.startswith(("target.", "inspector.", "conflict.", "plan.", "draw.")):
            self._apply_domain(seq, type_, body, put)
        elif type_ in ("result.recorded", "result.corrected"):
            put(self.results, stream, (*self.results.get(stream, ()), (type_, seq)))
        elif type_ == "key.registered":
            try:
                v = NoteVerifier.from_vkey(str(body.get("vkey")))
            except FormatError:
                return
            if v.name not in self.keys:
                role = "auditor" if body.get("role") == "auditor" else "department"
                put(self.keys, v.name, KeyInfo(v.name, v, role, str(body.get("dept")), seq))
        elif type_ == "key.revoked":
            key = self.keys.get(str(body.get("name")))
            if key is not None and key.revoked is None:
                put(self.keys, key.name, KeyInfo(key.name, key.verifier, key.role, key.dept,
                                                 key.registered, seq))

    def _apply_domain(self, seq: int, type_: str, body: dict[str, Any],
                      put: Callable[[dict[Any, Any], Any, Any], None]) -> None:
        """Registries, plans and draws, as later draws and the audit read them."""
        kind, _, verb = type_.partition(".")
        if kind == "target":
            uscc = str(body.get("uscc"))
            old = self.targets.get(uscc)
            # Field values repeat across a registry: interned, a million targets share them.
            if verb == "added":
                get = body.get
                view = (str(get("registry", "")), str(get("industry", "")),
                        str(get("region", "")), str(get("risk", "")), str(get("status", "")),
                        str(get("unit", "")))
                shared = self._shared.get(view)
                if shared is None:  # a new field tuple: its strings kept once, interned
                    shared = tuple(map(sys.intern, view))
                    self._shared[shared] = shared
                put(self.targets, uscc, shared)
            elif verb == "updated" and old is not None:
                changed = tuple(sys.intern(str(body.get(f, old[i])))
                                for i, f in enumerate(TARGET_FIELDS))
                put(self.targets, uscc, self._shared.setdefault(changed, changed))
            elif verb == "removed":
                put(self.targets, uscc, None)
        elif kind == "inspector":
            cert = str(body.get("cert_no"))
            prior = self.inspectors.get(cert)
            if verb == "added" or (verb == "updated" and prior is not None):
                base = dict(zip(INSPECTOR_VIEW, prior or (), strict=False))
                base.update({f: body[f] for f in INSPECTOR_VIEW if f in body})
                quals = base.get("qualifications")
                base["qualifications"] = tuple(quals) if isinstance(quals, list | tuple) else ()
                put(self.inspectors, cert, tuple(base.get(f) for f in INSPECTOR_VIEW))
            elif verb == "removed":
                put(self.inspectors, cert, None)
        elif kind == "conflict":
            if "cert_no" not in body or "uscc" not in body:
                return  # sealed and not opened: nothing known to index
            pair = (str(body.get("cert_no")), str(body.get("uscc")))
            put(self.conflicts, pair, verb == "declared")
            if self.spec >= 2 and verb == "declared":
                put(self.conflict_pairs, f"conflict/{body.get('dept')}/{body.get('id')}", pair)
        elif kind == "plan":
            plan_id = str(body.get("plan_id"))
            info = self.plans.get(plan_id)
            if verb in ("filed", "amended"):
                put(self.plans, plan_id, PlanInfo(body, seq, bool(info and info.published)))
            elif verb == "published" and info is not None:
                put(self.plans, plan_id, PlanInfo(info.body, info.seq, True))
        elif kind == "draw":
            self._apply_draw(seq, verb, body, put)

    def _apply_draw(self, seq: int, verb: str, body: dict[str, Any],
                    put: Callable[[dict[Any, Any], Any, Any], None]) -> None:
        stream = f"draw/{body.get('plan_id')}/{body.get('batch_id')}"
        info = self.draws.get(stream)
        if verb == "committed":
            plan = self.plans.get(str(body.get("plan_id")))
            found = plan.batch(str(body.get("batch_id"))) if plan else None
            task, batch = found if found else ({}, {})
            put(self.draws, stream, DrawInfo(str(body.get("plan_id")), str(body.get("batch_id")),
                                             str(task.get("matter")),
                                             str(batch.get("draw_date")), seq, body))
            return
        if info is None:
            return
        if verb == "revealed":
            info = replace(info, reveals=(*info.reveals, (str(body.get("dept")),
                                                          str(body.get("secret")))))
        elif verb == "executed":
            if info.executed == 0:
                outcome = body.get("outcome")
                selected = outcome.get("selected") if type(outcome) is dict else None
                teams = tuple((str(s.get("uscc")), tuple(str(c) for c in s.get("team", [])))
                              for s in (selected if type(selected) is list else [])
                              if type(s) is dict and type(s.get("team", [])) is list)
                info = replace(info, executed=1, executed_seq=seq, teams=teams)
            else:
                info = replace(info, executed=info.executed + 1)
        elif verb == "substituted":
            uscc, out, new = str(body.get("uscc")), body.get("out"), body.get("in")
            def swap(team: tuple[str, ...]) -> tuple[str, ...]:
                if type(new) is str:
                    return tuple(new if c == out else c for c in team)
                return tuple(c for c in team if c != out)
            info = replace(info, teams=tuple((u, swap(t) if u == uscc else t)
                                             for u, t in info.teams),
                           recused=(*info.recused, (uscc, str(out))))
        elif verb == "voided":
            info = replace(info, voided=True)
        put(self.draws, stream, info)

    @staticmethod
    def undo(journal: Journal) -> None:
        """Roll back everything ``apply`` recorded in ``journal``."""
        for d, k, old in reversed(journal):
            if old is _MISSING:
                del d[k]
            else:
                d[k] = old
        journal.clear()


def _put(d: dict[Any, Any], k: Any, v: Any) -> None:
    d[k] = v


def _journaled(journal: Journal) -> Callable[[dict[Any, Any], Any, Any], None]:
    def put(d: dict[Any, Any], k: Any, v: Any) -> None:
        journal.append((d, k, d.get(k, _MISSING)))
        d[k] = v
    return put


def _replay_id(sid: str, batch: tuple[str, int, int] | None) -> str:
    """What ``statements`` keys a statement by: its id, or its batch's for a member."""
    return sid if batch is None else f"batch/{batch[0]}"


_BATCH_SID_RE = re.compile(r"batch/([^/]+)/(0|[1-9][0-9]{0,17})/([1-9][0-9]{0,17})")


def _batch_sid(sid: str) -> tuple[str, int, int] | None:
    """(batch id, index, count) of a batch member's statement id, else None."""
    if not sid.startswith("batch/"):
        return None
    m = _BATCH_SID_RE.fullmatch(sid)
    if m is None:
        return None
    index, count = int(m[2]), int(m[3])
    return (m[1], index, count) if index < count else None


def _genesis_key(body: dict[str, Any], key_name: str) -> KeyInfo | None:
    """Genesis is signed by one of the authority keys it introduces."""
    for vkey in body.get("authority_keys", []):
        try:
            v = NoteVerifier.from_vkey(str(vkey))
        except FormatError:
            continue
        if v.name == key_name:
            return KeyInfo(v.name, v, "authority", None, 0)
    return None
