"""Replay state and the authorisation rules of SPEC.md section 6.

The ledger runs the same ``LogState.check`` before it writes a statement and the auditor
runs it again over the export, so what the log accepts is by construction what the
verifier accepts. ``check`` only reads; ``apply`` mutates, optionally into an undo
journal so a rejected batch can be rolled back without a full replay.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from verifier._errors import FormatError
from verifier._note import NoteVerifier

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

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.rule, "kind": self.kind, "seq": self.seq,
                               "zh": self.zh, "en": self.en}
        if self.seq_end is not None:
            out["seq_end"] = self.seq_end
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
    """Who may write an event type, on which stream, and how it moves the stream."""

    role: str  # "genesis", "authority" or "department"
    prefix: str  # stream prefix; the id field's value follows it
    id_field: str | None
    lifecycle: str  # "create", "change" or "end"
    required: tuple[str, ...]

    @property
    def required_set(self) -> frozenset[str]:
        return _REQUIRED[self.required]


TYPE_RULES: dict[str, TypeRule] = {
    "log.genesis": TypeRule("genesis", "log", None, "create",
                            ("origin", "log_key", "authority_keys", "witnesses", "quorum",
                             "policy")),
    "department.registered": TypeRule("authority", "dept/", "code", "create", ("code", "name")),
    "key.registered": TypeRule("authority", "key/", "name", "create",
                               ("name", "vkey", "dept", "role")),
    "key.revoked": TypeRule("authority", "key/", "name", "end", ("name", "reason")),
    "target.added": TypeRule("department", "target/", "uscc", "create",
                             ("uscc", "name", "dept")),
    "target.updated": TypeRule("department", "target/", "uscc", "change", ("uscc", "dept")),
    "target.removed": TypeRule("department", "target/", "uscc", "end",
                               ("uscc", "dept", "reason")),
    "inspector.added": TypeRule("department", "inspector/", "cert_no", "create",
                                ("cert_no", "name", "dept", "unit")),
    "inspector.updated": TypeRule("department", "inspector/", "cert_no", "change",
                                  ("cert_no", "dept")),
    "inspector.removed": TypeRule("department", "inspector/", "cert_no", "end",
                                  ("cert_no", "dept", "reason")),
}

_REQUIRED = {rule.required: frozenset(rule.required) for rule in TYPE_RULES.values()}
_MISSING = object()
Journal = list[tuple[dict[Any, Any], Any, Any]]


@dataclass(slots=True)
class StreamInfo:
    version: int
    owner: str  # the actor that created the stream
    ended: bool = False


@dataclass
class LogState:
    """What the log says so far: keys, departments, streams and statement ids."""

    origin: str | None = None
    keys: dict[str, KeyInfo] = field(default_factory=dict)
    departments: dict[str, str] = field(default_factory=dict)
    streams: dict[str, StreamInfo] = field(default_factory=dict)
    statements: dict[tuple[str, str], int] = field(default_factory=dict)
    genesis: dict[str, Any] | None = None

    def next_version(self, stream: str) -> int:
        info = self.streams.get(stream)
        return 1 if info is None else info.version + 1

    def check(self, seq: int, stream: str, version: int, type_: str, actor: str,
              body: dict[str, Any], sig: dict[str, Any],
              verify: Callable[[NoteVerifier], bool] | None) -> list[Finding]:
        """Findings for one statement at ``seq``; ``verify`` checks its signature.

        ``verify`` is None when signatures are checked elsewhere (or skipped on purpose).
        """
        out: list[Finding] = []
        rule = TYPE_RULES.get(type_)
        if rule is None:
            return [Finding("AUTH.type", VIOLATION, seq, f"未知的事件类型 {type_}",
                            f"unknown event type {type_}")]
        if (seq == 0) != (rule.role == "genesis"):
            return [Finding("V1.genesis", INTEGRITY, seq, "创世条目必须且只能位于第 0 条",
                            "the genesis entry must be entry 0 and only entry 0")]
        if not body.keys() >= rule.required_set:
            missing = [f for f in rule.required if f not in body]
            out.append(Finding("AUTH.body", VIOLATION, seq, f"事件内容缺少字段 {missing}",
                               f"body lacks the fields {missing}"))
            return out
        # Stream naming and version discipline.
        expected_stream = rule.prefix + (str(body[rule.id_field]) if rule.id_field else "")
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
        key_name = sig["key"]
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
        if verify is not None and not verify(key.verifier):
            out.append(Finding("V1.signature", INTEGRITY, seq, f"声明签名无效（密钥 {key_name}）",
                               f"statement signature does not verify under key {key_name}"))
        prior = self.statements.get((key_name, sig["sid"]))
        if prior is not None:
            out.append(Finding("V1.replay", INTEGRITY, seq,
                               f"声明编号 {sig['sid']} 已在第 {prior} 条使用（重放）",
                               f"statement id {sig['sid']} was already used at entry {prior} "
                               "(replay)"))
        out.extend(self._role(seq, rule, type_, actor, body, key, info))
        return out

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
        if body.get("dept") != actor or (info is not None and info.owner != actor):
            return [Finding("AUTH.owner", VIOLATION, seq,
                            f"{actor} 只能维护本部门的名录",
                            f"{actor} may only change its own registries")]
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
        if body["role"] != "department":
            problems.append("role must be 'department'")
        if body["dept"] not in self.departments:
            problems.append(f"department {body['dept']} is not registered")
        return [Finding("AUTH.body", VIOLATION, seq, f"密钥登记无效：{p}", f"invalid key: {p}")
                for p in problems]

    def apply(self, seq: int, stream: str, version: int, type_: str, actor: str,
              body: dict[str, Any], sig: dict[str, Any], journal: Journal | None = None) -> None:
        """Advance the state past one entry (whatever ``check`` said about it)."""
        put = _put if journal is None else _journaled(journal)
        rule = TYPE_RULES.get(type_)
        info = self.streams.get(stream)
        ended = info.ended if info else False
        owner = info.owner if info else actor
        if rule is not None and rule.lifecycle == "end":
            ended = True
        put(self.streams, stream, StreamInfo(version, owner, ended))
        put(self.statements, (sig["key"], sig["sid"]), seq)
        if type_ == "log.genesis":
            self.genesis = body
            self.origin = str(body.get("origin"))
            for vkey in body.get("authority_keys", []):
                try:
                    v = NoteVerifier.from_vkey(str(vkey))
                except FormatError:
                    continue
                put(self.keys, v.name, KeyInfo(v.name, v, "authority", None, seq))
        elif type_ == "department.registered":
            put(self.departments, str(body.get("code")), str(body.get("name")))
        elif type_ == "key.registered":
            try:
                v = NoteVerifier.from_vkey(str(body.get("vkey")))
            except FormatError:
                return
            if v.name not in self.keys:
                put(self.keys, v.name, KeyInfo(v.name, v, "department", str(body.get("dept")),
                                               seq))
        elif type_ == "key.revoked":
            key = self.keys.get(str(body.get("name")))
            if key is not None and key.revoked is None:
                put(self.keys, key.name, KeyInfo(key.name, key.verifier, key.role, key.dept,
                                                 key.registered, seq))

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
