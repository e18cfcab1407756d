"""What the public portal may show: the whitelist of public fields, as data, in one place.

The portal reads the log's full internal view (every body field, the replayed registries),
so nothing but this list stands between an internal field and a public page. Each event
type maps to the body fields the portal may keep; a nested mapping keeps only its own
members of an object (or of each object of a list). A type that is not listed gives the
portal nothing. Deliberately absent (SPEC 6.3, issues 9 and 15): a target's `risk`
(信用风险分类) and its stratum (the strata are risk classes; counts per stratum are
aggregates and stay), an inspector's `valid_from`/`valid_to`/`qualifications`/`unit`,
every conflict (回避) declaration and pair, a substitution's `reason`, a void's reason and
approver, a result's findings text and attachments, a lead's details, ID numbers, phones
and addresses. ``tests/test_portal_privacy.py`` walks every page and JSON of the demo
year and checks that none of these values appears.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PUBLIC_BODY", "PUBLIC_REPORT", "public_body", "public_report"]

# A spec: field name -> None (keep the value as it is) or a nested spec (keep only those
# members of the object, or of each object in a list).
Spec = dict[str, Any]

_PLAN: Spec = {"plan_id": None, "year": None, "dept": None, "joint": None, "title": None,
               "tasks": {"task_id": None, "matter": None,
                         "batches": {"batch_id": None, "draw_date": None}}}
_MATTER: Spec = {"id": None, "name": None, "dept": None, "kind": None}
_DRAW: Spec = {"plan_id": None, "batch_id": None, "dept": None}

PUBLIC_BODY: dict[str, Spec] = {
    "log.genesis": {"origin": None, "spec": None, "quorum": None, "witnesses": None,
                    "policy": {"plan_filing_deadline": None, "result_entry_working_days": None,
                               "publication_working_days": None, "min_team_size": None}},
    "department.registered": {"code": None, "name": None},
    "matter.published": _MATTER,
    "matter.amended": _MATTER,
    "matter.withdrawn": {"id": None},
    "target.added": {"uscc": None, "name": None, "dept": None},
    "target.updated": {"uscc": None, "name": None, "dept": None},
    "target.removed": {"uscc": None, "dept": None},
    "inspector.added": {"cert_no": None, "name": None, "dept": None},
    "inspector.updated": {"cert_no": None, "name": None, "dept": None},
    "inspector.removed": {"cert_no": None, "dept": None},
    "plan.filed": _PLAN,
    "plan.amended": _PLAN,
    "plan.received": {"plan_id": None, "received_on": None},
    "plan.published": {"plan_id": None, "dept": None, "url": None},
    "draw.committed": {**_DRAW, "draw_time": None, "beacon": {"chain": None, "round": None},
                       "pool": {"root": None, "size": None, "strata": None, "sample": None},
                       "excluded": {"size": None}, "parties": {"dept": None}},
    "draw.revealed": _DRAW,
    "draw.executed": {**_DRAW, "commit_seq": None, "beacon": {"chain": None, "round": None},
                      "outcome": {"seed": None, "cutoffs": None,
                                  "selected": {"uscc": None, "team": None},
                                  "unfillable": {"uscc": None, "dept": None}}},
    "draw.unfillable": {**_DRAW, "uscc": None, "short": None},
    "draw.substituted": {**_DRAW, "uscc": None, "out": None, "in": None},
    "draw.voided": _DRAW,
    "inspection.completed": {"inspection_id": None, "kind": None, "dept": None, "uscc": None,
                             "ended_on": None, "inspectors": None, "plan_id": None,
                             "batch_id": None},
    "result.recorded": {"inspection_id": None, "dept": None, "outcome": None},
    "result.corrected": {"inspection_id": None, "dept": None, "outcome": None,
                         "corrects": None},
    "result.published": {"inspection_id": None, "dept": None, "record_sha256": None,
                         "url": None},
}

# The audit report (python -m verifier audit --json): aggregates only. Finding sentences
# are left out: they name whatever a rule concerns (a conflict pair, a risk class).
PUBLIC_REPORT: Spec = {
    "exit_code": None, "entries": None, "checkpoints": None, "checkpoints_verified": None,
    "now": {"time": None, "basis": None},
    "relied_on": {"size": None, "root": None, "witnessed": None},
    "findings": {"rule": None, "kind": None, "dept": None},
    "findings_not_shown": None,
    "draws": {"committed": None, "executed": None, "verified": None, "redraws": None,
              "voided": None, "substituted": None},
    "results": {"random": None, "targeted": None, "recorded": None, "published": None,
                "late_entry": None, "late_publication": None, "outcomes": None},
    "departments": None,  # per department code: filtered by _DEPARTMENT below
    "statistics": {"tests": {"name": None, "zh": None, "en": None, "verdict": None}},
}
_DEPARTMENT: Spec = {"name": None, "plans": None, "plans_on_time": None, "draws": None,
                     "draws_verified": None, "results": None, "results_on_time": None,
                     "published": None, "findings": None}


def _keep(value: Any, spec: Spec | None) -> Any:
    if spec is None:
        return value
    if isinstance(value, list):
        return [_keep(v, spec) for v in value if isinstance(v, dict)]
    if not isinstance(value, dict):
        return None
    return {k: _keep(value[k], sub) for k, sub in spec.items() if k in value}


def public_body(type_: str, body: dict[str, Any]) -> dict[str, Any]:
    """The public part of an entry's body: only the whitelisted fields of its type."""
    spec = PUBLIC_BODY.get(type_)
    return {} if spec is None else dict(_keep(body, spec))


def public_report(report: dict[str, Any]) -> dict[str, Any]:
    """The public part of an audit report: its aggregates, no finding's sentences."""
    out: dict[str, Any] = dict(_keep(report, PUBLIC_REPORT))
    departments = report.get("departments")
    if isinstance(departments, dict):
        out["departments"] = {str(code): _keep(row, _DEPARTMENT)
                              for code, row in departments.items() if isinstance(row, dict)}
    return out
