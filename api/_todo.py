"""``GET /v1/departments/{code}/todo``: what is drawn for a department and what is due.

谁检查、谁录入: a department's inspectors are drawn onto teams, then the department
states the inspection's end, records the result within the policy's working days (3 by
default) and publishes it (20). This endpoint lists, for one department, every drawn
target on a team with one of its inspectors and every inspection it stated, with the
deadlines counted by the verifier's own calendar functions from the calendars published
on the log (a year without one leaves its deadline null, never guessed Monday-Friday).
Inspections and results are followed by the verifier's ``ResultAuditor``, fed the new
entries on each request, so the list says what an audit of the same log would.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from fastapi import APIRouter, Path, Query

from api._problems import Problem
from ledger import Ledger
from verifier import parse_entry
from verifier._receipt import inspection_due
from verifier._resultaudit import ResultAuditor

__all__ = ["STATUS_ZH", "TODO_FORMAT", "todo_router"]

TODO_FORMAT = "drawledger/todo/v1"
STATUS_ZH = {"to_inspect": "待检查", "to_record": "待录入结果", "to_publish": "待公示",
             "done": "已公示"}
_SHANGHAI = timezone(timedelta(hours=8))
_MARK = b'"inspection/'  # every inspection.* and result.* entry names its stream so


class _Tracker:
    """Inspections as replayed so far; catches up with the ledger on each request."""

    def __init__(self) -> None:
        self.seen = 0
        self.auditor = ResultAuditor()
        self.guard = threading.Lock()

    def catch_up(self, ledger: Ledger) -> None:
        size = ledger.size
        with self.guard:
            if self.seen >= size:
                return
            for seq, raw in ledger.entries(self.seen, size):
                if _MARK not in raw:
                    continue
                entry = parse_entry(raw)
                if entry.type.startswith(("inspection.", "result.")):
                    # Findings are the audit's business; only the inspections are kept.
                    self.auditor.feed(seq, entry.type, entry.body, entry.time, ledger.state)
            self.seen = size


def _item(stream: str, info: Any, kind: str, uscc: str, team: list[str],
          plan: dict[str, Any] | None, draw_date: str | None, today: date,
          ledger: Ledger) -> dict[str, Any]:
    inspection_id = stream.removeprefix("inspection/")
    parts = inspection_id.split("/")
    status = ("to_inspect" if info is None else "to_record" if info.recorded is None
              else "to_publish" if info.published is None else "done")
    year = plan.get("year") if plan else None
    due: dict[str, Any] = {"record_days": None, "record_by": None, "publish_days": None,
                           "publish_by": None}
    if info is not None and info.ended_on is not None:
        due = inspection_due(info.ended_on.isoformat(), ledger.state.policy,
                             ledger.state.calendars)
        del due["ended_on"]
    limit = {"to_inspect": f"{year}-12-31" if type(year) is int else None,
             "to_record": due["record_by"], "to_publish": due["publish_by"]}.get(status)
    return {
        "inspection_id": inspection_id, "kind": kind, "uscc": uscc,
        "plan_id": parts[0] if kind == "random" else None,
        "batch_id": parts[1] if kind == "random" and len(parts) > 2 else None,
        "draw_date": draw_date, "team": team,
        "ended_on": info.ended_on.isoformat() if info and info.ended_on else None,
        **due,
        "outcome_by": f"{year}-12-31" if type(year) is int else None,
        "status": status, "status_zh": STATUS_ZH[status],
        "overdue": limit is not None and today.isoformat() > limit,
        "completed_seq": info.seq if info else None,
        "recorded_seq": info.recorded if info else None,
        "published_seq": info.published if info else None,
    }


def todo(ledger: Ledger, tracker: _Tracker, code: str, include_done: bool,
         today: date) -> dict[str, Any]:
    """The todo object (SPEC.md section 18.6) of department ``code``."""
    state = ledger.state
    tracker.catch_up(ledger)
    inspections = tracker.auditor.inspections
    items: dict[str, dict[str, Any]] = {}
    for draw in state.draws.values():
        if not draw.executed or draw.voided:
            continue
        plan = state.plans.get(draw.plan_id)
        for uscc, team in draw.teams:
            mine = any((view := state.inspectors.get(c)) is not None and view[0] == code
                       for c in team)
            if not mine:
                continue
            stream = f"inspection/{draw.plan_id}/{draw.batch_id}/{uscc}"
            items[stream] = _item(stream, inspections.get(stream), "random", uscc, list(team),
                                  plan.body if plan else None, draw.draw_date, today, ledger)
    for stream, info in inspections.items():
        if info.dept != code or stream in items:
            continue
        plan_id = stream.removeprefix("inspection/").split("/")[0]
        plan = state.plans.get(plan_id) if info.kind == "random" else None
        items[stream] = _item(stream, info, info.kind, info.uscc, [],
                              plan.body if plan else None, None, today, ledger)
    counts = dict.fromkeys(STATUS_ZH, 0)
    for item in items.values():
        counts[item["status"]] += 1
    listed = [items[k] for k in sorted(items)
              if include_done or items[k]["status"] != "done"]
    return {"format": TODO_FORMAT, "dept": code, "dept_name": state.departments[code],
            "size": ledger.size, "today": today.isoformat(), "counts": counts,
            "items": listed}


def todo_router(ledger: Callable[[], Ledger], lock: AbstractContextManager[Any],
                clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> APIRouter:
    """The router ``api._app`` includes: ``ledger`` is a reading ledger whose replayed
    state ``lock`` guards; ``clock`` says what today is (overdue or not)."""
    router = APIRouter()
    tracker = _Tracker()

    @router.get("/v1/departments/{code}/todo")
    def department_todo(code: str = Path(description="the department's code"),
                        all: bool = Query(False, description="list finished ones too")
                        ) -> dict[str, Any]:
        """本部门被抽中的检查对象与期限 / what is drawn for the department and what is due:
        result entry and publication by the working days of the published calendars."""
        with lock:
            led = ledger()
            led.refresh()
            if code not in led.state.departments:
                raise Problem("not-found", f"没有登记部门 {code}",
                              f"no registered department {code}")
            today = clock().astimezone(_SHANGHAI).date()
            return todo(led, tracker, code, all, today)

    return router
