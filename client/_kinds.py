"""What a department (or the authority) can sign offline, and the offline body check.

Each KIND of ``drawledger-client sign`` names one event type (SPEC.md sections 6.1, 16.1).
The stream and the actor are derived from the body, never typed by hand, and the body is
checked with the verifier's own rules before anything is signed, so a bad body is refused
on the signer's machine, naming the field, instead of travelling to the log.

What only the log knows (is that plan's matter published, was the lead received, which
seq is being corrected, the policy's team minimum) is taken as given here: the log checks
it again on submission with the same rules, and refuses with the rule's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from verifier import FormatError, NoteVerifier
from verifier._bodies import body_errors
from verifier._results import OUTCOMES
from verifier._state import TYPE_RULES, LogState, PlanInfo, StreamInfo

__all__ = ["KINDS", "Kind", "OfflineError", "prepare"]


class OfflineError(ValueError):
    """A body the signer's own check refuses; the message names the field."""


@dataclass(frozen=True)
class Kind:
    """One KIND of statement: its event type, who states it and what the body holds."""

    type: str
    zh: str
    en: str
    derived: str = ""  # fields the client fills in when the body leaves them out
    example: str = ""

    @property
    def authority(self) -> bool:
        return TYPE_RULES[self.type].role in ("authority", "genesis")

    @property
    def required(self) -> tuple[str, ...]:
        return TYPE_RULES[self.type].required

    def help_text(self) -> str:
        """The action's help: required fields (Chinese first), derived ones, an example."""
        who = "机关（authority）" if self.authority else "本部门（body.dept）"
        lines = [f"{self.zh} / {self.en}",
                 f"事件类型 / event type: {self.type}; 声明人 / actor: {who}",
                 "必填字段 / required body fields: " + ", ".join(self.required)]
        if self.derived:
            lines.append(f"可省略，由客户端推出 / derived when left out: {self.derived}")
        if self.type in ("result.recorded", "result.corrected"):
            lines.append("结论代码 / outcome codes:")
            lines += [f"  {code}  {zh} / {en}" for code, (zh, en) in OUTCOMES.items()]
        if self.type == "lead.received":
            lines.append("来源 / source: complaint 投诉举报, referral 转办交办, "
                         "monitoring 数据监测")
        if self.example:
            lines.append(f"示例 / example: {self.example}")
        return "\n".join(lines)


KINDS: dict[str, Kind] = {
    "inspection-complete": Kind(
        "inspection.completed", "检查结束：谁去检查了", "an inspection's end: who went",
        "kind (random when plan_id is given, targeted when case_id is), inspection_id",
        '{"dept": "SCJG", "uscc": "...", "plan_id": "P1", "batch_id": "B1", '
        '"ended_on": "2026-03-02", "inspectors": ["370302190001", "370302190002"]}'),
    "result-record": Kind(
        "result.recorded", "录入检查结果", "record an inspection's result",
        "attachments (--attachment FILE adds its SHA-256)",
        '{"dept": "SCJG", "inspection_id": "P1/B1/<uscc>", "outcome": "no_problem", '
        '"findings": "..."}'),
    "result-publish": Kind(
        "result.published", "公示检查结果", "publish an inspection's result",
        "record_sha256 (--record FILE: the record exactly as publicised)",
        '{"dept": "SCJG", "inspection_id": "P1/B1/<uscc>", "url": "https://..."}'),
    "result-correct": Kind(
        "result.corrected", "更正检查结果", "correct a recorded result",
        "attachments (--attachment FILE)",
        '{"dept": "SCJG", "inspection_id": "...", "corrects": 123, "outcome": "corrected", '
        '"findings": "...", "reason": "..."}'),
    "lead-receive": Kind(
        "lead.received", "接收线索（定向检查）", "receive a lead (targeted inspection)",
        "commitment (--details FILE: a salted SHA-256; the salt is kept beside the "
        "statement file, the details stay off the log)",
        '{"dept": "SCJG", "case_id": "C-1", "source": "complaint", '
        '"received_on": "2026-03-01"}'),
    "plan-file": Kind("plan.filed", "报备年度抽查计划", "file an annual plan"),
    "register-department": Kind(
        "department.registered", "登记成员单位", "register a department", "",
        '{"code": "SCJG", "name": "市场监管局"}'),
    "register-key": Kind(
        "key.registered", "登记部门声明密钥", "register a department's statement key",
        "name (from the vkey), role (department)",
        '{"vkey": "<the vkey keygen printed>", "dept": "SCJG"}'),
    "revoke-key": Kind("key.revoked", "吊销部门声明密钥", "revoke a department's key", "",
                       '{"name": "scjg-2026", "reason": "lost"}'),
    "genesis": Kind("log.genesis", "创世条目", "the log's genesis entry"),
}


def _derive(kind: Kind, body: dict[str, Any]) -> dict[str, Any]:
    body = dict(body)
    if kind.type == "inspection.completed":
        if "kind" not in body:
            body["kind"] = "targeted" if "case_id" in body else "random"
        if "inspection_id" not in body:
            if body["kind"] == "random":
                body["inspection_id"] = (f"{body.get('plan_id')}/{body.get('batch_id')}/"
                                         f"{body.get('uscc')}")
            else:
                body["inspection_id"] = (f"targeted/{body.get('dept')}/{body.get('case_id')}/"
                                         f"{body.get('uscc')}")
    elif kind.type in ("result.recorded", "result.corrected"):
        body.setdefault("attachments", [])
    elif kind.type == "key.registered":
        body.setdefault("role", "department")
        if "name" not in body and type(body.get("vkey")) is str:
            body["name"] = body["vkey"].split("+", 1)[0]
    return body


def _assumed(type_: str, body: dict[str, Any]) -> LogState:
    """A log state granting what only the log can tell, so the verifier's body rules
    check everything else (the log checks the rest on submission)."""
    state = LogState()
    state.policy = {"min_team_size": 1}
    dept = str(body.get("dept"))
    if type_ == "inspection.completed":
        state.plans[str(body.get("plan_id"))] = PlanInfo({"dept": dept}, 0)
        state.streams[f"lead/{dept}/{body.get('case_id')}"] = StreamInfo(1, dept)
    elif type_ == "result.corrected" and type(body.get("corrects")) is int:
        state.results[f"inspection/{body.get('inspection_id')}"] = (
            ("result.recorded", body["corrects"]),)
    elif type_ in ("plan.filed", "plan.amended"):
        joint = body.get("joint", [])
        for code in [dept, *(joint if type(joint) is list else [])]:
            state.departments[str(code)] = str(code)
        tasks = body.get("tasks")
        for task in tasks if type(tasks) is list else []:
            if type(task) is dict:
                state.matters[str(task.get("matter"))] = {"dept": dept, "kind": "key"}
    return state


def _key_errors(body: dict[str, Any]) -> list[str]:
    """Rule 10 of SPEC 6.2 for ``key.registered``, as far as the body alone can tell."""
    try:
        vkey = NoteVerifier.from_vkey(str(body.get("vkey")))
    except FormatError as exc:
        return [f"vkey: not a verifier key ({exc})"]
    out = []
    if vkey.sigtype != 1:
        out.append("vkey: a statement key is Ed25519 (sigtype 1), not a witness key")
    if vkey.name != body.get("name"):
        out.append(f"name: {body.get('name')!r} is not the vkey's name {vkey.name!r}")
    if body.get("role") not in ("department", "auditor"):
        out.append("role: must be 'department' or 'auditor' (an audit body's request key)")
    return out


def prepare(kind_name: str, body: Any) -> tuple[str, str, str, dict[str, Any]]:
    """(type, stream, actor, body) for a KIND and its body, or OfflineError naming every
    field at fault."""
    kind = KINDS[kind_name]
    if not isinstance(body, dict):
        raise OfflineError("body: must be a JSON object")
    body = _derive(kind, body)
    rule = TYPE_RULES[kind.type]
    missing = [f for f in rule.required if f not in body]
    if missing:
        raise OfflineError("body: 缺少必填字段 / missing required fields: " + ", ".join(missing))
    if kind.authority:
        actor = "authority"
    else:
        actor = body["dept"]
        if type(actor) is not str or not actor:
            raise OfflineError("body.dept: the stating department's code")
    errors = body_errors(kind.type, body, _assumed(kind.type, body))
    if kind.type == "key.registered":
        errors += _key_errors(body)
    if errors:
        raise OfflineError("; ".join(f"body.{e}" for e in errors))
    return kind.type, rule.stream(body), actor, body
