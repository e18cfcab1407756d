"""Set up a log (``init``) and build demo data (``demo``).

Keys live as C2SP skey files in a key directory next to the database: the log key, one
authority (joint-conference office) key, two witness keys and, for the demo, one key per
department. A real deployment keeps department and witness keys with their holders.
"""

from __future__ import annotations

import contextvars
import hashlib
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ledger._admin import bundled_calendars, file_plan, publish_matters, publish_plan, receive_plan
from ledger._app import Ledger
from ledger._beacon import DevBeacon
from ledger._draws import (
    commit_draw,
    commit_statement,
    draw_stream,
    execute_draw,
    execution_statements,
    matcher_now,
    reveal_secret,
    substitute,
)
from ledger._errors import InputError
from ledger._recorder import format_log_time
from ledger._results import inspection_id
from ledger._statements import Submission, save_key, sign_statement
from ledger._witness import Witness
from verifier import DEFAULT_POLICY, NoteSigner, canonical, genesis_body, load_store
from verifier._calendar import WorkingCalendar
from verifier._draw import Outcome, Snapshot, counterfactual, draw_seed, reveal_commitment
from verifier._drawaudit import draw_time
from verifier._entry import entry_hash, make_entry
from verifier._snapshot import build_snapshot
from verifier._trust import chain_to_json
from verifier._uscc import USCC_CHARSET, org_code_check_char, uscc_check_char

__all__ = [
    "DEFAULT_ORIGIN",
    "DEFAULT_POLICY",
    "DEPARTMENTS",
    "Parties",
    "build_demo",
    "demo_beacon",
    "init_log",
]

DEFAULT_ORIGIN = "zichuan.drawledger.example/ssj"
_SHANGHAI = timezone(timedelta(hours=8))
# The 16 member units of the district joint conference (川政发〔2019〕7号, 附件).
DEPARTMENTS: list[tuple[str, str]] = [
    ("ZC-FGJ", "区发改局"),
    ("ZC-JTJ", "区教体局"),
    ("ZC-GAFJ", "区公安分局"),
    ("ZC-RSJ", "区人力资源和社会保障局"),
    ("ZC-HJJC", "区环境监察大队"),
    ("ZC-ZJJ", "区住房和城乡建设局"),
    ("ZC-JTYSJ", "区交通运输局"),
    ("ZC-NYNCJ", "区农业农村局"),
    ("ZC-SWJ", "区商务局"),
    ("ZC-WLJ", "区文化和旅游局"),
    ("ZC-AWZX", "区爱国卫生运动服务中心"),
    ("ZC-YJJ", "区应急管理局"),
    ("ZC-SCJGJ", "区市场监管局"),
    ("ZC-TJJ", "区统计局"),
    ("ZC-ZHZF", "区综合行政执法大队"),
    ("ZC-SWUJ", "区税务局"),
]


@dataclass
class Parties:
    """Per-party key stores of a single-machine trial (``drawledger init --origin``) or the
    demo: ``root/<party>/<party>.skey``, one key per folder (``log``, ``authority``,
    ``dept-<CODE>``, ``witness-<name>`` with its state file), so that each folder can be
    handed to its party and the API server is given only ``log``.

    ``log_store`` is where the log key lives when it is not ``root/log`` (``drawledger
    --keys DIR``: the operator's store).
    """

    root: Path
    log_store: Path | None = None

    def store(self, party: str) -> Path:
        """The folder of ``party``'s key."""
        if party == "log" and self.log_store is not None:
            return self.log_store
        return self.root / party

    def path(self, party: str) -> Path:
        return self.store(party) / f"{party}.skey"

    def load(self, party: str) -> NoteSigner:
        """``party``'s key, refused unless it is the store's only key and of its kind (a
        witness key cosigns, every other key signs statements or checkpoints)."""
        return load_store(self.store(party), 4 if party.startswith("witness-") else 1)

    def create(self, party: str, key_name: str, sigtype: int = 1) -> NoteSigner:
        signer = NoteSigner.generate(key_name, sigtype)
        save_key(self.path(party), signer)
        return signer

    def witness_tools(self) -> list[Witness]:
        """The local witnesses with their state files (what each cosigned last)."""
        return [Witness(self.load(store.name), store / f"{store.name}.state.json")
                for store in sorted(self.root.glob("witness-*")) if store.is_dir()]


TRIAL_PARTIES = ("log", "authority", "witness-audit", "witness-supervision")


# Whether the statements the demo signs seal their internal fields (a v2 log, SPEC.md 21).
_sealing: contextvars.ContextVar[bool] = contextvars.ContextVar("sealing", default=False)


def _sign(signer: NoteSigner, type_: str, stream: str, actor: str, body: dict[str, Any], *,
          sid: str | None = None, now: datetime | None = None) -> Submission:
    """``sign_statement``, sealing what a v2 log seals when the demo builds one."""
    return sign_statement(signer, type_, stream, actor, body, sid=sid, now=now,
                          seal=_sealing.get())


def conflict_stream(spec: int, dept: str, cert_no: str, uscc: str
                    ) -> tuple[str, dict[str, Any]]:
    """A conflict declaration's stream and id fields: v1 names the pair; v2 an opaque,
    random id of the department's (SPEC.md 21.2), since the pair is sealed."""
    if spec < 2:
        return f"conflict/{cert_no}/{uscc}", {}
    cid = uuid.uuid4().hex[:16]
    return f"conflict/{dept}/{cid}", {"id": cid}


def init_log(ledger: Ledger, keys: Parties, origin: str = DEFAULT_ORIGIN,
             now: Callable[[], datetime] = lambda: datetime.now(UTC),
             beacons: list[dict[str, Any]] | None = None, spec: int = 1) -> int:
    """The single-machine trial: create every party's key store and write the genesis the
    authority signs; returns its seq (0). A real deployment keeps each key with its party
    (``drawledger log-keygen``, then ``init --genesis`` with a genesis signed offline)."""
    if ledger.refresh():
        raise InputError("the log is not empty: it already has a genesis")
    for party in TRIAL_PARTIES:
        if keys.path(party).exists():
            raise InputError(f"key store {keys.store(party)} already holds a key: the trial "
                             "creates every party's key afresh")
    log_key = keys.create("log", origin)
    authority = keys.create("authority", "zichuan-office-2026")
    witnesses = [keys.create("witness-audit", "zichuan-audit-bureau", 4),
                 keys.create("witness-supervision", "zichuan-supervision-commission", 4)]
    body = genesis_body(origin, log_key.verifier.vkey, [authority.verifier.vkey],
                        [w.verifier.vkey for w in witnesses], 1, DEFAULT_POLICY, beacons, spec)
    genesis = _sign(authority, "log.genesis", "log", "authority", body, now=now())
    return ledger.submit([genesis])[0]


_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"
_TRADES = [("F5299", "商贸"), ("H6210", "餐饮"), ("C1391", "食品加工"), ("F5251", "药店"),
           ("O8040", "美容美发"), ("E4890", "建筑工程"), ("G5430", "运输")]
_FORMS = ["有限公司", "经营部", "个体工商户", "有限责任公司"]
_TOWNS = ["般阳路街道", "松龄路街道", "钟楼街道", "将军路街道", "昆仑镇", "罗村镇", "双杨镇"]
# Each member unit's lines of the 随机抽查事项清单 for the demo: (name, kind, ratio cap ppm).
# Names follow the kinds of matters such lists carry; the legal bases are abbreviated.
_MATTERS: dict[str, list[tuple[str, str, int]]] = {
    "ZC-SCJGJ": [("企业公示信息抽查", "general", 100_000), ("食品经营者监督检查", "key", 300_000),
                 ("特种设备使用单位检查", "key", 300_000)],
    "ZC-FGJ": [("价格行为检查", "general", 100_000)],
    "ZC-JTJ": [("校外培训机构检查", "general", 100_000)],
    "ZC-GAFJ": [("特种行业治安管理检查", "general", 100_000)],
    "ZC-RSJ": [("劳动保障监察", "general", 100_000)],
    "ZC-HJJC": [("排污许可执行情况检查", "key", 300_000)],
    "ZC-ZJJ": [("建筑市场行为检查", "general", 100_000)],
    "ZC-JTYSJ": [("道路运输经营检查", "general", 100_000)],
    "ZC-NYNCJ": [("农资经营检查", "general", 100_000)],
    "ZC-SWJ": [("成品油流通检查", "general", 100_000), ("单用途预付卡检查", "general", 100_000)],
    "ZC-WLJ": [("娱乐场所经营检查", "general", 100_000)],
    "ZC-AWZX": [("病媒生物防制检查", "general", 100_000)],
    "ZC-YJJ": [("安全生产检查", "key", 300_000)],
    "ZC-TJJ": [("统计数据质量检查", "general", 100_000)],
    "ZC-ZHZF": [("市容环境卫生检查", "general", 100_000)],
    "ZC-SWUJ": [("发票使用情况检查", "general", 100_000)],
}
_RATIOS = {"A": 20_000, "B": 30_000, "C": 50_000, "D": 100_000}  # ppm, rising with risk


def _uscc(rng: random.Random) -> str:
    org8 = "MA" + "".join(rng.choice(USCC_CHARSET) for _ in range(6))
    body = "9" + rng.choice("123") + "370302" + org8 + org_code_check_char(org8)
    return body + uscc_check_char(body)


def demo_matters() -> list[dict[str, Any]]:
    """The demo's published matter list (one line per matter)."""
    names = dict(DEPARTMENTS)
    out = []
    for dept, items in _MATTERS.items():
        for i, (name, kind, ratio) in enumerate(items, start=1):
            out.append({"id": f"{dept}-{i:03d}", "name": name, "dept": dept, "kind": kind,
                        "basis": f"{names[dept]}随机抽查事项清单第{i}项（依据见清单）",
                        "ratio_ppm": ratio})
    return out


def demo_plan(dept: str, year: int, registries: list[str], joint: list[str] | None = None,
              ratios: dict[str, int] | None = None) -> dict[str, Any]:
    """A department's (or a joint) annual plan: one task per matter, one batch each;
    ``ratios`` (ppm per risk class) default to rising from 2% (A) to 10% (D)."""
    joint = joint or []
    ratios = ratios or _RATIOS
    tasks = []
    for t, matter in enumerate(m for m in demo_matters() if m["dept"] == dept):
        cap = matter["ratio_ppm"]
        tasks.append({"task_id": f"T{t + 1}", "matter": matter["id"], "batches": [{
            "batch_id": f"T{t + 1}-B1",
            "draw_date": f"{year}-{3 + 3 * (t % 3):02d}-17",
            "pool": {"registries": registries, "status": ["存续", "在业"]},
            "strata": [{"id": risk, "filter": {"risk": [risk]}, "ratio_ppm": min(r, cap)}
                       for risk, r in ratios.items()],
            "rounding": "ceil",
            "exclusion_days": 180,
            "team": {d: 2 for d in [dept, *joint]},
            "conflicts": {"declared": True, "same_unit": True, "prior_days": 365},
            "load_cap": 20,
            "randomness": {"beacon": "drand-quicknet", "lottery": [],
                           "commit_reveal": [dept, *joint]},
        }]})
    suffix = "-joint" if joint else ""
    return {"plan_id": f"{year}-{dept}{suffix}", "year": year, "dept": dept, "joint": joint,
            "title": f"{year}年度双随机抽查工作计划", "tasks": tasks}


class ManualClock:
    """The demo's clock: it reads what was last set, so a whole year can be replayed at
    the times it would have happened (and entry times are known before they are written)."""

    def __init__(self, start: datetime) -> None:
        self.t = start

    def __call__(self) -> datetime:
        return self.t

    def at(self, t: datetime) -> datetime:
        if t < self.t:
            raise ValueError(f"the demo clock cannot go back from {self.t} to {t}")
        self.t = t
        return t


def _sh(day: date, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=_SHANGHAI)


def demo_beacon(year: int, seed: int = 2026) -> DevBeacon:
    """The demo's dev beacon (30 s rounds from the start of the year before): its key is
    derived from ``seed``, so tests can sign the same rounds. Never for real draws."""
    return DevBeacon.from_seed(f"drawledger-demo/{seed}".encode(),
                               genesis=int(_sh(date(year - 1, 1, 1), 0).timestamp()), period=30)


def build_demo(ledger: Ledger, keys: Parties, *, targets: int = 240, inspectors: int = 48,
               conflicts: int = 30, seed: int = 2026, year: int | None = None,
               violations: bool = False, ratios: dict[str, int] | None = None,
               now: Callable[[], datetime] = lambda: datetime.now(UTC), spec: int = 1
               ) -> dict[str, int]:
    """A district year replayed on a demo clock: from December of the year before,
    calendars, the 16 member units and their keys, the matter list, both registries
    (imported as batches), conflicts and churn; in January each unit's plan (and a joint
    plan) filed, received and published; then every batch drawn on its day (commitment,
    dev beacon, reveals, execution) with one recusal substitution; checkpoints cosigned
    by the two witnesses throughout.

    ``year`` defaults to the last full year before ``now()``. With ``violations`` the
    statistics bureau files its plan late, one batch is re-drawn, a pool entity is removed
    just before a commitment so that the outcome changed, a conflicted inspector is
    substituted in and a team is left with one inspector: the audit must report exactly
    those. ``seed`` only makes the demo data repeatable. ``spec`` 2 builds a v2 log
    (SPEC.md 21): internal fields sealed, their openings in the log's internal store.
    """
    token = _sealing.set(spec >= 2 or ledger.state.spec >= 2)
    try:
        return _build_demo(ledger, keys, targets=targets, inspectors=inspectors,
                           conflicts=conflicts, seed=seed, year=year, violations=violations,
                           ratios=ratios, now=now, spec=spec)
    finally:
        _sealing.reset(token)


def _build_demo(ledger: Ledger, keys: Parties, *, targets: int, inspectors: int,
                conflicts: int, seed: int, year: int | None, violations: bool,
                ratios: dict[str, int] | None, now: Callable[[], datetime], spec: int
                ) -> dict[str, int]:
    rng = random.Random(seed)
    year = year or now().astimezone(_SHANGHAI).year - 1
    clock = ManualClock(_sh(date(year - 1, 12, 1), 9))
    ledger.chain.clock = clock
    beacon = demo_beacon(year, seed)
    if not ledger.refresh():
        init_log(ledger, keys, now=clock, beacons=[chain_to_json(beacon.chain)], spec=spec)
    authority = keys.load("authority")
    log_key = keys.load("log")
    witnesses = keys.witness_tools()

    def tick(t: datetime) -> datetime:
        return clock.at(t)

    def checkpoint() -> None:
        ledger.checkpoint(log_key, witnesses, now=clock)

    tick(_sh(date(year - 1, 12, 1), 9, 5))
    ledger.submit([_sign(authority, "calendar.published", f"calendar/{b['year']}",
                                  "authority", b, now=clock()) for b in bundled_calendars()])
    checkpoint()

    batch: list[Submission] = []
    dept_keys: dict[str, NoteSigner] = {}
    tick(_sh(date(year - 1, 12, 1), 10))
    for code, name in DEPARTMENTS:
        batch.append(_sign(authority, "department.registered", f"dept/{code}",
                                    "authority", {"code": code, "name": name}, now=clock()))
        signer = keys.create(f"dept-{code}", f"{code}-{year}a")
        dept_keys[code] = signer
        batch.append(_sign(authority, "key.registered", f"key/{signer.name}",
                                    "authority", {"name": signer.name,
                                                  "vkey": signer.verifier.vkey,
                                                  "dept": code, "role": "department"},
                                    now=clock()))
    ledger.submit(batch)
    matters = demo_matters()
    tick(_sh(date(year - 1, 12, 1), 11))
    publish_matters(ledger, authority, matters, now=clock())
    checkpoint()

    # 检查对象名录库: mostly in the market-regulation bureau's sub-registries.
    codes = [c for c, _ in DEPARTMENTS]
    weights = [8 if c == "ZC-SCJGJ" else 1 for c in codes]
    by_dept: dict[str, list[tuple[str, str, dict[str, Any]]]] = {c: [] for c in codes}
    seen: set[str] = set()
    while sum(len(v) for v in by_dept.values()) < targets:
        dept = rng.choices(codes, weights)[0]
        uscc = _uscc(rng)
        if uscc in seen:
            continue
        seen.add(uscc)
        industry, trade = rng.choice(_TRADES)
        body = {"uscc": uscc, "dept": dept, "registry": f"{dept}/{industry[0]}",
                "name": (f"淄博{rng.choice(_SURNAMES)}{rng.choice(_GIVEN)}{trade}"
                         f"{rng.choice(_FORMS)}"),
                "industry": industry, "region": "370302", "risk": rng.choice("AABBBCCD"),
                "status": "存续", "unit": rng.choice(_TOWNS) + "市场监管所"}
        by_dept[dept].append(("target.added", f"target/{uscc}", body))
    tick(_sh(date(year - 1, 12, 2), 9))
    for dept, rows in by_dept.items():
        if rows:
            _import(ledger, dept_keys[dept], dept, "targets", f"{dept}-检查对象名录库.xlsx", rows,
                    clock())

    # 执法检查人员名录库: qualified for their unit's matters (and the market-regulation
    # bureau's for the commerce bureau, which joins its catering inspections).
    staff: dict[str, list[tuple[str, str, dict[str, Any]]]] = {c: [] for c in codes}
    certs: set[str] = set()
    dept_matters = {c: [m["id"] for m in matters if m["dept"] == c] for c in codes}
    dept_matters["ZC-SWJ"] += dept_matters["ZC-SCJGJ"]
    while sum(len(v) for v in staff.values()) < inspectors:
        dept = rng.choices(codes, weights)[0]
        cert = f"37030{2 + len(certs) % 3}{rng.randrange(10**6):06d}"
        if cert in certs:
            continue
        certs.add(cert)
        unit = (rng.choice(_TOWNS) + "市场监管所" if dept == "ZC-SCJGJ"
                else dict(DEPARTMENTS)[dept] + "执法大队")
        staff_body: dict[str, Any] = {
            "cert_no": cert, "dept": dept, "unit": unit,
            "name": rng.choice(_SURNAMES) + rng.choice(_GIVEN) + rng.choice(_GIVEN),
            "expert": len(certs) % 25 == 0, "qualifications": dept_matters[dept],
            "valid_from": date(year - 2, rng.randrange(1, 13), 1).isoformat(),
            "valid_to": date(year + 3, rng.randrange(1, 13), 28).isoformat()}
        staff[dept].append(("inspector.added", f"inspector/{cert}", staff_body))
    tick(_sh(date(year - 1, 12, 3), 9))
    for dept, rows in staff.items():
        if rows:
            _import(ledger, dept_keys[dept], dept, "inspectors",
                    f"{dept}-执法检查人员名录库.xlsx", rows, clock())
    checkpoint()

    # Declared conflicts (回避), churn in the registries.
    tick(_sh(date(year - 1, 12, 10), 9))
    batch = []
    pairs: set[tuple[str, str]] = set()
    all_targets = [row for rows in by_dept.values() for row in rows]
    all_staff = [row for rows in staff.values() for row in rows]
    while len(pairs) < min(conflicts, len(all_targets) * len(all_staff)):
        inspector = rng.choice(all_staff)[2]
        target = rng.choice(all_targets)[2]
        if (inspector["cert_no"], target["uscc"]) in pairs:
            continue
        pairs.add((inspector["cert_no"], target["uscc"]))
        dept = inspector["dept"]
        stream, ids = conflict_stream(ledger.state.spec, dept, inspector["cert_no"],
                                      target["uscc"])
        batch.append(_sign(
            dept_keys[dept], "conflict.declared", stream, dept,
            {**ids, "cert_no": inspector["cert_no"], "uscc": target["uscc"], "dept": dept,
             "relation": rng.choice(["kin", "former_employee", "shareholder", "other"]),
             "declared_on": clock().date().isoformat()}, now=clock()))
    changed = rng.sample(all_targets, len(all_targets) // 20)
    for _, stream, body in changed[: len(changed) * 4 // 5]:
        batch.append(_sign(dept_keys[body["dept"]], "target.updated", stream,
                                    body["dept"], {"uscc": body["uscc"], "dept": body["dept"],
                                                   "risk": rng.choice("ABCD")}, now=clock()))
    for _, stream, body in changed[len(changed) * 4 // 5:]:
        batch.append(_sign(dept_keys[body["dept"]], "target.removed", stream,
                                    body["dept"], {"uscc": body["uscc"], "dept": body["dept"],
                                                   "reason": "deregistered"}, now=clock()))
    if batch:
        ledger.submit(batch)
    checkpoint()

    # Annual plans: filed in January, received by the office, published.
    plans = []
    for dept in codes:
        lines = sorted({body["registry"] for _, _, body in by_dept[dept]}) or [f"{dept}/F"]
        plans.append(demo_plan(dept, year, lines, ratios=ratios))
    plans.append(demo_plan("ZC-SCJGJ", year, ["ZC-SCJGJ/H"], joint=["ZC-SWJ"], ratios=ratios))
    for plan in plans:
        plan["tasks"] = [{**task, "batches": [{**b, "randomness": {
            **b["randomness"], "beacon": beacon.chain.chain_hash}} for b in task["batches"]]}
            for task in plan["tasks"]]
    late = [p for p in plans if violations and p["dept"] == "ZC-TJJ" and not p["joint"]]
    for group, days in (([p for p in plans if p not in late], (12, 15, 20)), (late, None)):
        if days is None:
            # The witnesses cosign the log's latest tree again after the filing deadline:
            # a plan not in it then is witnessed as late, whatever time the log gives it.
            checkpoint()
            tick(_sh(date(year, 2, 6), 9))
            for witness in witnesses:
                ledger.witness_latest(witness, now=clock())
        steps = ((date(year, 1, 12), date(year, 1, 15), date(year, 1, 20)) if days
                 else (date(year, 2, 10), date(year, 2, 11), date(year, 2, 12)))
        for i, plan in enumerate(group):
            tick(_sh(steps[0], 9, 0, i))
            file_plan(ledger, dept_keys[plan["dept"]], plan, now=clock())
        for i, plan in enumerate(group):
            tick(_sh(steps[1], 9, 0, i))
            receive_plan(ledger, authority, plan["plan_id"], steps[1], now=clock())
        for i, plan in enumerate(group):
            tick(_sh(steps[2], 9, 0, i))
            publish_plan(ledger, dept_keys[plan["dept"]], plan["dept"], plan["plan_id"],
                         f"https://www.zichuan.gov.cn/ssj/plans/{plan['plan_id']}", now=clock())
    checkpoint()
    results = _Results(ledger, clock, dept_keys, year, rng, violations, checkpoint)
    results.leads([b for rows in by_dept.values() for _, _, b in rows
                   if b["dept"] == "ZC-SCJGJ"], year)
    _draw_year(ledger, clock, beacon, plans, dept_keys, seed, violations, checkpoint, results)
    checkpoint()
    return {"entries": ledger.size, "checkpoints": len(ledger.chain.checkpoints())}


_OUTCOMES = [("no_problem", 70), ("corrected", 12), ("not_publicised", 6), ("unreachable", 5),
             ("not_operating", 4), ("case_filed", 3)]
_FINDINGS = {"no_problem": "现场检查未发现问题。", "corrected": "发现问题，已责令限期改正。",
             "not_publicised": "未按规定公示年度报告相关信息，已督促补报。",
             "unreachable": "通过登记的住所无法联系，已依法处理。",
             "not_operating": "未发现开展本次抽查涉及的经营活动。",
             "case_filed": "发现涉嫌违法行为，已立案调查。"}


class _Results:
    """谁检查、谁录入、谁公开: every staffed target inspected some working days after its
    draw, its result entered within 3 working days and published within 20, in time order
    with the draws. With violations: one result entered on the 4th working day across a
    调休 weekend, one never published, one drawn target never inspected."""

    def __init__(self, ledger: Ledger, clock: ManualClock, dept_keys: dict[str, NoteSigner],
                 year: int, rng: random.Random, violations: bool,
                 checkpoint: Callable[[], None]) -> None:
        self.ledger, self.clock, self.keys, self.rng = ledger, clock, dept_keys, rng
        self.checkpoint = checkpoint
        self.calendar = WorkingCalendar.from_bodies(ledger.state.calendars)
        self.makeup = {date.fromisoformat(d)
                       for d in ledger.state.calendars[year]["weekend_makeup_workdays"]}
        self.events: list[tuple[date, int, Submission]] = []
        self.plant = ["missing", "silent", "late"] if violations else []
        self.month = 0

    def _late_end(self, drawn: date) -> date:
        """The first end date after the draw whose 4th working day lies past a make-up
        weekend day (调休): the deadline falls on the 3rd, the entry on the 4th."""
        for k in range(5, 250):
            ended = self.calendar.add_working_days(drawn, k)
            fourth = self.calendar.add_working_days(ended, 4)
            if any(date.fromordinal(o) in self.makeup
                   for o in range(ended.toordinal() + 1, fourth.toordinal() + 1)):
                return ended
        raise InputError("demo: no make-up working day after the draws this year")

    def schedule(self, streams: list[str]) -> None:
        cal, rng = self.calendar, self.rng
        for stream in streams:
            info = self.ledger.state.draws[stream]
            dept = str(self.ledger.state.plans[info.plan_id].body["dept"])
            drawn = date.fromisoformat(info.draw_date)
            for uscc, team in info.teams:
                if not team:
                    continue
                plant = self.plant.pop() if self.plant and not self.ledger.state.plans[
                    info.plan_id].body["joint"] else None
                if plant == "missing":
                    continue  # planted: drawn, never inspected
                ended = cal.add_working_days(drawn, rng.randint(5, 40))
                entered = cal.add_working_days(ended, rng.randint(0, 3))
                if plant == "late":
                    ended = self._late_end(drawn)
                    entered = cal.add_working_days(ended, 4)
                published = cal.add_working_days(entered, rng.randint(1, 10))
                outcome = rng.choices([o for o, _ in _OUTCOMES], [w for _, w in _OUTCOMES])[0]
                iid = inspection_id(info.plan_id, info.batch_id, uscc)
                self._add(ended, 0, dept, "inspection.completed", {
                    "inspection_id": iid, "kind": "random", "plan_id": info.plan_id,
                    "batch_id": info.batch_id, "dept": dept, "uscc": uscc,
                    "ended_on": ended.isoformat(), "inspectors": list(team)})
                self._add(entered, 1, dept, "result.recorded", {
                    "inspection_id": iid, "dept": dept, "outcome": outcome,
                    "findings": _FINDINGS[outcome], "attachments": []})
                if plant != "silent":
                    record = canonical({"inspection_id": iid, "outcome": outcome})
                    self._add(published, 2, dept, "result.published", {
                        "inspection_id": iid, "dept": dept,
                        "record_sha256": hashlib.sha256(record).hexdigest(),
                        "url": f"https://sd.gsxt.gov.cn/ssj/{iid}"})

    def leads(self, targets: list[dict[str, Any]], year: int) -> None:
        """Targeted inspections (营商环境条例 art. 54: 投诉举报、转办交办、数据监测), typed
        apart from random ones: the lead's details stay off the log behind a salted
        commitment. The last one closes in the January after the year."""
        cal, dept = self.calendar, "ZC-SCJGJ"
        if not targets or len(self._pair(dept)) < 2:
            return  # a demo too small to staff a targeted inspection
        for i, (source, received) in enumerate((("complaint", date(year, 5, 12)),
                                                 ("referral", date(year, 8, 20)),
                                                 ("monitoring", date(year, 12, 22)))):
            target = targets[(i * 7919) % len(targets)]
            case_id = f"{year}-TS-{i + 1:04d}"
            details = f"demo lead {case_id} about {target['uscc']}".encode()
            salt = hashlib.sha256(f"demo-salt/{case_id}".encode()).digest()
            self.events.append((received, -1, Submission(
                f"lead/{dept}/{case_id}", "lead.received", dept,
                {"dept": dept, "case_id": case_id, "source": source,
                 "received_on": received.isoformat(),
                 "commitment": hashlib.sha256(salt + details).hexdigest()}, {})))
            ended = cal.add_working_days(received, 5)
            entered = cal.add_working_days(ended, 2)
            iid = f"targeted/{dept}/{case_id}/{target['uscc']}"
            self._add(ended, 0, dept, "inspection.completed", {
                "inspection_id": iid, "kind": "targeted", "case_id": case_id, "dept": dept,
                "uscc": target["uscc"], "ended_on": ended.isoformat(),
                "inspectors": self._pair(dept)})
            self._add(entered, 1, dept, "result.recorded", {
                "inspection_id": iid, "dept": dept, "outcome": "corrected",
                "findings": _FINDINGS["corrected"], "attachments": []})
            self._add(cal.add_working_days(entered, 5), 2, dept, "result.published", {
                "inspection_id": iid, "dept": dept,
                "record_sha256": hashlib.sha256(iid.encode()).hexdigest(),
                "url": f"https://sd.gsxt.gov.cn/ssj/{iid}"})

    def _pair(self, dept: str) -> list[str]:
        certs = sorted(c for c, row in self.ledger.state.inspectors.items()
                       if row is not None and row[0] == dept and row[5] is not True)
        return certs[:2]

    def _add(self, day: date, phase: int, dept: str, type_: str, body: dict[str, Any]) -> None:
        self.events.append((day, phase, Submission(f"inspection/{body['inspection_id']}",
                                                   type_, dept, body, {})))

    def flush(self, until: date | None) -> None:
        """Submit every event dated up to ``until`` (all when None), a day at a time, at
        15:00; a checkpoint when the month turns."""
        due = sorted((e for e in self.events if until is None or e[0] <= until),
                     key=lambda e: (e[0], e[1], e[2].stream))
        self.events = [e for e in self.events if until is not None and e[0] > until]
        for day in sorted({d for d, _, _ in due}):
            if day.month != self.month and self.month:
                self.clock.at(max(self.clock(), _sh(day, 8)))
                self.checkpoint()
            self.month = day.month
            self.clock.at(max(self.clock(), _sh(day, 15)))
            self.ledger.submit([_sign(self.keys[s.actor], s.type, s.stream, s.actor,
                                               s.body, now=self.clock())
                                for d, _, s in due if d == day])


def _secret(seed: int, plan_id: str, batch_id: str, dept: str) -> bytes:
    return hashlib.sha256(f"demo-secret/{seed}/{plan_id}/{batch_id}/{dept}".encode()).digest()


def _draw_year(ledger: Ledger, clock: ManualClock, beacon: DevBeacon,
               plans: list[dict[str, Any]], dept_keys: dict[str, NoteSigner], seed: int,
               violations: bool, checkpoint: Callable[[], None], results: _Results) -> None:
    """Every batch on its day: commitments the afternoon before, reveals in the morning,
    the execution a minute after the beacon round; recusals the day after the first
    draws; inspections and results in between."""
    chain = beacon.chain
    batches = sorted((b["draw_date"], plan["plan_id"], b["batch_id"], plan["dept"])
                      for plan in plans for task in plan["tasks"] for b in task["batches"])
    by_day: dict[str, list[tuple[str, str, str]]] = {}
    for day, plan_id, batch_id, dept in batches:
        by_day.setdefault(day, []).append((plan_id, batch_id, dept))
    churn_batch = next((p["plan_id"], p["tasks"][0]["batches"][0]["batch_id"]) for p in plans
                       if p["dept"] == "ZC-SCJGJ" and not p["joint"])
    redraw_batch = next((p["plan_id"], p["tasks"][0]["batches"][0]["batch_id"]) for p in plans
                        if p["dept"] == "ZC-FGJ")
    executed: list[tuple[str, str, str, Outcome]] = []
    for n, (day_text, items) in enumerate(by_day.items()):
        day = date.fromisoformat(day_text)
        eve = day - timedelta(days=1)
        results.flush(eve)
        if violations and any((p, b) == churn_batch for p, b, _ in items):
            items = sorted(items, key=lambda x: (x[0], x[1]) != churn_batch)
            _plant_churn(ledger, clock, beacon, dept_keys, seed, churn_batch, eve)
        for i, (plan_id, batch_id, dept) in enumerate(items):
            if clock() < _sh(eve, 16, 0, i):
                clock.at(_sh(eve, 16, 0, i))
            if draw_stream(plan_id, batch_id) in ledger.state.draws:
                continue  # committed by the churn plant
            plan_info = ledger.state.plans[plan_id]
            parties = plan_info.batch(batch_id)[1]["randomness"]["commit_reveal"]  # type: ignore[index]
            commit_draw(ledger, dept_keys[dept], plan_id, batch_id, chain,
                        {d: reveal_commitment(plan_id, batch_id, d,
                                              _secret(seed, plan_id, batch_id, d))
                         for d in parties}, now=clock())
        checkpoint()  # witnesses cosign the commitments before any round is due
        for i, (plan_id, batch_id, _) in enumerate(items):
            clock.at(_sh(day, 8, 0, i))
            for party in ledger.state.draws[draw_stream(plan_id, batch_id)].commit["parties"]:
                d = party["dept"]
                reveal_secret(ledger, dept_keys[d], d, plan_id, batch_id,
                              _secret(seed, plan_id, batch_id, d), now=clock())
        round_ = chain.round_at(int(_sh(day, 10).timestamp()))
        after = datetime.fromtimestamp(chain.round_time(round_) + 60, _SHANGHAI)
        for i, (plan_id, batch_id, dept) in enumerate(items):
            clock.at(after + timedelta(seconds=i))
            _, outcome = execute_draw(ledger, dept_keys[dept], plan_id, batch_id, chain,
                                      beacon.sign(round_), now=clock())
            executed.append((plan_id, batch_id, dept, outcome))
        for plan_id, batch_id, dept in items:
            if violations and (plan_id, batch_id) == redraw_batch:
                # Planted: the same batch drawn again with the next round (a re-draw).
                # The log refuses a re-draw (V8.redraw); the demo plants it past that
                # refusal so that the audit has one to find.
                clock.at(clock() + timedelta(minutes=30))
                statements, _ = execution_statements(ledger, dept_keys[dept], plan_id,
                                                     batch_id, chain, beacon.sign(round_ + 1),
                                                     (), now=clock())
                ledger.plant_violation(statements[:1], "V8.redraw")
        checkpoint()
        if n == 0:
            _recusals(ledger, clock, dept_keys, executed, violations, day + timedelta(days=1))
            checkpoint()
        results.schedule([draw_stream(p, b) for p, b, _ in items])
    results.flush(None)
    checkpoint()


def _recusals(ledger: Ledger, clock: ManualClock, dept_keys: dict[str, NoteSigner],
              executed: list[tuple[str, str, str, Outcome]], violations: bool,
              day: date) -> None:
    """One honest substitution; with violations a conflicted substitute and a team left
    with one inspector."""
    staffed = [(p, b, d, o) for p, b, d, o in executed
               if not ledger.state.plans[p].body["joint"] and o.teams]
    if violations and len(staffed) < 3:
        raise InputError("demo: too few inspectors to staff the draws the violations need")
    for plan_id, batch_id, dept, outcome in staffed[3:] + staffed[:1]:
        uscc = next(iter(outcome.teams))
        leaving = outcome.teams[uscc][0]
        matcher, info = matcher_now(ledger, plan_id, batch_id)
        dept_of = {c.cert_no: c.dept for c in matcher.snapshot.roster}
        matcher.loads[leaving] -= 1
        if matcher.substitute(uscc, dept_of[leaving], [c for c in outcome.teams[uscc]
                                                      if c != leaving], {leaving}) is None:
            continue  # nobody left to substitute: not the honest example we want
        clock.at(_sh(day, 9))
        substitute(ledger, dept_keys[dept], dept, plan_id, batch_id, uscc, leaving,
                   "回避：与检查对象负责人系近亲属", now=clock())
        break
    if violations:
        plan_id, batch_id, dept, outcome = staffed[1]
        uscc = next(iter(outcome.teams))
        leaving = outcome.teams[uscc][0]
        matcher, info = matcher_now(ledger, plan_id, batch_id)
        team = [c for c in dict(info.teams)[uscc] if c != leaving]
        dept_of = {c.cert_no: c.dept for c in matcher.snapshot.roster}
        matcher.loads[leaving] -= 1
        nxt = matcher.substitute(uscc, dept_of[leaving], team, {leaving})
        assert nxt is not None
        clock.at(_sh(day, 10))
        # Planted: the substitute has a declared conflict with the target.
        stream, ids = conflict_stream(ledger.state.spec, dept, nxt, uscc)
        ledger.submit([_sign(
            dept_keys[dept], "conflict.declared", stream, dept,
            {**ids, "cert_no": nxt, "uscc": uscc, "dept": dept, "relation": "kin",
             "declared_on": day.isoformat()}, now=clock())])
        clock.at(_sh(day, 10, 30))
        ledger.submit([_sign(
            dept_keys[dept], "draw.substituted", draw_stream(plan_id, batch_id), dept,
            {"plan_id": plan_id, "batch_id": batch_id, "dept": dept, "uscc": uscc,
             "out": leaving, "in": nxt, "reason": "回避：原检查人员曾在该企业任职"},
            now=clock())])
        # Planted: a recusal without a substitute leaves a team of one.
        plan_id, batch_id, dept, outcome = staffed[2]
        uscc = next(iter(outcome.teams))
        clock.at(_sh(day, 11))
        ledger.submit([_sign(
            dept_keys[dept], "draw.substituted", draw_stream(plan_id, batch_id), dept,
            {"plan_id": plan_id, "batch_id": batch_id, "dept": dept, "uscc": uscc,
             "out": outcome.teams[uscc][0], "in": None, "reason": "回避：无人替补"},
            now=clock())])


def _plant_churn(ledger: Ledger, clock: ManualClock, beacon: DevBeacon,
                 dept_keys: dict[str, NoteSigner], seed: int, which: tuple[str, str],
                 eve: date) -> None:
    """Planted: three days before a commitment, remove a pool entity that the draw would
    have selected. The demo can know this in advance because it predicts the commitment
    entry's hash (its bytes, seq, predecessor and time are all known) and holds the dev
    beacon's key and every party's secret: exactly the foreknowledge the audit's
    counterfactual exposes."""
    plan_id, batch_id = which
    plan = ledger.state.plans[plan_id]
    task, batch = plan.batch(batch_id)  # type: ignore[misc]
    dept = str(plan.body["dept"])
    stream = draw_stream(plan_id, batch_id)
    chain = beacon.chain
    round_ = chain.round_at(int(draw_time(batch).timestamp()))
    randomness = hashlib.sha256(beacon.sign(round_).signature).digest()
    parties = batch["randomness"]["commit_reveal"]
    commitments = {d: reveal_commitment(plan_id, batch_id, d, _secret(seed, plan_id, batch_id, d))
                   for d in parties}
    reveals = [(d, _secret(seed, plan_id, batch_id, d)) for d in parties]
    t_remove = _sh(eve - timedelta(days=3), 15)
    t_commit = _sh(eve, 16)
    snapshot = build_snapshot(ledger.state, stream, str(task["matter"]), batch)
    ratios = {s["id"]: s["ratio_ppm"] for s in batch["strata"]}
    candidates = sorted((m for m in snapshot.pool if not m.fields[0].endswith("/H")),
                        key=lambda m: (-ratios[m.stratum], m.uscc))
    seq = ledger.size
    prev = ledger.tree.leaf(seq - 1)
    for member in candidates[:400]:
        removal = _sign(dept_keys[dept], "target.removed", f"target/{member.uscc}",
                                 dept, {"uscc": member.uscc, "dept": dept,
                                        "reason": "deregistered"},
                                 sid=f"demo-churn-{member.uscc}", now=t_remove)
        version = ledger.state.next_version(removal.stream)
        saved = ledger.state.targets[member.uscc]
        ledger.state.targets[member.uscc] = None
        try:
            commit = commit_statement(ledger, dept_keys[dept], plan_id, batch_id, chain,
                                      commitments, now=t_commit, sid=f"demo-commit-{batch_id}")
        finally:
            ledger.state.targets[member.uscc] = saved
        first = make_entry(seq, prev, format_log_time(t_remove), removal.stream, version,
                           _state_of(removal))
        second = make_entry(seq + 1, entry_hash(first), format_log_time(t_commit),
                            commit.stream, 1, _state_of(commit))
        seed_bytes = draw_seed(plan_id, batch_id, entry_hash(second), randomness, "", reveals)
        without = Snapshot([m for m in snapshot.pool if m.uscc != member.uscc],
                           snapshot.roster, snapshot.conflicts, snapshot.excluded)
        if counterfactual(seed_bytes, without, batch, member.uscc, member.stratum):
            clock.at(t_remove)
            ledger.submit([removal])
            clock.at(t_commit)
            ledger.submit([commit])
            return
    raise InputError("demo: found no entity whose removal would change the draw")


def _state_of(s: Submission) -> dict[str, Any]:
    return {"actor": s.actor, "body": s.body, "sig": s.sig, "type": s.type}


def _import(ledger: Ledger, signer: NoteSigner, dept: str, kind: str, file_name: str,
            rows: list[tuple[str, str, dict[str, Any]]], now: datetime) -> None:
    """Submit demo rows as an import would: the digest of their canonical text stands in
    for the file hash."""
    digest = hashlib.sha256(b"\n".join(canonical(body) for _, _, body in rows)).hexdigest()
    ledger.submit_import(signer, dept, {"kind": kind, "file_sha256": digest,
                                        "file_name": file_name}, rows, now=now)
