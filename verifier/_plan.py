"""Annual plans, matters and policy: body rules (SPEC.md section 6.3).

A plan fixes, before any draw, what each batch may draw: the matter, the pool rule, the
strata and their ratios, exclusions, team composition, conflict rules, load cap, draw date
and randomness recipe. ``plan_errors`` rejects an incoherent plan with messages that name
the field, so the ledger refuses it and the auditor flags it if a log accepted it anyway.
"""

from __future__ import annotations

import re
from typing import Any

from verifier._calendar import iso_date

__all__ = ["MATTER_KINDS", "ROUNDING", "matter_errors", "plan_errors", "policy_errors"]

MATTER_KINDS = ("general", "key")  # 一般检查事项 / 重点检查事项
ROUNDING = ("ceil", "floor", "half_up")
PPM = 1_000_000
_ID_RE = re.compile(r"\A[0-9A-Za-z][0-9A-Za-z_.-]{0,63}\Z")
_MMDD_RE = re.compile(r"\A(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])\Z")
_POLICY_INTS = ("result_entry_working_days", "publication_working_days", "min_team_size")


def _is_int(value: Any, low: int, high: int) -> bool:
    return type(value) is int and low <= value <= high


def _strings(value: Any) -> bool:
    return type(value) is list and all(type(v) is str and v for v in value)


def policy_errors(policy: Any) -> list[str]:
    """The jurisdiction policy in the genesis or a ``policy.amended`` body."""
    if type(policy) is not dict:
        return ["policy: not an object"]
    out = []
    deadline = policy.get("plan_filing_deadline")
    if type(deadline) is not str or not _MMDD_RE.match(deadline):
        out.append("policy.plan_filing_deadline: not MM-DD")
    for name in _POLICY_INTS:
        if not _is_int(policy.get(name), 1, 366):
            out.append(f"policy.{name}: not an integer from 1 to 366")
    return out


def matter_errors(body: dict[str, Any], departments: dict[str, str]) -> list[str]:
    """A ``matter.published`` body: one line of the 随机抽查事项清单."""
    out = []
    if type(body.get("id")) is not str or not _ID_RE.match(body["id"]):
        out.append("id: not 1-64 letters, digits, '_', '.' or '-'")
    if type(body.get("name")) is not str or not body["name"].strip():
        out.append("name: empty")
    if body.get("dept") not in departments:
        out.append(f"dept: {body.get('dept')!r} is not a registered department")
    if body.get("kind") not in MATTER_KINDS:
        out.append(f"kind: must be one of {list(MATTER_KINDS)}")
    if type(body.get("basis")) is not str or not body["basis"].strip():
        out.append("basis: the legal basis (抽查依据) is required")
    if not _is_int(body.get("ratio_ppm"), 1, PPM):
        out.append("ratio_ppm: not an integer from 1 to 1000000")
    return out


def plan_errors(body: dict[str, Any], departments: dict[str, str],
                matters: dict[str, dict[str, Any]], min_team_size: int) -> list[str]:
    """A ``plan.filed`` or ``plan.amended`` body, against the registered departments, the
    published matters and the policy's minimum team size."""
    out: list[str] = []
    year = body.get("year")
    if type(year) is not int or not 2000 <= year <= 2100:
        return ["year: not an integer from 2000 to 2100"]
    if type(body.get("plan_id")) is not str or not _ID_RE.match(body["plan_id"]):
        out.append("plan_id: not 1-64 letters, digits, '_', '.' or '-'")
    lead = body.get("dept")
    joint = body.get("joint", [])
    if not _strings(joint):
        out.append("joint: not a list of department codes")
        joint = []
    participants = {lead, *joint}
    for i, code in enumerate(joint):
        if code not in departments:
            out.append(f"joint[{i}]: {code!r} is not a registered department")
        if code == lead or joint.count(code) > 1:
            out.append(f"joint[{i}]: {code!r} is the lead department or listed twice")
    tasks = body.get("tasks")
    if type(tasks) is not list or not tasks:
        return [*out, "tasks: at least one task is required"]
    seen_tasks: set[str] = set()
    seen_batches: set[str] = set()
    for t, task in enumerate(tasks):
        where = f"tasks[{t}]"
        if type(task) is not dict:
            out.append(f"{where}: not an object")
            continue
        task_id = task.get("task_id")
        if type(task_id) is not str or not task_id or task_id in seen_tasks:
            out.append(f"{where}.task_id: missing or repeated")
        seen_tasks.add(str(task_id))
        matter = matters.get(str(task.get("matter")))
        if matter is None or matter.get("withdrawn"):
            out.append(f"{where}.matter: {task.get('matter')!r} is not a published matter")
        elif matter.get("dept") not in participants:
            out.append(f"{where}.matter: {task.get('matter')} belongs to {matter.get('dept')}, "
                       "which does not take part in this plan")
        batches = task.get("batches")
        if type(batches) is not list or not batches:
            out.append(f"{where}.batches: at least one batch is required")
            continue
        for b, batch in enumerate(batches):
            out.extend(_batch_errors(f"{where}.batches[{b}]", batch, year, participants,
                                     matter, min_team_size, seen_batches))
    return out


def _batch_errors(where: str, batch: Any, year: int, participants: set[Any],
                  matter: dict[str, Any] | None, min_team_size: int,
                  seen: set[str]) -> list[str]:
    if type(batch) is not dict:
        return [f"{where}: not an object"]
    out = []
    batch_id = batch.get("batch_id")
    if type(batch_id) is not str or not _ID_RE.match(batch_id) or batch_id in seen:
        out.append(f"{where}.batch_id: missing, malformed or repeated")
    seen.add(str(batch_id))
    draw = iso_date(batch.get("draw_date"))
    if draw is None:
        out.append(f"{where}.draw_date: not an ISO date")
    elif draw.year != year:
        out.append(f"{where}.draw_date: {draw} is outside the plan year {year}")
    pool = batch.get("pool")
    if type(pool) is not dict or not _strings(pool.get("registries")) or not pool["registries"]:
        out.append(f"{where}.pool.registries: at least one sub-registry is required")
    else:
        for key in ("industry", "region", "status"):
            if key in pool and not _strings(pool[key]):
                out.append(f"{where}.pool.{key}: not a list of strings")
    strata = batch.get("strata")
    if type(strata) is not list or not strata:
        out.append(f"{where}.strata: at least one stratum is required")
        strata = []
    ids: set[str] = set()
    cap = matter.get("ratio_ppm") if matter and matter.get("kind") == "general" else None
    for s, stratum in enumerate(strata):
        at = f"{where}.strata[{s}]"
        if type(stratum) is not dict:
            out.append(f"{at}: not an object")
            continue
        if type(stratum.get("id")) is not str or not stratum["id"] or stratum["id"] in ids:
            out.append(f"{at}.id: missing or repeated")
        ids.add(str(stratum.get("id")))
        if type(stratum.get("filter")) is not dict:
            out.append(f"{at}.filter: not an object")
        ratio = stratum.get("ratio_ppm")
        if type(ratio) is not int or not 1 <= ratio <= PPM:
            out.append(f"{at}.ratio_ppm: {ratio!r} is not an integer from 1 to 1000000")
        elif type(cap) is int and ratio > cap:
            out.append(f"{at}.ratio_ppm: {ratio} exceeds the general matter's cap {cap}")
    if batch.get("rounding") not in ROUNDING:
        out.append(f"{where}.rounding: must be one of {list(ROUNDING)}")
    if not _is_int(batch.get("exclusion_days", 0), 0, 3660):
        out.append(f"{where}.exclusion_days: not an integer from 0 to 3660")
    if not _is_int(batch.get("load_cap"), 1, 100_000):
        out.append(f"{where}.load_cap: not a positive integer")
    team = batch.get("team")
    if type(team) is not dict or not team:
        out.append(f"{where}.team: a minimum number of inspectors per department is required")
    else:
        for dept, size in team.items():
            if dept not in participants:
                out.append(f"{where}.team.{dept}: not a department of this plan")
            if type(size) is not int or not min_team_size <= size <= 100:
                out.append(f"{where}.team.{dept}: {size!r} is below the policy minimum of "
                           f"{min_team_size} distinct 执法证号")
    conflicts = batch.get("conflicts")
    if type(conflicts) is not dict or type(conflicts.get("declared")) is not bool \
            or type(conflicts.get("same_unit")) is not bool \
            or not _is_int(conflicts.get("prior_days"), 0, 3660):
        out.append(f"{where}.conflicts: needs declared (bool), same_unit (bool), "
                   "prior_days (0-3660)")
    if type(batch.get("randomness")) is not dict:
        out.append(f"{where}.randomness: the randomness recipe is required")
    return out
