"""Result timeliness and completeness in the audit replay (V10, V16, V17; SPEC.md 16.3).

Deadlines count working days from the day after the inspection ended, by the published
calendars only (a year without one makes the check unverifiable), against the log time of
the entry in Asia/Shanghai. At the end of the replay: results never published although
their window has closed, and drawn targets with no outcome once their plan year is over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from verifier._calendar import CalendarMissing, WorkingCalendar, iso_date
from verifier._errors import VerifierError
from verifier._results import OUTCOMES, random_target
from verifier._state import UNVERIFIABLE, VIOLATION, Finding, LogState

__all__ = ["ResultAuditor", "second_record_finding"]


@dataclass
class _Inspection:
    seq: int
    dept: str
    kind: str
    uscc: str
    ended_on: date | None
    recorded: int | None = None
    published: int | None = None
    outcome: str | None = None
    late: bool = False


def _second_record(seq: int, inspection: str, first: int, dept: str) -> Finding:
    return Finding("V16.second_record", VIOLATION, seq,
                   f"检查 {inspection} 的结果已于第 {first} 条录入，此处再次录入：结果只能录入"
                   f"一次，变更须以 result.corrected（corrects = {first}，并说明 reason）更正",
                   f"inspection {inspection} already has its result recorded at entry {first}; "
                   "a second result.recorded would silently replace it: a change is a "
                   f"result.corrected with corrects = {first} and a reason", dept=dept)


def second_record_finding(state: LogState, seq: int, type_: str, body: dict[str, Any]
                          ) -> Finding | None:
    """V16.second_record for a ``result.recorded`` at ``seq`` of an inspection whose
    result the replayed state already holds: what the log refuses to write (SPEC.md
    16.1) and the audit reports (16.3), by the same words."""
    if type_ != "result.recorded":
        return None
    inspection = str(body.get("inspection_id"))
    first = state.first_record(f"inspection/{inspection}")
    if first is None or first == seq:
        return None
    return _second_record(seq, inspection, first, str(body.get("dept")))


class ResultAuditor:
    """Follows inspections and results through the audit."""

    def __init__(self) -> None:
        self.inspections: dict[str, _Inspection] = {}
        self._calendar_key: tuple[int, ...] = ()
        self._calendar: WorkingCalendar | None = None
        self.counts = {"random": 0, "targeted": 0, "recorded": 0, "published": 0,
                       "late_entry": 0, "late_publication": 0}

    def calendar(self, state: LogState) -> WorkingCalendar:
        key = tuple(id(b) for _, b in sorted(state.calendars.items()))
        if key != self._calendar_key or self._calendar is None:
            self._calendar = WorkingCalendar.from_bodies(state.calendars)
            self._calendar_key = key
        return self._calendar

    def _due(self, state: LogState, ended: date, days: int, done: date
             ) -> bool | None:
        """On time? None when the calendars cannot tell."""
        try:
            return self.calendar(state).deadline_met(ended, days, done)
        except (CalendarMissing, VerifierError):
            return None

    def feed(self, seq: int, type_: str, body: dict[str, Any], time: str,
             state: LogState) -> list[Finding]:
        """Call after the state applied an ``inspection.*`` or ``result.*`` entry."""
        stream = f"inspection/{body.get('inspection_id')}"
        day = date.fromisoformat(time[:10])
        dept = str(body.get("dept"))
        if type_ == "inspection.completed":
            kind = str(body.get("kind"))
            self.counts[kind] = self.counts.get(kind, 0) + 1
            self.inspections[stream] = _Inspection(seq, dept, kind, str(body.get("uscc")),
                                                   iso_date(body.get("ended_on")))
            if kind == "random":
                team = random_target(state, str(body.get("plan_id")),
                                     str(body.get("batch_id")), str(body.get("uscc")))
                went = body.get("inspectors")
                if team is not None and isinstance(went, list) and set(went) != set(team):
                    return [Finding("V10.actual_team", VIOLATION, seq,
                                    f"对象 {body.get('uscc')} 的实际检查人员 {went} 与抽取匹配的 "
                                    f"{list(team)} 不符",
                                    f"the inspectors who went to {body.get('uscc')}, {went}, "
                                    f"are not the team drawn, {list(team)}", dept=dept)]
            return []
        info = self.inspections.get(stream)
        if info is None or info.ended_on is None:
            return []
        if type_ == "result.recorded" and info.recorded is not None:
            return [_second_record(seq, str(body.get("inspection_id")), info.recorded,
                                   info.dept)]
        if type_ == "result.recorded":
            info.recorded = seq
            info.outcome = str(body.get("outcome"))
            self.counts["recorded"] += 1
            return self._deadline(seq, info, "result_entry_working_days", 3, day, state,
                                  "V16.result_late", "录入", "entered")
        if type_ == "result.corrected":
            info.outcome = str(body.get("outcome"))
        if type_ == "result.published" and info.published is None:
            info.published = seq
            self.counts["published"] += 1
            return self._deadline(seq, info, "publication_working_days", 20, day, state,
                                  "V17.publish_late", "公示", "published")
        return []

    def _deadline(self, seq: int, info: _Inspection, name: str, default: int, day: date,
                  state: LogState, rule: str, zh: str, en: str) -> list[Finding]:
        assert info.ended_on is not None
        days = state.policy.get(name, default)
        days = days if type(days) is int else default
        on_time = self._due(state, info.ended_on, days, day)
        if on_time is None:
            return [Finding(rule.split(".")[0] + ".calendar", UNVERIFIABLE, seq,
                            f"缺少已发布的工作日历，无法判断对象 {info.uscc} 的结果{zh}是否逾期",
                            f"no published calendar: cannot tell whether the result of "
                            f"{info.uscc} was {en} in time", dept=info.dept)]
        if on_time:
            return []
        self.counts["late_entry" if rule.startswith("V16") else "late_publication"] += 1
        info.late = info.late or rule.startswith("V16")
        due = self.calendar(state).add_working_days(info.ended_on, days)
        return [Finding(rule, VIOLATION, seq,
                        f"{info.dept} 对 {info.uscc} 的检查于 {info.ended_on} 结束，结果于 {day} "
                        f"{zh}，超过 {days} 个工作日的期限 {due}",
                        f"{info.dept}'s inspection of {info.uscc} ended on {info.ended_on}; "
                        f"its result was {en} on {day}, after the {days}-working-day limit "
                        f"{due}", dept=info.dept, due=due.isoformat())]

    def finish(self, state: LogState, now: str) -> list[Finding]:
        """Unpublished results past their window; drawn targets without an outcome after
        their plan year; both by ``now``, the audit's now (SPEC.md 9.2)."""
        out: list[Finding] = []
        if not now:
            return out
        last = date.fromisoformat(now[:10])
        days = state.policy.get("publication_working_days", 20)
        days = days if type(days) is int else 20
        for info in self.inspections.values():
            if info.recorded is None or info.published is not None or info.ended_on is None:
                continue
            if self._due(state, info.ended_on, days, last) is False:
                out.append(Finding("V17.unpublished", VIOLATION, info.recorded,
                                   f"{info.dept} 对 {info.uscc} 的检查结果超过 {days} 个工作日"
                                   "仍未公示",
                                   f"{info.dept}'s result for {info.uscc} was never published "
                                   f"although {days} working days have passed",
                                   dept=info.dept))
        for draw in state.draws.values():
            if not draw.executed or draw.voided:
                continue
            plan = state.plans.get(draw.plan_id)
            year = plan.body.get("year") if plan else None
            if type(year) is not int or last <= date(year, 12, 31):
                continue
            for uscc, team in draw.teams:
                if not team:
                    continue
                found = self.inspections.get(f"inspection/{draw.plan_id}/{draw.batch_id}/{uscc}")
                if found is None or found.recorded is None:
                    lead = str(plan.body.get("dept")) if plan else None
                    out.append(Finding("V17.no_outcome", VIOLATION, draw.executed_seq,
                                       f"{draw.plan_id}/{draw.batch_id} 抽中的 {uscc} 到 {year} "
                                       "年底仍无检查结果",
                                       f"{uscc}, drawn in {draw.plan_id}/{draw.batch_id}, has "
                                       f"no outcome by the end of {year}", dept=lead))
        return out

    def stats(self) -> dict[str, Any]:
        outcomes: dict[str, int] = {}
        for info in self.inspections.values():
            if info.outcome in OUTCOMES:
                outcomes[info.outcome] = outcomes.get(info.outcome, 0) + 1
        return {**self.counts, "outcomes": outcomes}
