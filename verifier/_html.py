"""The auditor's self-contained HTML report (``audit EXPORT --html FILE``).

The page is opened offline, often on an air-gapped machine, and may be archived or printed as
evidence, so it loads nothing: inline CSS only, no scripts, fonts, images or links, and every
string from the report (which comes from the audited log, i.e. from the party being audited)
is HTML-escaped, URLs included, so that the log cannot inject markup or make the page fetch
anything. The output depends only on the report (no "generated at" time), so the same export
always gives the same page and two auditors can compare theirs byte for byte.

Chinese first, English second: the readers are Chinese officials and auditors.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from html import escape
from typing import Any

__all__ = ["render_html"]

# Fixed UTC+8 rather than zoneinfo: Asia/Shanghai has had no DST since 1991 and an auditor's
# Windows machine may lack the tz database.
_SHANGHAI = timezone(timedelta(hours=8))
_DASH = "—"

# exit code -> (zh, en, colour); the same wording as the text report of verifier._cli.
_VERDICTS: dict[int, tuple[str, str, str]] = {
    0: ("通过", "clean", "#1b7f3b"),
    1: ("发现违规", "rule violations", "#b35c00"),
    2: ("完整性失败（被篡改或损坏）", "integrity failure (tampered or corrupt)", "#b00020"),
    3: ("无法验证（缺少信任输入）", "unverifiable (a trust input is missing)", "#5a4a8a"),
}
_SEVERITIES: dict[str, tuple[str, str]] = {
    "critical": ("严重", "critical: the history itself is in doubt"),
    "major": ("违规", "major: a rule was broken"),
    "warning": ("无法核验", "warning: a check could not be made"),
}
_EVIDENCE = {"claimed": "日志自述 / claimed", "witnessed": "见证 / witnessed"}
_OUTCOMES: dict[str, str] = {
    "no_problem": "未发现问题",
    "corrected": "发现问题已责令改正",
    "not_publicised": "未按规定公示应当公示的信息",
    "false_publicity": "公示信息隐瞒真实情况、弄虚作假",
    "unreachable": "通过登记的住所（经营场所）无法联系",
    "not_operating": "未发现开展本次抽查涉及的经营活动",
    "deregistered": "已注销或被吊销营业执照",
    "case_filed": "发现问题已立案查处",
    "transferred": "发现问题已移送有关部门处理",
    "follow_up": "发现问题待后续处理",
}

_CSS = """
@page { size: A4; margin: 15mm 12mm; }
* { box-sizing: border-box; }
body { font-family: "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "Source Han Sans SC",
  SimSun, sans-serif; color: #222; max-width: 1100px; margin: 0 auto; padding: 1.5em;
  line-height: 1.5; font-size: 14px; }
h1 { font-size: 1.6em; margin: 0 0 .4em; }
h2 { font-size: 1.25em; border-bottom: 2px solid #444; padding-bottom: .15em; margin-top: 1.6em; }
h3 { font-size: 1.05em; margin: 1em 0 .3em; }
.en { color: #555; font-weight: normal; }
.verdict { border: 3px solid var(--c); color: var(--c); padding: .6em 1em; font-size: 1.3em;
  font-weight: bold; margin: .6em 0 1em; border-radius: 4px; }
table { border-collapse: collapse; width: 100%; margin: .4em 0 1em; }
th, td { border: 1px solid #bbb; padding: .25em .45em; text-align: left; vertical-align: top; }
th { background: #eee; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
tr.hot td { background: #fff1e0; }
tr.sev-critical td:first-child { border-left: 5px solid #b00020; }
tr.sev-major td:first-child { border-left: 5px solid #b35c00; }
tr.sev-warning td:first-child { border-left: 5px solid #5a4a8a; }
tr.follows td { background: #f4f4f4; font-style: italic; }
tr.consequence td { color: #555; font-size: .92em; }
tr.consequence td:first-child { padding-left: 1.2em; }
.pass { color: #1b7f3b; font-weight: bold; }
.flag { color: #b00020; font-weight: bold; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .15em 1em; margin: .4em 0; }
dt { font-weight: bold; }
dd { margin: 0; word-break: break-all; }
pre { white-space: pre-wrap; word-break: break-all; margin: 0; font-size: .9em; }
code { font-family: Consolas, "Courier New", monospace; }
.note { color: #555; font-size: .92em; }
footer { margin-top: 2em; border-top: 1px solid #999; padding-top: .5em; font-size: .9em; }
@media print {
  body { max-width: none; padding: 0; font-size: 10.5pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  h2 { break-after: avoid; }
  tr, dl { break-inside: avoid; }
  thead { display: table-header-group; }
}
"""


def _e(value: Any) -> str:
    """Any report value as escaped text; None (or absent) as a dash, containers as JSON."""
    if value is None:
        return _DASH
    if isinstance(value, dict | list):
        return f"<pre>{escape(json.dumps(value, ensure_ascii=False, indent=1))}</pre>"
    return escape(str(value))


def _bi(zh: str, en: str) -> str:
    """A bilingual label, Chinese first. Both parts are escaped."""
    return f'{escape(zh)} <span class="en">/ {escape(en)}</span>'


def _time(ts: Any) -> str:
    """Unix seconds as an Asia/Shanghai ISO datetime; anything else escaped as given."""
    if isinstance(ts, int | float) and not isinstance(ts, bool):
        try:
            return escape(datetime.fromtimestamp(ts, _SHANGHAI).isoformat())
        except (OverflowError, OSError, ValueError):
            pass
    return _e(ts)


def _ratio(row: Mapping[str, Any], done: str, total: str) -> str:
    """"done/total", with a dash for whichever the report does not give."""
    if done not in row and total not in row:
        return _DASH
    return f"{_e(row.get(done))}/{_e(row.get(total))}"


def _table(head: Iterable[str], rows: Iterable[str]) -> str:
    """A table from pre-rendered header cells (HTML) and pre-rendered ``<tr>`` rows."""
    ths = "".join(f"<th>{h}</th>" for h in head)
    return f"<table><thead><tr>{ths}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _dl(items: Mapping[str, Any], labels: Mapping[str, str] | None = None,
        extra: str = "") -> str:
    """A definition list of key/value pairs (the generic rendering for unknown keys), with
    ``extra`` pre-rendered ``<dt>/<dd>`` pairs appended."""
    labels = labels or {}
    body = "".join(f"<dt>{labels.get(k) or _e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items.items())
    body += extra
    return f"<dl>{body}</dl>" if body else f'<p class="note">{_DASH}</p>'


def _per_dept(counts: Any, depts: Mapping[str, Any]) -> str:
    """A dept-code -> count mapping as "code（name）: n" text, or a dash when empty."""
    if not isinstance(counts, dict) or not counts:
        return _DASH if not counts else _e(counts)
    parts = []
    for code, n in sorted(counts.items()):
        info = depts.get(code)
        name = info.get("name") if isinstance(info, dict) else None
        label = f"{_e(code)}（{_e(name)}）" if name else _e(code)
        parts.append(f"{label}: {_e(n)}")
    return "; ".join(parts)


def _version(info: Any) -> str:
    """"0.1.0 / SPEC-v2": which verifier gave the verdict and under which rules."""
    if not isinstance(info, dict):
        return _DASH
    return f"{_e(info.get('version'))} / {_e(info.get('spec'))}"


_NOW_BASIS = {"given": ("审计人给定", "given by the auditor"),
              "witnessed": ("见证联署时间", "a witnessed cosignature time"),
              "last_entry": ("最后一条的时间（日志自称）",
                             "the last entry's time (the log's claim)")}


def _relied_on(cp: Any) -> str:
    """Which checkpoint anchors the verdict, and where it came from (export or outside)."""
    if not isinstance(cp, dict):
        return _bi("无", "none")
    where = _bi("外部取得", "obtained outside the export") if cp.get("outside") \
        else _bi("导出", "the export")
    return (f"{_e(cp.get('size'))} {_bi('条', 'entries')}, {_e(cp.get('source'))} ({where}); "
            f"{_bi('见证于', 'witnessed at')} {_e(cp.get('witnessed'))}")


def _now(now: Any) -> str:
    """The time "not yet done" was judged at, and its basis (SPEC 9.2)."""
    if not isinstance(now, dict):
        return _DASH
    basis = _NOW_BASIS.get(str(now.get("basis")))
    label = _bi(*basis) if basis else _e(now.get("basis"))
    source = f", {_e(now.get('source'))}" if now.get("source") else ""
    return f"{_e(now.get('time'))} ({label}{source})"


def _summary(report: Mapping[str, Any]) -> str:
    """Title, verdict and the counts that say how much was actually checked."""
    code = report.get("exit_code")
    zh, en, colour = _VERDICTS.get(code if isinstance(code, int) else -1,
                                   ("未知", "unknown", "#444"))
    counts = {
        _bi("条目", "entries"): _e(report.get("entries")),
        _bi("检查点已核验", "checkpoints verified"):
            f"{_e(report.get('checkpoints_verified'))}/{_e(report.get('checkpoints'))}",
        _bi("签名已核验", "signatures checked"): _e(report.get("signatures_checked")),
        _bi("信任来源", "trust source"): _e(report.get("trust_source")),
        _bi("验证程序与规范", "verifier and spec"): _version(report.get("verifier")),
        _bi("所依据的检查点", "checkpoint relied on"): _relied_on(report.get("relied_on")),
        _bi("判定时间", "judged at"): _now(report.get("now")),
    }
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in counts.items())
    cosigs = report.get("cosignatures") or {}
    if isinstance(cosigs, dict) and cosigs:
        wit = _table([_bi("见证方", "witness"), _bi("最近联署时间", "latest cosignature")],
                     (f"<tr><td>{_e(n)}</td><td>{_time(t)}</td></tr>"
                      for n, t in sorted(cosigs.items())))
    else:
        wit = f'<p class="note">{_bi("无见证联署", "no witness cosignatures")}</p>'
    return (f"<h1>{_bi('双随机、一公开 抽查审计报告', 'Random-inspection audit report')}</h1>"
            f'<div class="verdict" style="--c:{colour}">{_bi("审计结论", "Verdict")}: '
            f"{escape(zh)} / {escape(en)} <span class=\"en\">(exit {_e(code)})</span></div>"
            f"<dl>{dl}</dl><h3>{_bi('见证联署', 'Witness cosignatures')}</h3>{wit}")


def _departments(depts: Mapping[str, Any]) -> str:
    """One row per department; rows with findings are highlighted."""
    rows = []
    for code, row in sorted(depts.items()):
        row = row if isinstance(row, dict) else {}
        findings = row.get("findings")
        n = len(findings) if isinstance(findings, list) else findings
        hot = ' class="hot"' if isinstance(n, int) and n > 0 else ""
        cells = [f"<td><code>{_e(code)}</code></td>", f"<td>{_e(row.get('name'))}</td>"]
        cells += [f'<td class="num">{_ratio(row, d, t)}</td>' for d, t in (
            ("plans_on_time", "plans"), ("draws_verified", "draws"),
            ("results_on_time", "results"), ("published", "results"))]
        cells.append(f'<td class="num">{_e(n)}</td>')
        rows.append(f"<tr{hot}>{''.join(cells)}</tr>")
    head = [_bi("代码", "Code"), _bi("部门", "Department"), _bi("计划按时", "Plans on time"),
            _bi("抽取已核验", "Draws verified"), _bi("结果按时录入", "Results on time"),
            _bi("结果已公示", "Results published"), _bi("发现", "Findings")]
    return f"<h2>{_bi('部门', 'Departments')}</h2>{_table(head, rows)}"


def _seq(f: Mapping[str, Any]) -> str:
    """The entry or entry range a finding points at."""
    seq, end = f.get("seq"), f.get("seq_end")
    return _e(seq) if end is None else f"{_e(seq)}–{_e(end)}"


def _finding_row(f: Mapping[str, Any], cls: str, lead: str = "") -> str:
    return (f"<tr{cls}><td class=\"num\">{lead}{_seq(f)}</td><td><code>{_e(f.get('rule'))}"
            f"</code></td><td>{_e(f.get('dept'))}</td><td>{_e(f.get('zh'))}<br>"
            f"<span class=\"en\">{_e(f.get('en'))}</span></td>"
            f"<td>{_EVIDENCE.get(str(f.get('evidence')), _e(f.get('evidence')))}</td></tr>")


def _split_causes(findings: list[Any]) -> tuple[list[dict[str, Any]],
                                                dict[int, list[dict[str, Any]]]]:
    """(causes, cause id -> its consequences) from the findings' ``cause`` indices
    (SPEC.md 9.3); a finding whose ``cause`` is not a valid index stands on its own."""
    def valid_cause(i: int, c: Any) -> bool:
        return (type(c) is int and 0 <= c < len(findings) and c != i
                and isinstance(findings[c], dict) and findings[c].get("cause") is None)

    tops: list[dict[str, Any]] = []
    follows: dict[int, list[dict[str, Any]]] = {}
    for i, f in enumerate(findings):
        if not isinstance(f, dict):
            continue
        c = f.get("cause")
        if isinstance(c, int) and valid_cause(i, c):
            follows.setdefault(c, []).append(f)
        else:
            tops.append({**f, "_index": i})
    return tops, follows


def _findings(findings: list[Any], not_shown: Any) -> str:
    """Causes grouped by severity (critical first), by entry within a group; under each
    cause, the findings that follow from it with their count."""
    order = list(_SEVERITIES)
    tops, follows = _split_causes(findings)
    total = len(tops) + sum(len(v) for v in follows.values())

    def key(f: dict[str, Any]) -> tuple[int, int, int]:
        sev = f.get("severity")
        rank = order.index(sev) if sev in order else len(order)
        seq = f.get("seq")
        return (rank, 0 if isinstance(seq, int) else 1, seq if isinstance(seq, int) else 0)

    out = [f"<h2>{_bi('发现', 'Findings')} ({total})</h2>"]
    if not total:
        out.append(f'<p class="note">{_bi("无发现", "no findings")}</p>')
    elif follows:
        note = _bi(f"先列原因（{len(tops)} 项），其后果列在其下并计数",
                   f"causes first ({len(tops)}), the findings that follow from each listed "
                   "under it with a count")
        out.append(f'<p class="note">{note}</p>')
    head = [_bi("条目", "Seq"), _bi("规则", "Rule"), _bi("部门", "Dept"), _bi("说明", "Finding"),
            _bi("时间依据", "Evidence")]
    groups: dict[str, list[dict[str, Any]]] = {}
    for f in sorted(tops, key=key):
        groups.setdefault(str(f.get("severity")), []).append(f)
    for sev, items in groups.items():
        zh, en = _SEVERITIES.get(sev, ("其他", sev))
        cls = f' class="sev-{sev}"' if sev in _SEVERITIES else ""
        rows = []
        for f in items:
            rows.append(_finding_row(f, cls))
            after = follows.get(f["_index"], [])
            if after:
                n = len(after)
                rules = sorted({str(c.get("rule")) for c in after})
                counts = ", ".join(f"{escape(r)} ×{sum(1 for c in after if c.get('rule') == r)}"
                                   for r in rules)
                rows.append(f'<tr class="follows"><td colspan="5">由此引起 {n} 条后果 / '
                            f"{n} consequences of this: {counts}</td></tr>")
                rows += [_finding_row(c, ' class="consequence"', "↳ ") for c in after]
        out.append(f"<h3>{_bi(zh, en)} ({len(items)})</h3>{_table(head, rows)}")
    if isinstance(not_shown, int) and not_shown > 0:
        out.append(f'<p class="note">另有 {not_shown} 条发现未列出 / '
                   f"{not_shown} more findings not shown (cap reached)</p>")
    return "".join(out)


def _bars(outcomes: Mapping[str, Any]) -> str:
    """Outcome counts as a table with an inline SVG bar per row (no external chart library)."""
    nums = {k: v for k, v in outcomes.items() if isinstance(v, int) and not isinstance(v, bool)}
    top = max([*nums.values(), 1])
    rows = []
    for code, n in sorted(outcomes.items(), key=lambda kv: -nums.get(kv[0], 0)):
        width = round(200 * nums.get(code, 0) / top)
        bar = (f'<svg width="200" height="12" aria-hidden="true">'
               f'<rect width="{width}" height="12" fill="#4a78b0"/></svg>')
        label = escape(_OUTCOMES.get(code, "")) or _DASH
        rows.append(f"<tr><td>{label}</td><td><code>{_e(code)}</code></td>"
                    f'<td class="num">{_e(n)}</td><td>{bar}</td></tr>')
    head = [_bi("检查结果", "Outcome"), _bi("代码", "Code"), _bi("数量", "Count"), ""]
    return _table(head, rows)


def _draws_results(draws: Mapping[str, Any], results: Mapping[str, Any],
                   depts: Mapping[str, Any]) -> str:
    """The draw and result tallies; keys this module does not know are still shown."""
    d_labels = {"committed": _bi("已承诺批次", "batches committed"),
                "executed": _bi("已执行抽取", "draws executed"),
                "verified": _bi("抽取已复算核验", "draws re-computed and verified"),
                "voided": _bi("作废（按部门）", "voided, per department"),
                "substituted": _bi("替补（按部门）", "substituted, per department"),
                "redraws": _bi("重抽", "re-draws")}
    d_items = {k: v for k, v in draws.items() if k not in ("voided", "substituted")}
    d_html = _dl(d_items, d_labels, "".join(
        f"<dt>{d_labels[k]}</dt><dd>{_per_dept(draws.get(k), depts)}</dd>"
        for k in ("voided", "substituted") if k in draws))
    r_labels = {"random": _bi("随机抽查", "random inspections"),
                "targeted": _bi("定向抽查", "targeted inspections"),
                "recorded": _bi("结果已录入", "results recorded"),
                "published": _bi("结果已公示", "results published"),
                "late_entry": _bi("逾期录入", "entered late"),
                "late_publication": _bi("逾期公示", "published late")}
    outcomes = results.get("outcomes")
    r_items = {k: v for k, v in results.items() if k != "outcomes"}
    r_html = _dl(r_items, r_labels)
    if isinstance(outcomes, dict) and outcomes:
        r_html += _bars(outcomes)
    return (f"<h2>{_bi('抽取与结果', 'Draws and results')}</h2>"
            f"<h3>{_bi('抽取', 'Draws')}</h3>{d_html}"
            f"<h3>{_bi('检查结果', 'Results')}</h3>{r_html}")


def _statistics(stats: Mapping[str, Any]) -> str:
    """The statistical tests as a table; every other key generically, nested values as JSON."""
    out = [f"<h2>{_bi('统计检验', 'Statistics')}</h2>"]
    tests = stats.get("tests")
    if isinstance(tests, list) and tests:
        rows = []
        for t in tests:
            t = t if isinstance(t, dict) else {"detail": t}
            verdict = t.get("verdict")
            if verdict == "pass":
                v = f'<span class="pass">{_bi("通过", "pass")}</span>'
            elif verdict == "flag":
                v = f'<span class="flag">{_bi("异常", "flag")}</span>'
            else:
                v = _e(verdict)
            rows.append(f"<tr><td><code>{_e(t.get('name'))}</code></td><td>{_e(t.get('zh'))}"
                        f"<br><span class=\"en\">{_e(t.get('en'))}</span></td>"
                        f'<td class="num">{_e(t.get("statistic"))}</td>'
                        f'<td class="num">{_e(t.get("threshold"))}</td><td>{v}</td>'
                        f"<td>{_e(t.get('detail'))}</td></tr>")
        head = [_bi("检验", "Test"), _bi("说明", "Description"), _bi("统计量", "Statistic"),
                _bi("阈值", "Threshold"), _bi("结论", "Verdict"), _bi("详情", "Detail")]
        out.append(_table(head, rows))
    rest = {k: v for k, v in stats.items() if k != "tests"}
    if rest:
        out.append(_dl(rest))
    return "".join(out)


_FOOTER = (
    "<footer><h2>" + _bi("如何复核", "How to reproduce") + "</h2>"
    "<p>在导出目录上运行独立验证程序（只需 Python 与 cryptography）/ Run the standalone "
    "verifier on the export (needs only Python and cryptography):</p>"
    "<pre><code>python -m verifier audit EXPORT --trust trust.json</code></pre>"
    "<p>信任文件中的公钥应与公开发布的公钥逐一比对 / Compare the keys in the trust file "
    "with the published ones.</p><h3>" + _bi("退出码", "Exit codes") + "</h3><dl>"
    + "".join(f"<dt>{c}</dt><dd>{_bi(zh, en)}</dd>" for c, (zh, en, _) in _VERDICTS.items())
    + "</dl><p class=\"note\">时间均为北京时间（UTC+8）/ Times are Asia/Shanghai (UTC+8)."
    "</p></footer>"
)


def render_html(report: dict[str, Any]) -> str:
    """The whole page for a ``Report.to_json()`` object (plus the CLI's ``trust_source`` and
    the optional ``departments`` and ``statistics``). Missing or odd-shaped parts degrade to a
    dash rather than an exception: a damaged export must still yield a readable report."""
    depts = report.get("departments")
    depts = depts if isinstance(depts, dict) else {}
    findings = report.get("findings")
    parts = [_summary(report)]
    if depts:
        parts.append(_departments(depts))
    parts.append(_findings(findings if isinstance(findings, list) else [],
                           report.get("findings_not_shown")))
    draws, results = report.get("draws"), report.get("results")
    parts.append(_draws_results(draws if isinstance(draws, dict) else {},
                                results if isinstance(results, dict) else {}, depts))
    stats = report.get("statistics")
    if isinstance(stats, dict) and stats:
        parts.append(_statistics(stats))
    parts.append(_FOOTER)
    return ("<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<title>双随机、一公开 抽查审计报告 / Random-inspection audit report</title>"
            f"<style>{_CSS}</style></head><body><main>{''.join(parts)}</main></body></html>\n")
