"""Which body rules apply to which event type (SPEC.md sections 6.1 and 6.3).

``body_errors`` is the ``LogState.body_check`` used by both the ledger (before it writes)
and the auditor: registries, matters, plans, calendars, imports and policy.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from verifier._calendar import calendar_body_errors, iso_date
from verifier._plan import matter_errors, plan_errors, policy_errors
from verifier._registry import body_errors as registry_body_errors

if TYPE_CHECKING:
    from verifier._state import LogState

__all__ = ["IMPORT_KINDS", "body_errors"]

IMPORT_KINDS = ("targets", "inspectors")
_DEPT_RE = re.compile(r"\A[A-Z][A-Z0-9-]{1,31}\Z")
_SHA256_RE = re.compile(r"\A[0-9a-f]{64}\Z")


def body_errors(type_: str, body: dict[str, Any], state: LogState) -> list[str]:
    """Messages naming each field of ``body`` that breaks the rules of ``type_``."""
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
    return []


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
