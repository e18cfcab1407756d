"""The portal's HTML (公示): server-rendered pages that read with no script, Chinese by
default and English with ``?lang=en``, one column under 600 px, the system's fonts (Noto
Sans CJK on Linux) and one inline stylesheet, so nothing loads from anywhere else.

Every value comes from ``api._portal_data`` (whitelisted fields only) and is escaped
here. This module holds the layout and the pages about plans and draws;
``api._pages_entity`` the results, the audit summary and the company lookup.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from api._portal_data import LATE, MISSED, ON_TIME, PENDING, UNKNOWN, Draw, Plan, PortalData
from ledger._bundle import DRAW_STATUS_ZH
from verifier import Trust
from verifier._results import OUTCOMES as OUTCOME_WORDS

__all__ = ["CSS", "Ctx", "draw_page", "draws_page", "home_page", "layout", "plans_page"]

_SHANGHAI = timezone(timedelta(hours=8))
# System fonts only: the CJK faces each platform ships (Noto Sans CJK / 思源黑体 on Linux).
_FONTS = ('system-ui, -apple-system, "Segoe UI", "PingFang SC", "Hiragino Sans GB", '
          '"Microsoft YaHei", "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", '
          '"WenQuanYi Micro Hei", sans-serif')
CSS = f"""
:root{{--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--bg:#f6f8fa;--link:#0a58ad;
--ok:#1a7f37;--bad:#b42318;--warn:#8a5a00}}
*{{box-sizing:border-box}}
body{{margin:0;font-family:{_FONTS};line-height:1.6;color:var(--fg);background:#fff}}
a{{color:var(--link)}}
header{{background:#7a1212;color:#fff;padding:.6em 1em;display:flex;flex-wrap:wrap;
gap:.4em 1em;align-items:baseline;justify-content:space-between}}
header a{{color:#fff}}
.brand{{font-weight:700;font-size:1.1em;text-decoration:none}}
.page{{display:grid;grid-template-columns:11em minmax(0,1fr);gap:1.5em;max-width:78em;
margin:0 auto;padding:1em}}
nav ul{{list-style:none;margin:0;padding:0}}
nav li a{{display:block;padding:.35em .5em;border-radius:4px;text-decoration:none}}
nav li a[aria-current]{{background:var(--bg);font-weight:700}}
h1{{font-size:1.5em;margin:.2em 0 .6em}}
h2{{font-size:1.2em;margin:1.4em 0 .5em;border-bottom:1px solid var(--line)}}
.wrap{{overflow-x:auto}}
table{{border-collapse:collapse;width:100%;font-size:.95em}}
th,td{{border:1px solid var(--line);padding:.3em .5em;text-align:left;vertical-align:top}}
th{{background:var(--bg)}}
code,.mono{{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:.9em;
word-break:break-all}}
.badge{{display:inline-block;padding:0 .45em;border-radius:3px;font-size:.85em;
border:1px solid currentColor;white-space:nowrap}}
.ok{{color:var(--ok)}}.bad{{color:var(--bad)}}.warn{{color:var(--warn)}}
.muted{{color:var(--muted)}}.team code{{white-space:nowrap}}
dl.facts{{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:.2em 1em}}
dl.facts dt{{color:var(--muted)}}dl.facts dd{{margin:0}}
.card{{border:1px solid var(--line);border-radius:6px;padding:.6em 1em;margin:.8em 0}}
.card h3{{margin:.2em 0 .5em;font-size:1.05em}}
form.search{{display:flex;flex-wrap:wrap;gap:.5em;align-items:center}}
form.search input[type=text]{{flex:1 1 16em;padding:.4em;font:inherit}}
button,select{{font:inherit;padding:.3em .8em}}
footer{{max-width:78em;margin:2em auto;padding:0 1em;color:var(--muted);font-size:.9em}}
@media (max-width:600px){{
.page{{grid-template-columns:1fr;gap:.5em}}
nav ul{{display:flex;flex-wrap:wrap;gap:.2em}}
table.rows thead{{display:none}}
table.rows,table.rows tbody,table.rows tr,table.rows td{{display:block;width:100%}}
table.rows tr{{border:1px solid var(--line);border-radius:6px;margin:0 0 .7em;padding:.3em}}
table.rows td{{border:0;padding:.15em .3em}}
table.rows td::before{{content:attr(data-label) "：";font-weight:600;color:var(--muted)}}
dl.facts{{grid-template-columns:minmax(0,max-content) minmax(0,1fr);gap:.3em .8em}}
dl.facts dt{{max-width:6.5em}}
}}
"""

_NAV = (("/", "首页", "Home"), ("/plans", "年度计划", "Plans"), ("/draws", "抽取", "Draws"),
        ("/results", "检查结果", "Results"), ("/audit", "审计", "Audit"),
        ("/entity", "企业查询", "Look up a company"))
_VERDICT = {ON_TIME: ("按时", "on time", "ok"), LATE: ("逾期", "late", "bad"),
            UNKNOWN: ("无法判断（缺少工作日历）", "cannot tell (no calendar)", "warn"),
            PENDING: ("未到期", "not yet due", "muted"), MISSED: ("逾期未办", "overdue", "bad")}
_STATUS_EN = {"committed": "committed, not yet executed", "executed": "executed",
              "voided": "voided"}


@dataclass(frozen=True)
class Ctx:
    """One request as a page sees it: its language, its path and query (for the language
    switch), today's date (for deadlines still open) and where proofs are served."""

    lang: str
    path: str
    params: tuple[tuple[str, str], ...] = ()
    today: date = date(2000, 1, 1)

    def t(self, zh: str, en: str) -> str:
        return en if self.lang == "en" else zh

    def et(self, zh: str, en: str) -> str:
        """``t``, escaped for HTML."""
        return escape(self.t(zh, en))

    def href(self, path: str, **params: Any) -> str:
        """A link within the portal, in this page's language."""
        query = {k: str(v) for k, v in params.items() if v not in (None, "")}
        if self.lang == "en":
            query["lang"] = "en"
        return escape(path + ("?" + urlencode(query) if query else ""))

    def switch(self) -> str:
        """This page in the other language."""
        query = dict(self.params)
        if self.lang != "en":
            query["lang"] = "en"
        return escape(self.path + ("?" + urlencode(query) if query else ""))


def e(value: Any) -> str:
    return "" if value is None else escape(str(value))


def a(href: str, html: str) -> str:
    """A link to ``href``, already escaped (``Ctx.href`` output, or ``e(url)``)."""
    return f'<a href="{href}">{html}</a>'


def person(p: dict[str, str] | None, ctx: Ctx) -> str:
    """An inspector as the public sees one: name and 执法证号."""
    if p is None:
        return ctx.et("无人", "nobody")
    return f"{e(p['name'])} <code>{e(p['cert_no'])}</code>"


def team_of(ctx: Ctx, people: Iterable[dict[str, str] | None]) -> str:
    """A team, one inspector a line, each 执法证号 kept whole on a phone."""
    return '<span class="team">' + "<br>".join(person(p, ctx) for p in people) + "</span>"


def draw_link(ctx: Ctx, plan_id: str, batch_id: str) -> str:
    return a(ctx.href(f"/draws/{quote(plan_id)}/{quote(batch_id)}"),
             f"<code>{e(plan_id)}/{e(batch_id)}</code>")


def when(text: str) -> str:
    """An entry time (Asia/Shanghai) as people write it: 2025-03-16 16:00."""
    return e(text[:16].replace("T", " "))


def unix(ts: int | None) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, UTC).astimezone(_SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def badge(ctx: Ctx, verdict: str) -> str:
    if not verdict:
        return ""
    zh, en, cls = _VERDICT.get(verdict, (verdict, verdict, "muted"))
    return f'<span class="badge {cls}">{e(ctx.t(zh, en))}</span>'


def status_text(ctx: Ctx, status: str) -> str:
    return e(ctx.t(DRAW_STATUS_ZH.get(status, status), _STATUS_EN.get(status, status)))


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A table whose cells are already HTML; under 600 px each row becomes a card whose
    cells are labelled with their column's heading."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f'<td data-label="{h}">{c}</td>'
                                    for h, c in zip(headers, row, strict=True)) + "</tr>"
                   for row in rows)
    return (f'<div class="wrap"><table class="rows"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def facts(items: Iterable[tuple[str, str]]) -> str:
    return '<dl class="facts">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in items) + \
        "</dl>"


def layout(ctx: Ctx, title: str, body: str, origin: str = "") -> bytes:
    """The page around ``body``: header with the language switch, navigation, footer."""
    current = ' aria-current="page"'

    def here(path: str) -> bool:
        return path == ctx.path or (path != "/" and ctx.path.startswith(path + "/"))

    nav = "".join(f'<li><a href="{ctx.href(path)}"{current if here(path) else ""}>'
                  f"{e(ctx.t(zh, en))}</a></li>" for path, zh, en in _NAV)
    other = ctx.t('<span lang="en">English</span>', '<span lang="zh-CN">中文</span>')
    site = ctx.t("双随机、一公开 抽查公示", "Random inspections: public record")
    return (f'<!DOCTYPE html>\n<html lang="{ctx.t("zh-CN", "en")}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{e(title)} · {e(site)}</title><style>{CSS}</style></head><body>"
            f'<header><a class="brand" href="{ctx.href("/")}">{e(site)}</a>'
            f'<a class="lang" href="{ctx.switch()}">{other}</a></header>'
            f'<div class="page"><nav aria-label="{e(ctx.t("栏目", "Sections"))}"><ul>{nav}</ul>'
            f"</nav><main><h1>{e(title)}</h1>{body}</main></div>"
            f"<footer>{ctx.et('本页内容均来自可验证的审计日志', 'All of it from a verifiable log')}"
            f"{' · <code>' + e(origin) + '</code>' if origin else ''} · "
            f'<a href="/trust.json">trust.json</a> · <a href="{ctx.href("/docs")}">API</a>'
            "</footer></body></html>\n").encode()


def bundle_link(ctx: Ctx, data: PortalData, draw: Draw, text: str) -> str:
    """The draw's full bundle, or why the public gets none (a v2 log: auditors only)."""
    href = data.bundle(draw)
    if href is None:
        only = ctx.et("完整证明包仅供审计机关", "full bundle: auditors only")
        return f'<span class="muted">{only}</span>'
    return a(e(href), text)


def dept_name(data: PortalData, code: str) -> str:
    name = data.departments.get(code)
    return f"{e(name)} <code>{e(code)}</code>" if name else f"<code>{e(code)}</code>"


def matter_name(data: PortalData, matter: str) -> str:
    return e(data.matters.get(matter, {}).get("name") or matter)


def company(ctx: Ctx, data: PortalData, uscc: str) -> str:
    name = data.targets.get(uscc, [""])[0]
    link = f'<a href="{ctx.href("/entity/" + quote(uscc))}"><code>{e(uscc)}</code></a>'
    return f"{e(name)}<br>{link}" if name else link


# -- home ---------------------------------------------------------------------------------
def home_page(ctx: Ctx, data: PortalData, trust: Trust, root: str) -> bytes:
    latest = data.latest_cosigned()
    executed = sum(1 for d in data.draws.values() if d.executed)
    published = sum(1 for i in data.inspections.values() if i.published)
    counts = [(ctx.t("成员单位", "Member departments"), e(len(data.departments))),
              (ctx.t("检查对象（名录库在册）", "Targets on the registries"),
               e(sum(c["targets"] for c in data.counts.values()))),
              (ctx.t("执法检查人员", "Inspectors"),
               e(sum(c["inspectors"] for c in data.counts.values()))),
              (ctx.t("年度计划", "Annual plans"), e(len(data.plans))),
              (ctx.t("已执行的抽取", "Draws executed"), e(executed)),
              (ctx.t("已公示的检查结果", "Results published"), e(published)),
              (ctx.t("日志条目", "Log entries"), e(data.size))]
    if latest is None:
        cp = f"<p>{e(ctx.t('尚无经见证人联署发布的检查点。', 'No checkpoint published yet.'))}</p>"
    else:
        size, times = latest
        cp = facts([(ctx.t("树大小（条目数）", "Tree size (entries)"), e(size)),
                    (ctx.t("根哈希", "Root hash"), f"<code>{e(root)}</code>")]) + table(
            [e(ctx.t("见证人", "Witness")), e(ctx.t("联署时间", "Cosigned at"))],
            [[f"<code>{e(name)}</code>", e(unix(t))] for name, t in sorted(times.items())])
        need = ctx.et(f"需 {trust.quorum} 位见证人联署",
                      f"{trust.quorum} witness cosignature(s) required")
        download = a("/v1/checkpoint", ctx.et("下载检查点", "Download the checkpoint"))
        cp += f"<p>{download} ({need})</p>"
    per_dept = []
    plans_by: dict[str, int] = {}
    for plan in data.plans.values():
        plans_by[plan.dept] = plans_by.get(plan.dept, 0) + 1
    draws_by: dict[str, int] = {}
    for draw in data.draws.values():
        draws_by[draw.dept] = draws_by.get(draw.dept, 0) + 1
    for code in sorted(data.departments):
        c = data.counts.get(code, {"targets": 0, "inspectors": 0})
        per_dept.append([dept_name(data, code), e(c["targets"]), e(c["inspectors"]),
                         a(ctx.href("/plans", dept=code), e(plans_by.get(code, 0))),
                         a(ctx.href("/draws", dept=code), e(draws_by.get(code, 0)))])
    fingerprint = trust.fingerprint()
    pin = ctx.t(
        "核验所信任的日志密钥、主管机关密钥和见证人都在 trust.json 里。不要只相信本网站："
        "把下面的指纹与独立渠道公布的指纹比对——部门公开的年度抽查计划（计划公示页），"
        "或见证单位自己发布的指纹；一致后保存该文件，以后核验都用 "
        "<code>--trust trust.json</code>。计算指纹：<code>sha256sum trust.json</code>"
        "（Windows：<code>certutil -hashfile trust.json SHA256</code>）。",
        "The log key, the authority keys and the witnesses a check trusts are in trust.json. "
        "Do not take them from this site alone: compare the fingerprint below with one "
        "published through a channel the log does not control (the department's published "
        "annual plan, or a witness's own announcement); when they match, keep the file and "
        "check with <code>--trust trust.json</code>. To compute the fingerprint: "
        "<code>sha256sum trust.json</code> (Windows: "
        "<code>certutil -hashfile trust.json SHA256</code>).")
    body = (facts(counts)
            + f"<h2>{e(ctx.t('企业查询', 'Look up a company'))}</h2>" + search_form(ctx, "")
            + f"<h2>{e(ctx.t('最新检查点与见证', 'Latest checkpoint and its witnesses'))}</h2>{cp}"
            + f"<h2>{e(ctx.t('信任根', 'Trust root'))}</h2>"
            + facts([(ctx.t("信任策略", "Trust policy"), '<a href="/trust.json">/trust.json</a>'),
                      (ctx.t("指纹（SHA-256）", "Fingerprint (SHA-256)"),
                       f'<code id="fingerprint">{e(fingerprint)}</code>')])
            + f"<p>{pin}</p>"
            + f"<h2>{e(ctx.t('成员单位', 'Departments'))}</h2>"
            + table([e(ctx.t(*h)) for h in (("单位", "Department"), ("检查对象", "Targets"),
                                            ("检查人员", "Inspectors"), ("计划", "Plans"),
                                            ("抽取", "Draws"))], per_dept))
    return layout(ctx, ctx.t("双随机、一公开 抽查公示", "Random inspections: public record"),
                  body, data.origin)


def search_form(ctx: Ctx, q: str) -> str:
    hidden = '<input type="hidden" name="lang" value="en">' if ctx.lang == "en" else ""
    return (f'<form class="search" method="get" action="/entity">{hidden}'
            f'<label for="q" class="muted">'
            f'{ctx.et("统一社会信用代码或企业名称", "Unified social credit code or company name")}'
            "</label>"
            f'<input type="text" id="q" name="q" value="{e(q)}" maxlength="100" required>'
            f'<button type="submit">{e(ctx.t("查询", "Search"))}</button></form>')


# -- plans --------------------------------------------------------------------------------
def plans_page(ctx: Ctx, data: PortalData, dept: str, year: str) -> bytes:
    missing = data.plan_missing(ctx.today)
    rows = []
    plans = sorted(data.plans.values(), key=lambda p: (-p.year, p.dept, p.plan_id))
    for plan in plans:
        if (dept and dept not in (plan.dept, *plan.joint)) or (year and str(plan.year) != year):
            continue
        joint = "".join(f"<br>+ {dept_name(data, d)}" for d in plan.joint)
        batches = "<br>".join(
            f'<a href="{ctx.href(f"/draws/{quote(plan.plan_id)}/{quote(b)}")}">{e(b)}</a> '
            f"{e(day)} {matter_name(data, m)}" for b, day, m in plan.batches)

        def step(name: str, done: str, extra: str = "", plan: Plan = plan) -> str:
            if done:
                return f"{when(done)} {badge(ctx, plan.verdict.get(name, ''))}{extra}"
            if name in missing.get(plan.plan_id, set()):
                return badge(ctx, MISSED)
            return f'<span class="muted">{e(ctx.t("尚无", "not yet"))}</span>'

        url = f"<br>{a(e(plan.url), ctx.et('公开页面', 'publication'))}" if plan.url else ""
        rows.append([f"<code>{e(plan.plan_id)}</code><br>{e(plan.title)}",
                     dept_name(data, plan.dept) + joint, e(plan.year),
                     step("filed", plan.filed), step("received", plan.received),
                     step("published", plan.published, url), batches])
    deadline = data.policy.get("plan_filing_deadline", "01-31")
    depts = "".join(f'<option value="{e(c)}"{" selected" if c == dept else ""}>{e(n)}</option>'
                    for c, n in sorted(data.departments.items()))
    years = sorted({p.year for p in data.plans.values()}, reverse=True)
    year_opts = "".join(f'<option{" selected" if str(y) == year else ""}>{e(y)}</option>'
                        for y in years)
    hidden = '<input type="hidden" name="lang" value="en">' if ctx.lang == "en" else ""
    form = (f'<form class="search" method="get" action="/plans">{hidden}'
            f'<select name="dept" aria-label="{e(ctx.t("单位", "Department"))}"><option value="">'
            f'{e(ctx.t("全部单位", "All departments"))}</option>{depts}</select>'
            f'<select name="year" aria-label="{e(ctx.t("年度", "Year"))}"><option value="">'
            f'{e(ctx.t("全部年度", "All years"))}</option>{year_opts}</select>'
            f'<button type="submit">{e(ctx.t("筛选", "Filter"))}</button></form>')
    note = ctx.t(f"计划应于当年 {deadline}（逢节假日顺延至下一个工作日）前报备；按时/逾期按"
                 "日志时间和已发布的工作日历判断（规范 6.4）。",
                 f"A plan is due on {deadline} of its year (moved to the next working day "
                 "when that is a day off); on time or late is judged by the log time and the "
                 "published working calendars (SPEC 6.4).")
    heads = [e(ctx.t(*h)) for h in (("计划", "Plan"), ("单位", "Department"), ("年度", "Year"),
                                    ("报备", "Filed"), ("备案回执", "Received"),
                                    ("公开", "Published"), ("批次", "Batches"))]
    return layout(ctx, ctx.t("年度抽查计划", "Annual inspection plans"),
                  form + f'<p class="muted">{e(note)}</p>' + table(heads, rows), data.origin)


# -- draws --------------------------------------------------------------------------------
def _strata(draw: Draw) -> str:
    return "<br>".join(f"{e(s)}: {e(n)} → {e(draw.sample.get(s, 0))}"
                       for s, n in draw.strata.items())


def evidence(ctx: Ctx, data: PortalData, draw: Draw, trust: Trust) -> str:
    kind, t = data.commit_evidence(draw, trust)
    if kind == "witnessed":
        return (f'{when(draw.committed)} <span class="badge ok">{e(ctx.t("见证", "witnessed"))}'
                f"</span><br><small>{e(ctx.t('见证人联署于', 'cosigned by'))} {e(unix(t))}</small>")
    return f'{when(draw.committed)} <span class="badge warn">{ctx.et("日志自述", "claimed")}</span>'


def draws_page(ctx: Ctx, data: PortalData, trust: Trust, dept: str) -> bytes:
    rows = []
    for draw in sorted(data.draws.values(), key=lambda d: (d.draw_date, d.draw_id)):
        if dept and draw.dept != dept:
            continue
        link = draw_link(ctx, draw.plan_id, draw.batch_id)
        rows.append([link, e(draw.draw_date), matter_name(data, draw.matter),
                     dept_name(data, draw.dept), f"<code>{e(draw.round)}</code>",
                     evidence(ctx, data, draw, trust), _strata(draw),
                     status_text(ctx, draw.status)
                     + (f"<br>{ctx.et('抽中', 'drawn')} {len(draw.teams)}"
                        if draw.executed else ""),
                     bundle_link(ctx, data, draw, ctx.et("证明包", "bundle"))])
    heads = [e(ctx.t(*h)) for h in (
        ("抽取", "Draw"), ("抽取日", "Date"), ("检查事项", "Matter"), ("单位", "Department"),
        ("随机数轮次", "Beacon round"), ("承诺时间", "Commitment time"),
        ("各层对象数 → 抽取数", "Per stratum: members → drawn"), ("状态", "Status"),
        ("证明", "Proof"))]
    note = ctx.t("“见证”：见证人在随机数公布之前已联署包含该承诺的检查点，承诺时间不依赖日志自述；"
                 "“日志自述”：只有日志本身给出的时间。",
                 "“witnessed”: the witnesses cosigned a checkpoint holding the commitment "
                 "before the beacon round was due, so its time does not rest on the log's "
                 "word; “claimed”: only the log's own time.")
    return layout(ctx, ctx.t("抽取", "Draws"), f'<p class="muted">{e(note)}</p>'
                  + table(heads, rows), data.origin)


def draw_page(ctx: Ctx, data: PortalData, draw: Draw, trust: Trust) -> bytes:
    chain = trust.chains().get(draw.chain)
    due = unix(chain.round_time(draw.round)) if chain is not None and draw.round >= 1 else ""
    items = [(ctx.t("计划", "Plan"), a(ctx.href("/plans"), f"<code>{e(draw.plan_id)}</code>")),
             (ctx.t("批次", "Batch"), f"<code>{e(draw.batch_id)}</code>"),
             (ctx.t("检查事项", "Matter"), matter_name(data, draw.matter)),
             (ctx.t("牵头单位", "Lead department"), dept_name(data, draw.dept)),
             (ctx.t("抽取时间", "Draw time"), when(draw.draw_time)),
             (ctx.t("状态", "Status"), status_text(ctx, draw.status)),
             (ctx.t("承诺时间", "Commitment time"), evidence(ctx, data, draw, trust)),
             (ctx.t("随机数", "Beacon"),
              f"{e(chain.name if chain else '')} <code>{e(draw.chain[:16])}…</code> "
              f"{e(ctx.t('第', 'round'))} {e(draw.round)} {e(ctx.t('轮', ''))}"
              f" · {e(ctx.t('公布于', 'due at'))} {e(due)}"),
             (ctx.t("承诺方", "Committing parties"),
              "、".join(dept_name(data, d) for d in draw.parties)),
             (ctx.t("对象池", "Pool"), f"{e(draw.pool_size)} · <code>{e(draw.pool_root)}</code>"),
             (ctx.t("因排除期不入池", "Excluded by the window"), e(draw.excluded_size))]
    if draw.executed:
        items += [(ctx.t("执行时间", "Executed"), when(draw.executed)),
                  (ctx.t("种子", "Seed"), f"<code>{e(draw.seed)}</code>")]
    if draw.redraws:
        items.append((ctx.t("重新抽取（违规）", "Re-draws (a violation)"), e(draw.redraws)))
    strata = table([e(ctx.t(*h)) for h in (("层", "Stratum"), ("对象数", "Members"),
                                           ("抽取数", "Drawn"), ("分界分数", "Cut-off score"))],
                   [[e(s), e(n), e(draw.sample.get(s, 0)),
                     f"<code>{e(draw.cutoffs[s])}</code>" if draw.cutoffs.get(s) else "—"]
                    for s, n in draw.strata.items()])
    subs: dict[str, list[str]] = {}
    for s in draw.substitutions:
        new = data.person(str(s["in"])) if s["in"] else None
        subs.setdefault(str(s["uscc"]), []).append(
            f"{ctx.et('回避替换', 'replaced')}: {person(data.person(str(s['out'])), ctx)} → "
            + person(new, ctx))
    rows = []
    for n, uscc in enumerate(draw.selected, start=1):
        team = team_of(ctx, (data.person(c) for c in draw.teams.get(uscc, ())))
        if uscc in draw.unfillable:
            short = draw.unfillable[uscc]
            team = ctx.et(f"无法配齐检查人员（{data.departments.get(short, short)}）",
                          f"could not be staffed ({short})")
        stream = data.by_draw.get((draw.draw_id, uscc))
        outcome = f'<span class="muted">{ctx.et("尚无检查记录", "no inspection yet")}</span>'
        if stream:
            row = data.inspections[stream]
            outcome = e(ctx.t(*OUTCOME_WORDS.get(row.outcome, (row.outcome, row.outcome)))) \
                if row.outcome else e(ctx.t("尚未录入", "not yet recorded"))
        rows.append([e(n), company(ctx, data, uscc),
                     team + "".join(f"<br><small>{s}</small>" for s in subs.get(uscc, [])),
                     outcome])
    heads = [e(ctx.t(*h)) for h in (("序", "#"), ("检查对象", "Target"),
                                    ("检查人员（执法证号）", "Inspectors (certificate no.)"),
                                    ("检查结果", "Result"))]
    body = (facts(items) + f"<h2>{e(ctx.t('分层与分界分数', 'Strata and cut-offs'))}</h2>" + strata
            + f"<h2>{e(ctx.t('抽中的检查对象与检查人员', 'Targets drawn and their teams'))}</h2>"
            + (table(heads, rows) if rows
               else f"<p>{ctx.et('尚未执行。', 'Not executed yet.')}</p>")
            + "<p>" + bundle_link(ctx, data, draw, ctx.et(
                "下载完整证明包（离线核验：python -m verifier bundle）",
                "Download the full proof bundle (check offline: python -m verifier bundle)"))
            + "</p>")
    return layout(ctx, f"{ctx.t('抽取', 'Draw')} {draw.draw_id}", body, data.origin)


def error_page(ctx: Ctx, data: PortalData, zh: str, en: str) -> bytes:
    return layout(ctx, ctx.t("未找到或无效", "Not found or not valid"),
                  f'<p class="bad">{e(ctx.t(zh, en))}</p>', data.origin)

