"""`drawledger demo` builds a district year whose audit reports exactly what was planted."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

from ledger import DEPARTMENTS, Ledger, Parties, build_demo
from tests.helpers import entry_obj, read_entries, run_audit
from verifier import EXIT_CLEAN, EXIT_VIOLATION
from verifier._calendar import WorkingCalendar

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


def build(root: Path, *, violations: bool) -> Path:
    ledger = Ledger(str(root / "db.sqlite"), clock=lambda: NOW)
    try:
        build_demo(ledger, Parties(root / "parties"), targets=1500, inspectors=80,
                   violations=violations, now=lambda: NOW)
        ledger.export(root / "out")
    finally:
        ledger.close()
    return root / "out"


def test_district_year_is_clean(tmp_path: Path) -> None:
    out = build(tmp_path, violations=False)
    report = run_audit(out)
    assert report.findings == [] and report.exit_code == EXIT_CLEAN
    types = Counter(entry_obj(line)["type"] for line in read_entries(out))
    assert types["department.registered"] == len(DEPARTMENTS) == 16
    assert types["calendar.published"] == 8  # 2019-2026
    assert types["matter.published"] >= 16
    assert types["target.added"] == 1500 and types["inspector.added"] == 80
    assert types["conflict.declared"] == 30
    assert types["plan.filed"] == types["plan.received"] == types["plan.published"] == 17
    assert types["import.recorded"] >= 2
    # Every batch of the year drawn once, through commitment, reveals and execution, all
    # recomputed by the audit; one honest recusal.
    batches = sum(len(t["batches"]) for line in read_entries(out)
                  if (e := entry_obj(line))["type"] == "plan.filed" and e["body"]["year"] == 2025
                  for t in e["body"]["tasks"])
    assert types["draw.committed"] == types["draw.executed"] == batches == 22
    parties = sum(len(e["body"]["parties"]) for line in read_entries(out)
                  if (e := entry_obj(line))["type"] == "draw.committed")
    assert types["draw.revealed"] == parties == batches + 3  # joint batches: two parties
    assert report.draws["verified"] == batches and report.draws["redraws"] == 0
    assert types["draw.substituted"] == 1
    # 谁检查、谁录入、谁公开: every staffed target inspected, its result entered and published.
    staffed = sum(1 for line in read_entries(out)
                  if (e := entry_obj(line))["type"] == "draw.executed"
                  for s in e["body"]["outcome"]["selected"] if s["team"])
    # ... and three targeted inspections from leads, the last closing in January.
    assert types["lead.received"] == 3
    assert types["inspection.completed"] == types["result.recorded"] == staffed + 3
    assert types["result.published"] == staffed + 3
    assert entry_obj(read_entries(out)[-1])["time"].startswith("2026-01")
    assert report.results["late_entry"] == report.results["late_publication"] == 0


def test_violations_plants_exactly_the_planted_problems(tmp_path: Path) -> None:
    out = build(tmp_path, violations=True)
    report = run_audit(out)
    assert report.exit_code == EXIT_VIOLATION
    lines = read_entries(out)
    found = {f.rule: f for f in report.findings}
    assert sorted(f.rule for f in report.findings) == sorted(
        ["V2.plan_filed_late", "V4.churn", "V8.redraw", "V11.conflict", "V10.team",
         "V16.result_late", "V17.unpublished", "V17.no_outcome"])

    late = entry_obj(lines[found["V2.plan_filed_late"].seq or 0])
    assert late["type"] == "plan.filed" and late["body"]["year"] == 2025
    assert late["body"]["dept"] == "ZC-TJJ"
    # 2025-01-31 falls in the Spring Festival holiday (1-28..2-4): the limit runs to the
    # first working day after it, 2025-02-05, by the published calendar.
    assert "2025-02-05" in found["V2.plan_filed_late"].en

    churn = found["V4.churn"].seq or 0
    removed, commit = entry_obj(lines[churn]), entry_obj(lines[churn + 1])
    assert removed["type"] == "target.removed" and commit["type"] == "draw.committed"
    assert removed["body"]["uscc"] in found["V4.churn"].en

    redraw = entry_obj(lines[found["V8.redraw"].seq or 0])
    assert redraw["type"] == "draw.executed"
    assert sum(1 for line in lines if (e := entry_obj(line))["type"] == "draw.executed"
               and e["stream"] == redraw["stream"]) == 2

    conflicted = entry_obj(lines[found["V11.conflict"].seq or 0])
    assert conflicted["type"] == "draw.substituted"
    declared = entry_obj(lines[(found["V11.conflict"].seq or 0) - 1])
    assert declared["type"] == "conflict.declared"
    assert declared["body"]["cert_no"] == conflicted["body"]["in"]

    alone = entry_obj(lines[found["V10.team"].seq or 0])
    assert alone["type"] == "draw.substituted" and alone["body"]["in"] is None

    # The result entered on the 4th working day, across a make-up working weekend day.
    late = found["V16.result_late"]
    recorded = entry_obj(lines[late.seq or 0])
    assert recorded["type"] == "result.recorded"
    completed = next(entry_obj(line) for line in lines
                     if (e := entry_obj(line))["type"] == "inspection.completed"
                     and e["stream"] == recorded["stream"])
    ended = date.fromisoformat(completed["body"]["ended_on"])
    entered = date.fromisoformat(recorded["time"][:10])
    calendars = {e["body"]["year"]: e["body"] for line in lines
                 if (e := entry_obj(line))["type"] == "calendar.published"}
    cal = WorkingCalendar.from_bodies(calendars)
    assert cal.add_working_days(ended, 4) == entered and entered.weekday() >= 5
    assert entered.isoformat() in calendars[2025]["weekend_makeup_workdays"]

    silent = entry_obj(lines[found["V17.unpublished"].seq or 0])
    assert silent["type"] == "result.recorded"
    assert not any(entry_obj(line)["type"] == "result.published"
                   and entry_obj(line)["stream"] == silent["stream"] for line in lines)
    drawn = entry_obj(lines[found["V17.no_outcome"].seq or 0])
    assert drawn["type"] == "draw.executed"
    every_finding_names_a_department = all(f.dept for f in report.findings)
    assert every_finding_names_a_department
