"""Inspections and their results (SPEC.md section 16; RULES-RESEARCH R8, R9; V14, V16, V17).

谁检查、谁录入、谁公开: the inspecting department states that an inspection ended (who
actually went), records the outcome, and publishes it. The district notice (川政发〔2019〕
7号, 附件 step 4) wants the result entered within 3 working days of the inspection's end;
publication follows within the policy's window (20 working days in the adjacent national
rules). Random inspections trace to a drawn target of an executed draw; targeted ones
(投诉举报, 转办交办, 数据监测) are typed apart and trace to a lead, whose details stay off the
log behind a commitment.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from verifier._calendar import iso_date

if TYPE_CHECKING:
    from verifier._state import LogState

__all__ = ["LEAD_SOURCES", "OUTCOMES", "inspection_errors", "random_target"]

# The outcome codes of a result record, with the wording 公示系统 uses for 抽查结果.
OUTCOMES: dict[str, tuple[str, str]] = {
    "no_problem": ("未发现问题", "no problem found"),
    "corrected": ("发现问题已责令改正", "problem found, ordered to correct"),
    "not_publicised": ("未按规定公示应当公示的信息", "required information not publicised"),
    "false_publicity": ("公示信息隐瞒真实情况、弄虚作假", "publicised information concealed or "
                        "falsified"),
    "unreachable": ("通过登记的住所（经营场所）无法联系", "cannot be reached at the registered "
                    "address"),
    "not_operating": ("未发现开展本次抽查涉及的经营活动", "no activity of the inspected kind"),
    "deregistered": ("已注销或被吊销营业执照", "deregistered or licence revoked"),
    "case_filed": ("发现问题已立案查处", "problem found, case opened"),
    "transferred": ("发现问题已移送有关部门处理", "problem found, transferred to the competent "
                    "authority"),
    "follow_up": ("发现问题待后续处理", "problem found, follow-up pending"),
}
LEAD_SOURCES = ("complaint", "referral", "monitoring")  # 投诉举报 / 转办交办 / 数据监测
_HEX64 = re.compile(r"\A[0-9a-f]{64}\Z")
_CASE = re.compile(r"\A[0-9A-Za-z][0-9A-Za-z_.-]{0,63}\Z")


def random_target(state: LogState, plan_id: str, batch_id: str, uscc: str
                  ) -> tuple[str, ...] | None:
    """The team drawn (after substitutions) for ``uscc`` in the batch's first execution,
    or None when the batch never drew it."""
    draw = state.draws.get(f"draw/{plan_id}/{batch_id}")
    if draw is None or not draw.executed or draw.voided:
        return None
    return dict(draw.teams).get(uscc)


def _text(body: dict[str, Any], name: str, out: list[str], *, limit: int = 4000) -> None:
    value = body.get(name)
    if type(value) is not str or not value.strip() or len(value) > limit:
        out.append(f"{name}: 1-{limit} characters required")


def inspection_errors(type_: str, body: dict[str, Any], state: LogState) -> list[str]:
    """Field rules of ``inspection.*``, ``result.*`` and ``lead.received`` bodies."""
    out: list[str] = []
    if type_ == "lead.received":
        if body.get("source") not in LEAD_SOURCES:
            out.append(f"source: one of {list(LEAD_SOURCES)}")
        if type(body.get("case_id")) is not str or not _CASE.match(body["case_id"]):
            out.append("case_id: 1-64 letters, digits, '_', '.' or '-'")
        if iso_date(body.get("received_on")) is None:
            out.append("received_on: not an ISO date")
        if type(body.get("commitment")) is not str or not _HEX64.match(body["commitment"]):
            out.append("commitment: SHA-256 (64 hex) of the salted lead details, which stay "
                       "off the log")
        return out
    if type_ == "inspection.completed":
        kind = body.get("kind")
        ended = iso_date(body.get("ended_on"))
        if ended is None:
            out.append("ended_on: not an ISO date")
        inspectors = body.get("inspectors")
        if type(inspectors) is not list or not inspectors \
                or not all(type(c) is str and c for c in inspectors) \
                or len(set(inspectors)) != len(inspectors):
            out.append("inspectors: the 执法证号 of those who went, distinct, at least one")
        if kind == "random":
            expected = f"{body.get('plan_id')}/{body.get('batch_id')}/{body.get('uscc')}"
            if body.get("inspection_id") != expected:
                out.append(f"inspection_id: a random inspection's id is {expected}")
            plan = state.plans.get(str(body.get("plan_id")))
            if plan is None or body.get("dept") not in plan.participants():
                out.append(f"dept: {body.get('dept')} takes no part in plan "
                           f"{body.get('plan_id')}")
        elif kind == "targeted":
            lead = state.streams.get(f"lead/{body.get('dept')}/{body.get('case_id')}")
            if lead is None:
                out.append(f"case_id: {body.get('dept')} received no lead "
                           f"{body.get('case_id')!r}")
            expected = f"targeted/{body.get('dept')}/{body.get('case_id')}/{body.get('uscc')}"
            if body.get("inspection_id") != expected:
                out.append(f"inspection_id: a targeted inspection's id is {expected}")
        else:
            out.append("kind: 'random' (双随机, traced to a draw) or 'targeted' (a lead)")
        return out
    if type_ in ("result.recorded", "result.corrected"):
        if body.get("outcome") not in OUTCOMES:
            out.append(f"outcome: one of {sorted(OUTCOMES)}")
        _text(body, "findings", out)
        attachments = body.get("attachments", [])
        if type(attachments) is not list or not all(
                type(a) is str and _HEX64.match(a) for a in attachments):
            out.append("attachments: a list of SHA-256 digests (64 hex); files stay off the log")
        if type_ == "result.corrected":
            corrects = body.get("corrects")
            earlier = state.results.get(f"inspection/{body.get('inspection_id')}", ())
            if type(corrects) is not int:
                out.append("corrects: the seq of the result record corrected")
            elif corrects not in {seq for _, seq in earlier}:
                out.append(f"corrects: entry {corrects} is not a result.recorded or "
                           f"result.corrected of inspection {body.get('inspection_id')}")
            _text(body, "reason", out, limit=500)
        return out
    if type_ == "result.published":
        if type(body.get("record_sha256")) is not str or not _HEX64.match(body["record_sha256"]):
            out.append("record_sha256: SHA-256 (64 hex) of the record as published")
        url = body.get("url")
        if type(url) is not str or not url.startswith(("https://", "http://")):
            out.append("url: where it is publicised (http or https)")
    return out
