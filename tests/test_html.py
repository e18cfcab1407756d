"""The auditor's HTML report: well-formed, self-contained (loads nothing) and escaped.

The page is opened offline and its content comes from the audited log, so the tests check
structure, that no attribute or CSS can fetch anything, and that hostile strings stay text.
"""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser
from typing import Any

import pytest

from verifier._audit import Report
from verifier._html import render_html
from verifier._state import INTEGRITY, UNVERIFIABLE, VIOLATION, Finding

XSS = "<script>alert(1)</script>"
URL = "https://example.gov.cn/gs?id=1&x=<b>"

# Shaped like a real `audit --json` report (see Report.to_json), plus the optional parts.
REPORT: dict[str, Any] = {
    "exit_code": 2,
    "entries": 2357,
    "checkpoints": 20,
    "checkpoints_verified": 19,
    "signatures_checked": 807,
    "cosignatures": {"zichuan-audit-bureau": 1768870815,
                     "zichuan-supervision-commission": 1768870000},
    "findings": [
        {"rule": "V16.result_late", "kind": "violation", "severity": "major", "seq": 2042,
         "dept": "ZC-SCJGJ", "evidence": "witnessed",
         "zh": "ZC-SCJGJ 对 93370302MAWK8WDN5L 的检查于 2025-04-22 结束，结果于 2025-04-27 录入",
         "en": "ZC-SCJGJ's inspection of 93370302MAWK8WDN5L ended on 2025-04-22"},
        {"rule": "V2.plan_filed_late", "kind": "violation", "severity": "major", "seq": 1823,
         "dept": "ZC-TJJ", "evidence": "claimed",
         "zh": "ZC-TJJ 的 2025 年度计划于 2025-02-10 报备，晚于期限 2025-02-05",
         "en": "ZC-TJJ's 2025 plan was filed on 2025-02-10, after the deadline 2025-02-05"},
        {"rule": "V1.chain", "kind": "integrity", "severity": "critical", "seq": 100,
         "seq_end": 120, "dept": None,
         "zh": f"第 100 条的 prev 与前一条的哈希不符 {XSS}", "en": f"prev mismatch {XSS}"},
        {"rule": "V17.publication", "kind": "unverifiable", "severity": "warning", "seq": None,
         "dept": "ZC-SCJGJ", "zh": f"公示地址 {URL} 无法核验",
         "en": f"publication at {URL} could not be checked"},
    ],
    "findings_not_shown": 7,
    "draws": {"committed": 22, "executed": 23, "verified": 22, "voided": {"ZC-TJJ": 1},
              "substituted": {"ZC-GAFJ": 1, "ZC-FGJ": 1}, "redraws": 1},
    "results": {"random": 131, "targeted": 0, "recorded": 131, "published": 130,
                "late_entry": 1, "late_publication": 0,
                "outcomes": {"corrected": 20, "no_problem": 91, "case_filed": 2,
                             "not_publicised": 7, "unreachable": 6, "not_operating": 5}},
    "trust_source": "export trust.json (compare its keys with the published ones)",
    "departments": {
        "ZC-SCJGJ": {"name": "淄川区市场监督管理局", "plans": 1, "plans_on_time": 1,
                     "draws": 3, "draws_verified": 3, "results": 41, "results_on_time": 40,
                     "published": 40, "findings": 2},
        "ZC-TJJ": {"name": "淄川区统计局", "plans": 1, "plans_on_time": 0, "findings": 1},
        "ZC-FGJ": {"name": f"发改局 {XSS}", "findings": 0},
    },
    "statistics": {
        "tests": [
            {"name": "chi2_strata", "zh": "分层抽中比例卡方检验", "en": "chi-square of strata",
             "statistic": 3.21, "threshold": 11.07, "verdict": "pass", "detail": "df=5"},
            {"name": "repeat_rate", "zh": "重复抽中率", "en": "repeat-draw rate",
             "statistic": 0.31, "threshold": 0.2, "verdict": "flag", "detail": XSS},
        ],
        "seed": "abc",
        "per_dept": {"ZC-SCJGJ": {"n": 40, "note": XSS}},
    },
}

STRUCTURAL = {"html", "head", "body", "main", "footer", "table", "thead", "tbody", "tr", "td",
              "th", "dl", "dt", "dd", "h1", "h2", "h3", "p", "div", "span", "pre", "code",
              "svg", "style", "title"}
VOID = {"meta", "br", "rect"}


class _Collector(HTMLParser):
    """Tags in order, attributes, and an open-tag stack to check nesting."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.style = ""
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1] == "style":
            self.style += data
        else:
            self.text.append(data)


def _parse(page: str) -> _Collector:
    parser = _Collector()
    parser.feed(page)
    parser.close()
    assert parser.errors == []
    assert parser.stack == []
    assert set(parser.tags) - VOID <= STRUCTURAL, set(parser.tags) - VOID - STRUCTURAL
    return parser


def _assert_self_contained(page: str, parser: _Collector) -> None:
    low = page.lower()
    assert "<link" not in low and "<script" not in low and "<img" not in low
    assert "<iframe" not in low and "<object" not in low and "<embed" not in low
    for name, value in parser.attrs:
        assert name not in ("src", "href", "srcset", "action", "xlink:href", "data"), name
        assert not name.startswith("on"), name  # no inline event handlers either
        assert "url(" not in (value or "").lower()
    assert "url(" not in parser.style.lower() and "@import" not in parser.style.lower()
    assert "@font-face" not in parser.style.lower()


def test_realistic_report() -> None:
    page = render_html(copy.deepcopy(REPORT))
    parser = _parse(page)
    _assert_self_contained(page, parser)
    assert page.startswith("<!DOCTYPE html>")
    assert '<html lang="zh-CN">' in page and '<meta charset="utf-8">' in page
    assert "@media print" in page and "size: A4" in page
    text = "".join(parser.text)
    for heading in ("双随机、一公开 抽查审计报告", "审计结论", "部门", "发现", "抽取与结果",
                    "统计检验", "如何复核", "见证联署"):
        assert heading in text, heading
    # The hostile strings survive as text, never as markup.
    assert XSS in text and "<script" not in page
    assert URL in text and "&lt;b&gt;" in page and "&amp;x=" in page
    # Verdict, counts, witness times in Asia/Shanghai.
    assert "完整性失败" in text and "19/20" in text and "807" in text
    assert "2026-01-20T09:00:15+08:00" in text
    # Departments: ratios, dashes for missing keys, the rows with findings highlighted.
    assert "淄川区市场监督管理局" in text and "40/41" in text and "3/3" in text
    assert "0/1" in text
    fgj = re.search(r"<tr><td><code>ZC-FGJ</code>.*?</tr>", page)
    assert fgj is not None and fgj.group(0).count('<td class="num">—</td>') == 4
    assert page.count('<tr class="hot">') == 2
    # Findings grouped by severity, critical first, then by seq; evidence labelled.
    assert text.index("严重") < text.index("违规") < text.index("无法核验")
    assert text.index("V1.chain") < text.index("V2.plan_filed_late") < text.index(
        "V16.result_late") < text.index("V17.publication")
    assert "100–120" in text and "日志自述" in text and "见证 / witnessed" in text
    assert "另有 7 条发现未列出" in text
    # Draws and results with Chinese outcome labels; per-dept counts with names.
    assert "发现问题已责令改正" in text and "未发现开展本次抽查涉及的经营活动" in text
    assert "ZC-TJJ（淄川区统计局）: 1" in text
    # Statistics: the tests table and unknown keys, nested values as escaped JSON.
    assert "chi2_strata" in text and "分层抽中比例卡方检验" in text and "11.07" in text
    assert '<span class="flag">' in page and '<span class="pass">' in page
    assert '"n": 40' in text and "seed" in text


def test_render_is_deterministic_and_does_not_mutate() -> None:
    report = copy.deepcopy(REPORT)
    assert render_html(report) == render_html(report)
    assert report == REPORT


def test_clean_empty_report_from_a_real_report_object() -> None:
    report = Report().to_json()
    page = render_html(report)
    parser = _parse(page)
    _assert_self_contained(page, parser)
    text = "".join(parser.text)
    assert "通过 / clean" in text and "无发现" in text and "无见证联署" in text
    assert "统计检验" not in text and "Departments" not in text
    assert "python -m verifier audit EXPORT --trust trust.json" in text


def test_minimal_and_odd_reports_do_not_raise() -> None:
    for report in ({}, {"exit_code": 9, "findings": "x", "draws": [], "departments": {"A": 1}},
                   {"statistics": {"tests": ["odd", {"verdict": None}]}, "cosignatures": {
                       "w": "yesterday"}}):
        page = render_html(report)
        _assert_self_contained(page, _parse(page))
    assert "未知 / unknown" in render_html({"exit_code": 9})


@pytest.mark.parametrize(("kinds", "code", "verdict"), [
    ((), 0, "通过 / clean"),
    ((VIOLATION,), 1, "发现违规 / rule violations"),
    ((VIOLATION, INTEGRITY), 2, "完整性失败"),
    ((VIOLATION, UNVERIFIABLE), 3, "无法验证"),
])
def test_verdict_for_each_exit_code(kinds: tuple[str, ...], code: int, verdict: str) -> None:
    report = Report()
    for i, kind in enumerate(kinds):
        report.add(Finding(f"V{i}.rule", kind, i, "中文", "English", dept="ZC-X",
                           evidence="claimed"))
    obj = report.to_json()
    assert obj["exit_code"] == code
    page = render_html(obj)
    verdict_div = re.search(r'<div class="verdict"[^>]*>(.*?)</div>', page)
    assert verdict_div is not None and verdict in verdict_div.group(1)
    assert f"(exit {code})" in verdict_div.group(1)


def test_pin_point_cause_comes_before_its_checkpoint_knock_ons() -> None:
    """An altered entry 99 and 23 checkpoints over it: the chain break is listed first,
    the checkpoints under it with their count (SPEC.md 9.3)."""
    report = Report()
    for size in range(100, 330, 10):
        report.add(Finding("V1.checkpoint", INTEGRITY, 60, f"检查点 {size}",
                           f"checkpoint {size}", seq_end=size - 1))
    report.add(Finding("V1.chain", INTEGRITY, 99, "第 99 条被改动", "entry 99 altered",
                       dept="ZC-X"))
    obj = report.to_json()
    assert [g["count"] for g in obj["groups"]] == [23]
    page = render_html(obj)
    _assert_self_contained(page, _parse(page))
    chain = page.index("<code>V1.chain</code>")
    assert chain < page.index("由此引起 23 条后果 / 23 consequences of this: V1.checkpoint ×23")
    assert chain < page.index("<code>V1.checkpoint</code>")
    assert page.count('class="consequence"') == 23
    assert "验证程序与规范" in page and "SPEC-v2" in page


def test_odd_cause_indices_do_not_raise() -> None:
    base = {"rule": "V1.x", "severity": "critical", "seq": 1, "zh": "甲", "en": "a"}
    findings = [{**base, "cause": c} for c in (None, 0, 5, -1, "0", True, 1, 2.5)]
    page = render_html({"exit_code": 2, "findings": findings, "verifier": "odd"})
    _assert_self_contained(page, _parse(page))
    assert "Findings</span> (8)" in page


def test_summary_names_the_checkpoint_relied_on_and_the_time_judged_at() -> None:
    """The page says which checkpoint anchors the verdict (an outside one here) and which
    now the completeness checks used, as the text report does."""
    report = copy.deepcopy(REPORT)
    report["relied_on"] = {"size": 2357, "root": "q6w=", "source": "https://log.example/cp",
                           "outside": True, "witnessed": "2026-01-19T10:20:15+08:00"}
    report["now"] = {"time": "2026-01-19T10:20:15+08:00", "basis": "witnessed",
                     "source": "000000002357.note"}
    page = render_html(report)
    assert "所依据的检查点" in page and "https://log.example/cp" in page
    assert "外部取得" in page and "2026-01-19T10:20:15+08:00" in page
    assert "判定时间" in page and "见证联署时间" in page and "000000002357.note" in page
    report["relied_on"] = None
    report["now"] = {"time": "2026-01-19T10:20:15+08:00", "basis": XSS, "source": None}
    page = render_html(report)
    assert XSS not in page and "无 <span" in page
