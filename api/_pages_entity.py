"""Portal pages about outcomes: the results with their deadlines, the audit summary of
the latest export, and one company across every draw (found by 统一社会信用代码 or by
name). Layout and helpers are ``api._pages``'s."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from api._pages import (
    Ctx,
    a,
    badge,
    company,
    dept_name,
    draw_link,
    e,
    error_page,
    facts,
    layout,
    matter_name,
    person,
    search_form,
    status_text,
    table,
    team_of,
    when,
)
from api._portal_data import PortalData
from verifier._html import _VERDICTS as AUDIT_VERDICTS  # the audit's own verdict words
from verifier._results import OUTCOMES

__all__ = ["audit_page", "entity_page", "error_page", "results_page", "search_page"]

RESULTS_PER_PAGE = 100


def _outcome(ctx: Ctx, code: str | None) -> str:
    if not code:
        return f'<span class="muted">{e(ctx.t("尚未录入", "not yet recorded"))}</span>'
    return e(ctx.t(*OUTCOMES.get(code, (code, code))))


def _step(ctx: Ctx, done: str | None, due: str | None, verdict: str) -> str:
    limit = f"<br><small>{e(ctx.t('期限', 'due'))} {e(due)}</small>" if due else ""
    return (when(done) + " " if done else "") + badge(ctx, verdict) + limit


def results_page(ctx: Ctx, data: PortalData, dept: str, page: int) -> bytes:
    rows = [s for s, i in data.inspections.items() if not dept or i.dept == dept]
    start = (page - 1) * RESULTS_PER_PAGE
    out = []
    for stream in rows[start:start + RESULTS_PER_PAGE]:
        row = data.inspections[stream]
        result, pub = data.result(stream, ctx.today)
        draw = data.draws.get(row.draw_id)
        origin = (draw_link(ctx, draw.plan_id, draw.batch_id) if draw
                  else ctx.et("专项检查（非随机）", "targeted (not random)"))
        link = f"<br>{a(e(pub['url']), ctx.et('公示记录', 'record'))}" if pub["url"] else ""
        out.append([company(ctx, data, row.uscc), origin, dept_name(data, row.dept),
                    e(row.ended_on), _outcome(ctx, result["outcome"]),
                    _step(ctx, result["recorded"], result["due"], result["deadline"]),
                    _step(ctx, pub["published"], pub["due"], pub["deadline"]) + link])
    days = (data.policy.get("result_entry_working_days", 3),
            data.policy.get("publication_working_days", 20))
    heads = [e(ctx.t(*h)) for h in (
        ("检查对象", "Target"), ("来源", "Source"), ("检查单位", "Department"),
        ("检查结束", "Inspection ended"), ("检查结果", "Outcome"),
        (f"录入（{days[0]} 个工作日内）", f"Entered (within {days[0]} working days)"),
        (f"公示（{days[1]} 个工作日内）", f"Published (within {days[1]} working days)"))]
    pages = max(1, -(-len(rows) // RESULTS_PER_PAGE))
    nav = " ".join(f"<strong>{n}</strong>" if n == page else
                   f'<a href="{ctx.href("/results", dept=dept, page=n)}">{n}</a>'
                   for n in range(1, pages + 1))
    depts = "".join(f'<option value="{e(c)}"{" selected" if c == dept else ""}>{e(n)}</option>'
                    for c, n in sorted(data.departments.items()))
    hidden = '<input type="hidden" name="lang" value="en">' if ctx.lang == "en" else ""
    form = (f'<form class="search" method="get" action="/results">{hidden}'
            f'<select name="dept" aria-label="{e(ctx.t("单位", "Department"))}"><option value="">'
            f'{e(ctx.t("全部单位", "All departments"))}</option>{depts}</select>'
            f'<button type="submit">{e(ctx.t("筛选", "Filter"))}</button></form>')
    note = ctx.t("期限自检查结束次日起按已发布的工作日历计算（规范 16.3）。",
                 "Deadlines count working days from the day after the inspection ended, by "
                 "the published calendars (SPEC 16.3).")
    return layout(ctx, ctx.t("检查结果公示", "Inspection results"),
                  form + f'<p class="muted">{e(note)} {e(ctx.t("共", "Total:"))} {len(rows)}</p>'
                  + table(heads, out) + f"<p>{nav}</p>", data.origin)


def audit_page(ctx: Ctx, data: PortalData, report: dict[str, Any] | None) -> bytes:
    """The summary of the audit of the latest export (its aggregates only)."""
    title = ctx.t("审计摘要", "Audit summary")
    if report is None:
        text = ctx.t("本站未配置审计报告。审计机关可自行导出并审计：drawledger export DIR，"
                     "然后 python -m verifier audit DIR --trust trust.json --json > report.json；"
                     "运营方以 python -m api --audit-report report.json 在此公布其摘要。",
                     "No audit report is configured. An audit body exports and audits on its "
                     "own: drawledger export DIR, then python -m verifier audit DIR --trust "
                     "trust.json --json > report.json; the operator publishes its summary "
                     "here with python -m api --audit-report report.json.")
        return layout(ctx, title, f"<p>{e(text)}</p>", data.origin)
    code = report.get("exit_code")
    zh, en, colour = AUDIT_VERDICTS.get(code if isinstance(code, int) else -1,
                                        ("未知", "unknown", "#444"))
    now = report.get("now") or {}
    relied = report.get("relied_on") or {}
    items = [(ctx.t("结论", "Verdict"),
              f'<strong style="color:{colour}">{e(ctx.t(zh, en))}</strong> (exit {e(code)})'),
             (ctx.t("条目", "Entries"), e(report.get("entries"))),
             (ctx.t("检查点已核验", "Checkpoints verified"),
              f"{e(report.get('checkpoints_verified'))}/{e(report.get('checkpoints'))}"),
             (ctx.t("所依据的检查点", "Checkpoint relied on"),
              f"{e(relied.get('size'))} <code>{e(relied.get('root'))}</code> "
              f"{e(relied.get('witnessed'))}"),
             (ctx.t("判定时间", "Judged at"), f"{e(now.get('time'))} ({e(now.get('basis'))})")]
    counts: dict[tuple[str, str], int] = {}
    for f in report.get("findings") or []:
        key = (str(f.get("rule")), str(f.get("kind")))
        counts[key] = counts.get(key, 0) + 1
    findings = table([ctx.et("规则", "Rule"), ctx.et("类别", "Kind"), ctx.et("次数", "Count")],
                     [[f"<code>{e(r)}</code>", e(k), e(n)] for (r, k), n in sorted(counts.items())])
    depts = report.get("departments") or {}
    heads = [e(ctx.t(*h)) for h in (("单位", "Department"), ("计划按时", "Plans on time"),
                                    ("抽取已复算", "Draws recomputed"),
                                    ("结果按时录入", "Results on time"),
                                    ("结果已公示", "Results published"), ("发现", "Findings"))]
    rows = [[dept_name(data, c), f"{e(r.get('plans_on_time'))}/{e(r.get('plans'))}",
             f"{e(r.get('draws_verified'))}/{e(r.get('draws'))}",
             f"{e(r.get('results_on_time'))}/{e(r.get('results'))}",
             f"{e(r.get('published'))}/{e(r.get('results'))}", e(r.get("findings"))]
            for c, r in sorted(depts.items())]
    outcomes = (report.get("results") or {}).get("outcomes") or {}
    tests = (report.get("statistics") or {}).get("tests") or []
    body = (facts(items)
            + f"<h2>{e(ctx.t('发现（按规则计数）', 'Findings by rule'))}</h2>"
            + (findings if counts else f"<p>{e(ctx.t('无', 'none'))}</p>")
            + f"<h2>{e(ctx.t('各单位', 'Departments'))}</h2>" + table(heads, rows)
            + f"<h2>{e(ctx.t('检查结果分布', 'Outcomes'))}</h2>"
            + table([e(ctx.t("结果", "Outcome")), e(ctx.t("次数", "Count"))],
                    [[_outcome(ctx, str(k)), e(v)] for k, v in sorted(outcomes.items())])
            + f"<h2>{e(ctx.t('全年统计检验', 'Tests across the year'))}</h2>"
            + table([e(ctx.t("检验", "Test")), e(ctx.t("结论", "Verdict"))],
                    [[e(ctx.t(str(t.get("zh")), str(t.get("en")))), e(t.get("verdict"))]
                     for t in tests]))
    return layout(ctx, title, body, data.origin)


def search_page(ctx: Ctx, data: PortalData, q: str, matches: list[tuple[str, str]],
                error: tuple[str, str] | None) -> bytes:
    body = search_form(ctx, q)
    if error is not None:
        body += f'<p class="bad" role="alert">{e(ctx.t(*error))}</p>'
    elif q:
        none = ctx.et("没有名称包含该文字的检查对象。",
                      "No target has a name containing this text.")
        body += (f"<h2>{ctx.et('名称包含', 'Names containing')} “{e(q)}”</h2>"
                 + (table([ctx.et("企业", "Company")],
                          [[company(ctx, data, u)] for u, _ in matches]) if matches
                    else f"<p>{none}</p>"))
    else:
        hint = ctx.et("输入 18 位统一社会信用代码（全角、空格、小写均可），或企业名称中的文字。",
                      "Enter the 18-character unified social credit code (full-width, spaces "
                      "and lower case are fine), or part of the name.")
        body += f'<p class="muted">{hint}</p>'
    return layout(ctx, ctx.t("企业查询", "Look up a company"), body, data.origin)


def _result_items(ctx: Ctx, r: dict[str, Any], p: dict[str, Any]) -> list[tuple[str, str]]:
    record = f" {a(e(p['url']), ctx.et('公示记录', 'record'))}" if p["url"] else ""
    return [(ctx.t("检查结果", "Outcome"), _outcome(ctx, r["outcome"])),
            (ctx.t("结果录入", "Entered"), _step(ctx, r["recorded"], r["due"], r["deadline"])),
            (ctx.t("结果公示", "Published"),
             _step(ctx, p["published"], p["due"], p["deadline"]) + record)]


def _fate(ctx: Ctx, d: dict[str, Any]) -> str:
    if d["excluded"]:
        return ctx.t("因排除期（同一事项近期已被抽中）未进入本次对象池",
                     "excluded: drawn for the same matter within the plan's window")
    if d["status"] == "voided":
        return ctx.t("在对象池中；该抽取已作废", "in the pool; the draw was voided")
    if d["drawn"] is None:
        return ctx.t("在对象池中；尚未执行抽取", "in the pool; not drawn yet")
    if d["unfillable"]:
        return ctx.t("被抽中，但无法配齐检查人员", "drawn, but no team could be staffed")
    if d["drawn"]:
        return ctx.t("被抽中", "drawn")
    return ctx.t("在对象池中，未被抽中", "in the pool, not drawn")


def _proof_links(ctx: Ctx, proof: str | None) -> str:
    """The entity proof's download and, for a compact proof, the page that checks it in
    this browser (``/verify/``: the proof is all it reads)."""
    if not proof:
        return ctx.et("本站尚未提供公开的企业证明；完整证明包仅供审计机关",
                      "no public entity proof served here yet; the full bundle is for "
                      "auditors only")
    links = a(e(proof), ctx.et("下载本企业的证明", "download the proof"))
    if proof.endswith("/proof"):
        check = "/verify/page/verify.html?" + urlencode({"proof": proof})
        links = (a(e(check), f"<strong>{ctx.et('在本浏览器中核验', 'verify in this browser')}"
                              "</strong>") + " · " + links)
    return links


def entity_page(ctx: Ctx, data: PortalData, answer: dict[str, Any]) -> bytes:
    uscc = answer["uscc"]
    head = [(ctx.t("统一社会信用代码", "Unified social credit code"), f"<code>{e(uscc)}</code>"),
            (ctx.t("名称", "Name"),
             e(answer["name"] or ctx.t("名录库中没有", "not on the registries"))),
            (ctx.t("登记单位", "Registry of"),
             dept_name(data, answer["dept"]) if answer["dept"] else ""),
            (ctx.t("检查过的抽取", "Draws examined"), e(answer["draws_examined"])),
            (ctx.t("对象池含有它的抽取", "Draws whose pool held it"), e(len(answer["draws"])))]
    if answer["removed"]:
        head.append((ctx.t("名录状态", "Registry"),
                     ctx.et("已移出名录库", "removed from the registry")))
    cards = []
    for d in answer["draws"]:
        items = [(ctx.t("检查事项", "Matter"), matter_name(data, d["matter"])),
                 (ctx.t("抽取日", "Draw date"), e(d["draw_date"])),
                 (ctx.t("状态", "Status"), status_text(ctx, d["status"])),
                 (ctx.t("本企业", "This company"), f"<strong>{e(_fate(ctx, d))}</strong>")]
        if d["team"]:
            items.append((ctx.t("检查人员（执法证号）", "Inspectors (certificate no.)"),
                          team_of(ctx, d["team"])))
        for s in d["substitutions"]:
            items.append((ctx.t("回避替换", "Replaced"),
                          f"{person(s['out'], ctx)} → {person(s['in'], ctx)}"))
        if d["result"]:
            items += _result_items(ctx, d["result"], d["publication"])
        if d["pool_consistent"] is False:
            items.append((ctx.t("注意", "Note"), e(ctx.t(
                "按日志重建的对象池与承诺不符，请以证明包核验结果为准",
                "the pool rebuilt from the log differs from the commitment: rely on the "
                "bundle check"))))
        items.append((ctx.t("证明", "Proof"), _proof_links(ctx, d["proof"])))
        cards.append(f'<section class="card"><h3>{draw_link(ctx, d["plan_id"], d["batch_id"])} '
                     f"{dept_name(data, d['dept'])}</h3>{facts(items)}</section>")
    if not cards:
        cards.append("<p>" + ctx.et("没有任何已提交承诺的抽取的对象池含有该代码。",
                                     "No committed draw had this code in its pool.") + "</p>")
    for t in answer["targeted"]:
        r = t["result"]
        title = ctx.et("专项检查（非随机抽取）", "Targeted inspection (not drawn)")
        cards.append(f'<section class="card"><h3>{title} {dept_name(data, r["dept"])}</h3>'
                     + facts([(ctx.t("检查结束", "Ended"), e(r["ended_on"])),
                              *_result_items(ctx, r, t["publication"])]) + "</section>")
    compact = any((d["proof"] or "").endswith("/proof") for d in answer["draws"])
    command = ("python -m verifier entity-proof 文件 --trust trust.json" if compact else
               "python -m verifier entity 文件 统一社会信用代码 --trust trust.json")
    english = command.replace("文件", "FILE").replace("统一社会信用代码", "USCC")
    code = f"<code>{ctx.et(command, english)}</code>"
    how = ctx.t(f"每项都可离线核验：下载证明后运行 {code}。",
                f"Each can be checked offline: download the proof, then run {code}.")
    return layout(ctx, answer["name"] or uscc,
                  facts(head) + "".join(cards) + f'<p class="muted">{how}</p>'
                  + search_form(ctx, ""), data.origin)
