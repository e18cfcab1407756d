"""`drawledger demo` builds a district year whose audit reports exactly what was planted."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from ledger import DEPARTMENTS, Ledger, LogKeys, build_demo
from tests.helpers import entry_obj, read_entries, run_audit
from verifier import EXIT_CLEAN, EXIT_VIOLATION

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


def build(root: Path, *, violations: bool) -> Path:
    ledger = Ledger(str(root / "db.sqlite"), clock=lambda: NOW)
    try:
        build_demo(ledger, LogKeys(root / "keys"), targets=1500, inspectors=80,
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


def test_violations_plants_exactly_one_late_plan(tmp_path: Path) -> None:
    out = build(tmp_path, violations=True)
    report = run_audit(out)
    assert report.exit_code == EXIT_VIOLATION
    assert [f.rule for f in report.findings] == ["V2.plan_filed_late"]
    late = entry_obj(read_entries(out)[report.findings[0].seq])  # type: ignore[index]
    assert late["type"] == "plan.filed" and late["body"]["year"] == 2026
    assert late["body"]["dept"] == "ZC-TJJ"
    # 2026-01-31 is a Saturday: the limit runs to Monday 2026-02-02 (published calendar).
    assert "2026-02-02" in report.findings[0].en
