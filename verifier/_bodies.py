"""Which body rules apply to which event type (SPEC.md sections 6.1 and 6.3).

``body_errors`` is the ``LogState.body_check`` used by both the ledger (before it writes)
and the auditor: registries, matters, plans, calendars, imports and policy.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from verifier._calendar import calendar_body_errors, iso_date
from verifier._draw import ALGORITHM
from verifier._plan import matter_errors, plan_errors, policy_errors
from verifier._registry import body_errors as registry_body_errors
from verifier._results import inspection_errors

if TYPE_CHECKING:
    from verifier._state import LogState

__all__ = ["IMPORT_KINDS", "body_errors", "stateless_errors"]

IMPORT_KINDS = ("targets", "inspectors")
_DEPT_RE = re.compile(r"\A[A-Z][A-Z0-9-]{1,31}\Z")
_SHA256_RE = re.compile(r"\A[0-9a-f]{64}\Z")


def stateless_errors(type_: str, body: dict[str, Any]) -> list[str] | None:
    """``body_errors`` for the types whose rules read no log state (registry targets and
    inspectors), None for the others: what the audit may judge out of order, in a worker
    process (verifier._pipeline). A rule that comes to read the state moves out of here."""
    if type_.startswith(("target.", "inspector.")):
        return registry_body_errors(type_, body)
    return None


def body_errors(type_: str, body: dict[str, Any], state: LogState) -> list[str]:
    """Messages naming each field of ``body`` that breaks the rules of ``type_``."""
    stateless = stateless_errors(type_, body)
    if stateless is not None:
        return stateless
    if type_ == "log.genesis":
        return policy_errors(body.get("policy"))
    if type_ == "policy.amended":
        return policy_errors(body.get("policy"))
    if type_ == "department.registered":
        out = []
        if type(body.get("code")) is not str or not _DEPT_RE.match(body["code"]):
            out.append("code: 2-32 upper-case letters, digits or '-', starting with a letter")
        if type(body.get("name")) is not str or not body["name"].strip():
            out.append("name: empty")
        return out
    if type_ == "matter.published":
        return matter_errors(body, state.departments)
    if type_ in ("calendar.published", "calendar.amended"):
        return calendar_body_errors(body)
    if type_ in ("plan.filed", "plan.amended"):
        return plan_errors(body, state.departments, state.matters, state.min_team_size())
    if type_ == "plan.received":
        if iso_date(body.get("received_on")) is not None:
            return []
        return ["received_on: not an ISO date (YYYY-MM-DD, a real day)"]
    if type_ == "plan.published":
        url = body.get("url")
        if type(url) is str and url.startswith(("https://", "http://")):
            return []
        return ["url: the address where the plan is published (http or https)"]
    if type_ == "import.recorded":
        return _import_errors(body)
    if type_.startswith(("target.", "inspector.", "conflict.")):
        return _registry_errors(type_, body, state)
    if type_.startswith("draw."):
        return _draw_errors(type_, body, state)
    if type_.startswith(("inspection.", "result.", "lead.")):
        return inspection_errors(type_, body, state)
    return []


def _hex64(value: Any) -> bool:
    return type(value) is str and _SHA256_RE.match(value) is not None


def _draw_errors(type_: str, body: dict[str, Any], state: LogState) -> list[str]:
    """Shapes and references of draw statements; fairness is the audit's (section 14.11)."""
    plan = state.plans.get(str(body.get("plan_id")))
    found = plan.batch(str(body.get("batch_id"))) if plan else None
    if plan is None or found is None:
        return [f"batch_id: plan {body.get('plan_id')!r} has no batch {body.get('batch_id')!r}"]
    draw = state.draws.get(f"draw/{body['plan_id']}/{body['batch_id']}")
    out = []
    if type_ == "draw.committed":
        if body.get("plan_seq") != plan.seq:
            out.append(f"plan_seq: {body.get('plan_seq')!r} is not the plan's current version "
                       f"(entry {plan.seq})")
        if body.get("algorithm") != ALGORITHM:
            out.append(f"algorithm: must be {ALGORITHM!r}")
        beacon = body.get("beacon")
        if type(beacon) is not dict or not _hex64(beacon.get("chain")) \
                or type(beacon.get("round")) is not int or beacon["round"] < 1:
            out.append("beacon: needs chain (64 hex digits) and round (a positive integer)")
        recipe = found[1].get("randomness", {})
        parties = body.get("parties")
        if type(parties) is not list or any(
                type(p) is not dict or not _hex64(p.get("commitment")) for p in parties):
            out.append("parties: a list of {dept, commitment (64 hex digits)}")
        elif [p.get("dept") for p in parties] != list(recipe.get("commit_reveal", [])):
            out.append("parties: must be the plan's commit_reveal departments, in order")
        if type(body.get("lottery")) is not list:
            out.append("lottery: not a list")
        for name in ("pool", "roster", "conflicts", "excluded"):
            part = body.get(name)
            if type(part) is not dict or not _hex64(part.get("root")) \
                    or type(part.get("size")) is not int:
                out.append(f"{name}: needs root (64 hex digits) and size")
        return out
    if draw is None:
        return [f"batch_id: {body['plan_id']}/{body['batch_id']} has not been committed"]
    if type_ == "draw.revealed":
        if not _hex64(body.get("secret")):
            out.append("secret: not 64 hex digits")
        if body.get("dept") not in [p.get("dept") for p in draw.commit.get("parties", [])]:
            out.append(f"dept: {body.get('dept')} is not a committing party")
        if any(d == body.get("dept") for d, _ in draw.reveals):
            out.append(f"dept: {body.get('dept')} has already revealed")
    elif type_ == "draw.executed":
        if type(body.get("commit_seq")) is not int:
            out.append("commit_seq: not an integer")
        for name, kind in (("beacon", dict), ("lottery", dict), ("reveals", list),
                           ("outcome", dict)):
            if type(body.get(name)) is not kind:
                out.append(f"{name}: not a{'n object' if kind is dict else ' list'}")
    elif type_ in ("draw.unfillable", "draw.substituted"):
        if not draw.executed:
            out.append("the batch has not been drawn")
        if type(body.get("uscc")) is not str:
            out.append("uscc: not a string")
        if type_ == "draw.substituted":
            if type(body.get("out")) is not str:
                out.append("out: the 执法证号 leaving the team")
            if body.get("in") is not None and type(body.get("in")) is not str:
                out.append("in: the substitute's 执法证号, or null")
            if type(body.get("reason")) is not str or not body["reason"].strip():
                out.append("reason: empty")
    elif type_ == "draw.voided":
        for name in ("reason", "approver"):
            if type(body.get(name)) is not str or not body[name].strip():
                out.append(f"{name}: empty")
    return out


def _import_errors(body: dict[str, Any]) -> list[str]:
    out = []
    if body.get("kind") not in IMPORT_KINDS:
        out.append(f"kind: must be one of {list(IMPORT_KINDS)}")
    if type(body.get("file_sha256")) is not str or not _SHA256_RE.match(body["file_sha256"]):
        out.append("file_sha256: not 64 lowercase hex digits")
    if type(body.get("rows")) is not int or body["rows"] < 1:
        out.append("rows: not a positive integer")
    if type(body.get("batch")) is not str or not body["batch"] or "/" in body["batch"]:
        out.append("batch: not a batch id (non-empty, no '/')")
    if type(body.get("file_name")) is not str:
        out.append("file_name: not a string")
    return out


def _registry_errors(type_: str, body: dict[str, Any], state: LogState) -> list[str]:
    out = registry_body_errors(type_, body)
    if type_.startswith("conflict."):
        inspector = state.streams.get(f"inspector/{body.get('cert_no')}")
        if inspector is None or inspector.owner != body.get("dept"):
            out.append(f"cert_no: {body.get('cert_no')!r} is not an inspector of "
                       f"{body.get('dept')}")
    return out
