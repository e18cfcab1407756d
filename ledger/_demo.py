"""Set up a log (``init``) and build demo data (``demo``).

Keys live as C2SP skey files in a key directory next to the database: the log key, one
authority (joint-conference office) key, two witness keys and, for the demo, one key per
department. A real deployment keeps department and witness keys with their holders.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ledger._admin import bundled_calendars, file_plan, publish_matters, publish_plan, receive_plan
from ledger._app import Ledger
from ledger._errors import InputError
from ledger._statements import Submission, load_key, save_key, sign_statement
from verifier import NoteSigner, canonical
from verifier._uscc import USCC_CHARSET, org_code_check_char, uscc_check_char

__all__ = [
    "DEFAULT_ORIGIN",
    "DEFAULT_POLICY",
    "DEPARTMENTS",
    "LogKeys",
    "build_demo",
    "init_log",
]

DEFAULT_ORIGIN = "zichuan.drawledger.example/ssj"
_SHANGHAI = timezone(timedelta(hours=8))
# Policy defaults from the district notice (川政发〔2019〕7号) and RULES-RESEARCH R1-R9.
DEFAULT_POLICY: dict[str, Any] = {
    "plan_filing_deadline": "01-31",
    "result_entry_working_days": 3,
    "publication_working_days": 20,
    "min_team_size": 2,
    "timezone": "Asia/Shanghai",
}
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
class LogKeys:
    """The secret keys a single-machine deployment (or the demo) keeps in one directory."""

    directory: Path

    def path(self, name: str) -> Path:
        return self.directory / f"{name}.skey"

    def load(self, name: str) -> NoteSigner:
        return load_key(self.path(name))

    def create(self, file_name: str, key_name: str, sigtype: int = 1) -> NoteSigner:
        signer = NoteSigner.generate(key_name, sigtype)
        save_key(self.path(file_name), signer)
        return signer

    def witnesses(self) -> list[NoteSigner]:
        return [load_key(p) for p in sorted(self.directory.glob("witness-*.skey"))]


def init_log(ledger: Ledger, keys: LogKeys, origin: str = DEFAULT_ORIGIN,
             now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> int:
    """Create the keys and write the genesis entry; returns its seq (0)."""
    if ledger.refresh():
        raise InputError("the log is not empty: it already has a genesis")
    if keys.path("log").exists():
        raise InputError(f"key directory {keys.directory} already holds a log key")
    log_key = keys.create("log", origin)
    authority = keys.create("authority", "zichuan-office-2026")
    witnesses = [keys.create("witness-audit", "zichuan-audit-bureau", 4),
                 keys.create("witness-supervision", "zichuan-supervision-commission", 4)]
    body = {
        "origin": origin,
        "log_key": log_key.verifier.vkey,
        "authority_keys": [authority.verifier.vkey],
        "witnesses": [w.verifier.vkey for w in witnesses],
        "quorum": 1,
        "policy": DEFAULT_POLICY,
    }
    genesis = sign_statement(authority, "log.genesis", "log", "authority", body, now=now())
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


def demo_plan(dept: str, year: int, registries: list[str], joint: list[str] | None = None
              ) -> dict[str, Any]:
    """A department's (or a joint) annual plan: one task per matter, one batch each."""
    joint = joint or []
    tasks = []
    for t, matter in enumerate(m for m in demo_matters() if m["dept"] == dept):
        cap = matter["ratio_ppm"]
        tasks.append({"task_id": f"T{t + 1}", "matter": matter["id"], "batches": [{
            "batch_id": f"T{t + 1}-B1",
            "draw_date": f"{year}-{3 + 3 * (t % 3):02d}-15",
            "pool": {"registries": registries, "status": ["存续", "在业"]},
            "strata": [{"id": risk, "filter": {"risk": [risk]}, "ratio_ppm": min(r, cap)}
                       for risk, r in _RATIOS.items()],
            "rounding": "ceil",
            "exclusion_days": 180,
            "team": {d: 2 for d in [dept, *joint]},
            "conflicts": {"declared": True, "same_unit": True, "prior_days": 365},
            "load_cap": 20,
            "randomness": {"beacon": "drand-quicknet", "lottery": [], "commit_reveal": [dept]},
        }]})
    suffix = "-joint" if joint else ""
    return {"plan_id": f"{year}-{dept}{suffix}", "year": year, "dept": dept, "joint": joint,
            "title": f"{year}年度双随机抽查工作计划", "tasks": tasks}


def build_demo(ledger: Ledger, keys: LogKeys, *, targets: int = 240, inspectors: int = 48,
               conflicts: int = 30, seed: int = 2026, year: int | None = None,
               violations: bool = False,
               now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> dict[str, int]:
    """A district year: calendars, the 16 member units and their keys, the matter list,
    both registries (imported as batches), conflicts, churn and each unit's plan for
    ``year`` (default: next year), received and published; checkpoints throughout.

    With ``violations`` one unit (the statistics bureau) also files a plan for the current
    year now, i.e. after its deadline: the audit must report exactly that. ``seed`` only
    makes the demo data repeatable; it has nothing to do with draws.
    """
    rng = random.Random(seed)
    today = now().astimezone(_SHANGHAI).date()
    year = year or today.year + 1
    if not ledger.refresh():
        init_log(ledger, keys, now=now)
    authority = keys.load("authority")
    log_key = keys.load("log")
    witnesses = keys.witnesses()
    ledger.submit([sign_statement(authority, "calendar.published", f"calendar/{b['year']}",
                                  "authority", b, now=now()) for b in bundled_calendars()])
    ledger.checkpoint(log_key, witnesses)

    batch: list[Submission] = []
    dept_keys: dict[str, NoteSigner] = {}
    for code, name in DEPARTMENTS:
        batch.append(sign_statement(authority, "department.registered", f"dept/{code}",
                                    "authority", {"code": code, "name": name}, now=now()))
        signer = keys.create(f"dept-{code}", f"{code}-2026a")
        dept_keys[code] = signer
        batch.append(sign_statement(authority, "key.registered", f"key/{signer.name}",
                                    "authority", {"name": signer.name,
                                                  "vkey": signer.verifier.vkey,
                                                  "dept": code, "role": "department"},
                                    now=now()))
    ledger.submit(batch)
    matters = demo_matters()
    publish_matters(ledger, authority, matters)
    ledger.checkpoint(log_key, witnesses)

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
    for dept, rows in by_dept.items():
        if rows:
            _import(ledger, dept_keys[dept], dept, "targets", f"{dept}-检查对象名录库.xlsx", rows)

    # 执法检查人员名录库.
    staff: dict[str, list[tuple[str, str, dict[str, Any]]]] = {c: [] for c in codes}
    certs: set[str] = set()
    dept_matters = {c: [m["id"] for m in matters if m["dept"] == c] for c in codes}
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
            "valid_from": (today - timedelta(days=400)).isoformat(),
            "valid_to": (today + timedelta(days=1000)).isoformat()}
        staff[dept].append(("inspector.added", f"inspector/{cert}", staff_body))
    for dept, rows in staff.items():
        if rows:
            _import(ledger, dept_keys[dept], dept, "inspectors",
                    f"{dept}-执法检查人员名录库.xlsx", rows)
    ledger.checkpoint(log_key, witnesses)

    # Declared conflicts (回避), churn in the registries.
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
        batch.append(sign_statement(
            dept_keys[dept], "conflict.declared", f"conflict/{inspector['cert_no']}/"
            f"{target['uscc']}", dept,
            {"cert_no": inspector["cert_no"], "uscc": target["uscc"], "dept": dept,
             "relation": rng.choice(["kin", "former_employee", "shareholder", "other"]),
             "declared_on": today.isoformat()}, now=now()))
    changed = rng.sample(all_targets, len(all_targets) // 20)
    for _, stream, body in changed[: len(changed) * 4 // 5]:
        batch.append(sign_statement(dept_keys[body["dept"]], "target.updated", stream,
                                    body["dept"], {"uscc": body["uscc"], "dept": body["dept"],
                                                   "risk": rng.choice("ABCD")}, now=now()))
    for _, stream, body in changed[len(changed) * 4 // 5:]:
        batch.append(sign_statement(dept_keys[body["dept"]], "target.removed", stream,
                                    body["dept"], {"uscc": body["uscc"], "dept": body["dept"],
                                                   "reason": "deregistered"}, now=now()))
    if batch:
        ledger.submit(batch)
    ledger.checkpoint(log_key, witnesses)

    # Annual plans: filed, received by the office, published.
    plans = []
    for dept in codes:
        lines = sorted({body["registry"] for _, _, body in by_dept[dept]}) or [f"{dept}/F"]
        plans.append(demo_plan(dept, year, lines))
    plans.append(demo_plan("ZC-SCJGJ", year, ["ZC-SCJGJ/H"], joint=["ZC-SWJ"]))
    if violations:
        plans.append(demo_plan("ZC-TJJ", today.year,
                               sorted({b["registry"] for _, _, b in by_dept["ZC-TJJ"]})
                               or ["ZC-TJJ/F"]))
    for plan in plans:
        file_plan(ledger, dept_keys[plan["dept"]], plan)
        receive_plan(ledger, authority, plan["plan_id"], today)
        publish_plan(ledger, dept_keys[plan["dept"]], plan["dept"], plan["plan_id"],
                     f"https://www.zichuan.gov.cn/ssj/plans/{plan['plan_id']}")
    ledger.checkpoint(log_key, witnesses)
    return {"entries": ledger.size, "checkpoints": len(ledger.chain.checkpoints())}


def _import(ledger: Ledger, signer: NoteSigner, dept: str, kind: str, file_name: str,
            rows: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Submit demo rows as an import would: the digest of their canonical text stands in
    for the file hash."""
    digest = hashlib.sha256(b"\n".join(canonical(body) for _, _, body in rows)).hexdigest()
    ledger.submit_import(signer, dept, {"kind": kind, "file_sha256": digest,
                                        "file_name": file_name}, rows)
