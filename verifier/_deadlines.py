"""Plan timeliness (RULES-RESEARCH R7, check V2; SPEC.md section 6.4).

A plan is due with the joint-conference office by the policy's filing date of its year
(default 31 January). When that date is not a working day the time limit runs to the next
working day (民法典 art. 203: a period whose last day is a statutory holiday ends on the day
after the holiday), which needs the year's published calendar: without it a late-looking
filing is *unverifiable*, never judged on a Monday-to-Friday guess. Filing, the office's
receipt and publication are each compared with the deadline by the log time of their
entries (the log's claim; witnessed bounds come with cosigned checkpoints).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from verifier._calendar import CalendarMissing, WorkingCalendar
from verifier._errors import VerifierError
from verifier._state import UNVERIFIABLE, VIOLATION, Finding, LogState

__all__ = ["RECEIVED_ON_TOLERANCE_DAYS", "PlanTracker", "filing_deadline",
           "received_on_finding"]

# How many days a receipt's ``received_on`` may precede its entry's date (SPEC.md 6.4):
# the longest run of statutory days off (春节 or 国庆, 7-8 days, around a plan's 31 January
# deadline) and the weekend after it, during which a receipt is stamped but not entered.
RECEIVED_ON_TOLERANCE_DAYS = 10


@dataclass
class _Plan:
    plan_id: str
    year: int
    dept: str
    filed: int
    filed_on: date
    late: bool = False
    received: int | None = None
    published: int | None = None


def filing_deadline(year: int, policy: dict[str, Any], calendars: dict[int, dict[str, Any]]
                    ) -> tuple[date, date | None]:
    """(nominal deadline, deadline moved past non-working days or None if unknowable)."""
    month, day = (int(x) for x in str(policy.get("plan_filing_deadline", "01-31")).split("-"))
    nominal = date(year, month, day)
    try:
        calendar = WorkingCalendar.from_bodies({y: b for y, b in calendars.items()
                                                if y in (year, year + 1)})
        due = nominal
        while not calendar.is_working_day(due):
            due = date.fromordinal(due.toordinal() + 1)
    except (CalendarMissing, VerifierError):
        return nominal, None
    return nominal, due


def received_on_finding(seq: int, type_: str, body: dict[str, Any], day: date
                        ) -> Finding | None:
    """V2.received_on for a ``plan.received`` whose signed ``received_on`` is after its
    entry's date ``day`` or more than the tolerance before it: the receipt's date is what
    the office signs, the entry's date what the log shows. The log refuses it when writing
    (``day`` is then the date the entry gets) and the audit reports it, by the same
    words."""
    if type_ != "plan.received" or type(body.get("received_on")) is not str:
        return None
    try:
        received = date.fromisoformat(body["received_on"])
    except ValueError:
        return None  # the body rules name it
    if received > day:
        zh, en = "晚于", "after"
    elif (day - received).days > RECEIVED_ON_TOLERANCE_DAYS:
        zh, en = f"早于（超过 {RECEIVED_ON_TOLERANCE_DAYS} 天）", \
            f"more than {RECEIVED_ON_TOLERANCE_DAYS} days before"
    else:
        return None
    plan_id = body.get("plan_id")
    return Finding("V2.received_on", VIOLATION, seq,
                   f"计划 {plan_id} 的备案回执日期 received_on {received} {zh}该条目的日志日期 "
                   f"{day}",
                   f"plan {plan_id}: the receipt's received_on {received} is {en} the "
                   f"entry's log date {day}")


class PlanTracker:
    """Follows plan entries through the audit and reports late or missing steps."""

    def __init__(self) -> None:
        self.plans: dict[str, _Plan] = {}

    def feed(self, seq: int, type_: str, body: dict[str, Any], time: str,
             state: LogState) -> list[Finding]:
        """Call after the entry was checked and applied; ``time`` is its log time."""
        day = date.fromisoformat(time[:10])  # log times are already Asia/Shanghai
        plan_id = str(body.get("plan_id"))
        if type_ == "plan.filed" and type(body.get("year")) is int:
            new = self.plans[plan_id] = _Plan(plan_id, body["year"], str(body.get("dept")),
                                              seq, day)
            return self._late(new, seq, day, state, "filed")
        plan = self.plans.get(plan_id)
        if plan is None:
            return []
        if type_ == "plan.received":
            mismatch = received_on_finding(seq, type_, body, day)
            out = [] if mismatch is None else [mismatch]  # the office's statement
            if plan.received is None:
                plan.received = seq
                out += [] if plan.late else self._late(plan, seq, day, state, "received")
            return out
        if type_ == "plan.published" and plan.published is None:
            plan.published = seq
            return [] if plan.late else self._late(plan, seq, day, state, "published")
        return []

    def _late(self, plan: _Plan, seq: int, day: date, state: LogState,
              step: str) -> list[Finding]:
        nominal, due = filing_deadline(plan.year, state.policy, state.calendars)
        if day <= nominal:
            return []
        words = {"filed": ("报备", "filed"), "received": ("备案回执", "received by the office"),
                 "published": ("公开", "published")}[step]
        if due is None:
            return [Finding("V2.calendar", UNVERIFIABLE, seq,
                            f"{plan.year} 年没有已发布的工作日历，无法判断计划 {plan.plan_id} "
                            f"于 {day} {words[0]}是否逾期",
                            f"no published calendar for {plan.year}: cannot tell whether plan "
                            f"{plan.plan_id} {words[1]} on {day} was on time")]
        if day <= due:
            return []
        if step == "filed":
            plan.late = True
        return [Finding(f"V2.plan_{step}_late", VIOLATION, seq,
                        f"{plan.dept} 的 {plan.year} 年度计划 {plan.plan_id} 于 {day} "
                        f"{words[0]}，晚于期限 {due}",
                        f"{plan.dept}'s {plan.year} plan {plan.plan_id} was {words[1]} on "
                        f"{day}, after the deadline {due}", dept=plan.dept,
                        due=due.isoformat())]

    def finish(self, state: LogState, now: str) -> list[Finding]:
        """Plans whose deadline has passed by ``now`` (the audit's now, SPEC.md 9.2: not the
        last entry's time, which a truncation moves back) without a receipt or publication."""
        out: list[Finding] = []
        if not now:
            return out
        last_day = date.fromisoformat(now[:10])
        for plan in self.plans.values():
            nominal, due = filing_deadline(plan.year, state.policy, state.calendars)
            if last_day <= (due or nominal):
                continue
            for step, seen, zh in (("received", plan.received, "未取得备案回执"),
                                   ("published", plan.published, "未公开")):
                if seen is None:
                    out.append(Finding(f"V2.plan_not_{step}", VIOLATION, plan.filed,
                                       f"{plan.dept} 的 {plan.year} 年度计划 {plan.plan_id} "
                                       f"期限已过仍{zh}",
                                       f"{plan.dept}'s {plan.year} plan {plan.plan_id} was "
                                       f"never {step} although its deadline has passed"))
        return out
