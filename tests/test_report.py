"""The report's presentation under tampering: the pin-point cause first, its knock-ons
grouped under it with a count (SPEC.md 9.3), and integrity findings counted under the
department whose key signed the entry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger import Parties
from tests.helpers import (
    build_export,
    copy_export,
    entry_obj,
    read_entries,
    run_audit,
    write_entries,
)
from tests.test_audit_input import cli
from verifier import EXIT_INTEGRITY
from verifier._html import render_html


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Parties]:
    # 400 targets: the import batches are long enough for a dropped member to break dozens.
    return build_export(tmp_path_factory.mktemp("demo"), targets=400, inspectors=20)


@pytest.fixture
def export(demo: tuple[Path, Parties], tmp_path: Path) -> Path:
    return copy_export(demo[0], tmp_path / "export")


def _batch_members(lines: list[bytes]) -> list[int]:
    return [i for i, line in enumerate(lines) if entry_obj(line)["sig"]["sid"].startswith("batch/")]


def test_dropped_batch_member_reports_one_cause_and_counts_its_knock_ons(export: Path) -> None:
    lines = read_entries(export)
    k = _batch_members(lines)[5]
    del lines[k]
    write_entries(export, lines)
    report = run_audit(export)
    obj = report.to_json()
    findings = obj["findings"]
    assert len(findings) == len(report.findings) >= 30  # the JSON keeps every finding
    cause = next(i for i, f in enumerate(findings) if f["rule"] == "V1.seq")
    assert findings[cause]["seq"] == k and "cause" not in findings[cause]
    knock_ons = [i for i, f in enumerate(findings)
                 if f["rule"] in ("V1.batch", "V1.checkpoint", "V1.truncated")]
    assert len(knock_ons) >= 25
    assert all(findings[i].get("cause") == cause for i in knock_ons), \
        [findings[i] for i in knock_ons if findings[i].get("cause") != cause][:3]
    group = next(g for g in obj["groups"] if g["cause"] == cause)
    assert group["count"] == len(group["consequences"]) >= len(knock_ons)
    assert sorted(i for g in obj["groups"] for i in [g["cause"], *g["consequences"]]) == \
        list(range(len(findings)))  # every finding is a cause or in exactly one group
    proc = cli("audit", str(export))
    assert proc.returncode == EXIT_INTEGRITY
    shown = [line for line in proc.stdout.splitlines() if line.startswith(("[", "    └"))]
    # (the anchoring findings, V1.truncated here, are repeated in the report's first lines)
    first = next(i for i, line in enumerate(shown) if not line.startswith(
        ("[integrity] V1.truncated", "[unverifiable] V1.unwitnessed")))
    assert shown[first].startswith("[integrity] V1.seq seq=" + str(k)), shown[:3]
    assert f"{group['count']} consequences of this" in shown[first + 1]
    assert "V1.batch x" in shown[first + 1] and "V1.checkpoint x" in shown[first + 1]
    assert not any(line.startswith(("[integrity] V1.batch", "[integrity] V1.checkpoint"))
                   for line in shown)


def _edit_member(export: Path) -> tuple[int, str]:
    """Change one imported target's name: the chain breaks at it and its batch's one
    signature fails over the batch's range."""
    lines = read_entries(export)
    k = next(i for i in _batch_members(lines) if "淄博".encode() in lines[i])
    lines[k] = lines[k].replace("淄博".encode(), "淄川".encode(), 1)
    write_entries(export, lines)
    return k, entry_obj(lines[k])["actor"]


def test_edited_entry_html_shows_the_chain_break_before_its_checkpoint_knock_ons(
        export: Path) -> None:
    k, _ = _edit_member(export)
    obj = run_audit(export).to_json()
    rules = [f["rule"] for f in obj["findings"]]
    assert rules.count("V1.checkpoint") >= 3
    page = render_html(obj)
    chain = page.index("<code>V1.chain</code>")
    assert chain < page.index("<code>V1.checkpoint</code>")
    assert chain < page.index("consequences of this") < page.index("<code>V1.checkpoint</code>")
    n = sum(1 for f in obj["findings"] if f.get("cause") is not None)
    assert f"由此引起 {n} 条后果 / {n} consequences of this" in page
    assert f">{k}</td><td><code>V1.chain</code>" in page


def test_failed_batch_signature_counts_under_the_signing_department(export: Path) -> None:
    k, dept = _edit_member(export)
    report = run_audit(export)
    by_rule = {f.rule: f for f in report.findings}
    assert by_rule["V1.chain"].seq == k and by_rule["V1.chain"].dept == dept
    signature = by_rule["V1.signature"]
    assert signature.seq_end is not None and signature.dept == dept
    counted = sum(1 for f in report.findings if f.dept == dept)
    assert report.departments[dept]["findings"] == counted >= 2
    page = render_html(report.to_json())
    assert 'class="hot"' in page
    assert all(f.dept is None for f in report.findings if f.rule == "V1.checkpoint")


def test_json_report_groups_with_workers(export: Path) -> None:
    """Signature failures found by worker processes come last in the list: still grouped."""
    k, dept = _edit_member(export)
    proc = cli("audit", str(export), "--json", "--workers", "1")
    obj = json.loads(proc.stdout)
    signature = next(i for i, f in enumerate(obj["findings"]) if f["rule"] == "V1.signature")
    chain = next(i for i, f in enumerate(obj["findings"]) if f["rule"] == "V1.chain")
    assert obj["findings"][signature]["cause"] == chain
    assert obj["findings"][chain]["dept"] == dept and obj["findings"][chain]["seq"] == k
