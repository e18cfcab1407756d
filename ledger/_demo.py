"""Set up a log (``init``) and build demo data (``demo``).

Keys live as C2SP skey files in a key directory next to the database: the log key, one
authority (joint-conference office) key, two witness keys and, for the demo, one key per
department. A real deployment keeps department and witness keys with their holders.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ledger._app import Ledger
from ledger._errors import InputError
from ledger._statements import Submission, load_key, save_key, sign_statement
from verifier import NoteSigner
from verifier._uscc import USCC_CHARSET, uscc_check_char

__all__ = [
    "DEFAULT_ORIGIN",
    "DEFAULT_POLICY",
    "DEPARTMENTS",
    "LogKeys",
    "build_demo",
    "init_log",
]

DEFAULT_ORIGIN = "zichuan.drawledger.example/ssj"
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


def _uscc(rng: random.Random) -> str:
    body = "9" + rng.choice("123") + "370302" + "MA" + "".join(
        rng.choice(USCC_CHARSET) for _ in range(7))
    return body + uscc_check_char(body)


def build_demo(ledger: Ledger, keys: LogKeys, *, targets: int = 240, inspectors: int = 48,
               seed: int = 2026,
               now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> dict[str, int]:
    """A small district log: departments, keys, registry events and checkpoints.

    ``seed`` only makes the demo data repeatable; it has nothing to do with draws.
    """
    rng = random.Random(seed)
    if not ledger.refresh():
        init_log(ledger, keys, now=now)
    authority = keys.load("authority")
    log_key = keys.load("log")
    witnesses = keys.witnesses()
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
    ledger.checkpoint(log_key, witnesses)

    # Targets, mostly in the market-regulation bureau's registries.
    codes = [c for c, _ in DEPARTMENTS]
    weights = [8 if c == "ZC-SCJGJ" else 1 for c in codes]
    added: list[tuple[str, str]] = []
    batch = []
    for _ in range(targets):
        dept = rng.choices(codes, weights)[0]
        uscc = _uscc(rng)
        industry, trade = rng.choice(_TRADES)
        body: dict[str, Any] = {"uscc": uscc, "dept": dept, "registry": f"{dept}/{industry[0]}",
                "name": (f"淄博{rng.choice(_SURNAMES)}{rng.choice(_GIVEN)}{trade}"
                         f"{rng.choice(_FORMS)}"),
                "industry": industry, "region": "370302", "risk": rng.choice("AABBBCCD"),
                "status": "存续", "unit": rng.choice(_TOWNS) + "市场监管所"}
        batch.append(sign_statement(dept_keys[dept], "target.added", f"target/{uscc}", dept,
                                    body, now=now()))
        added.append((dept, uscc))
    ledger.submit(batch)

    batch = []
    for i in range(inspectors):
        dept = rng.choices(codes, weights)[0]
        cert = f"37030{2 + i % 3}{rng.randrange(10**6):06d}"
        today = now().astimezone(UTC).date()
        body = {"cert_no": cert, "dept": dept,
                "name": rng.choice(_SURNAMES) + rng.choice(_GIVEN) + rng.choice(_GIVEN),
                "unit": rng.choice(_TOWNS) + "市场监管所", "expert": i % 12 == 0,
                "qualifications": ["general"],
                "valid_from": (today - timedelta(days=400)).isoformat(),
                "valid_to": (today + timedelta(days=1000)).isoformat()}
        batch.append(sign_statement(dept_keys[dept], "inspector.added", f"inspector/{cert}",
                                    dept, body, now=now()))
    ledger.submit(batch)
    ledger.checkpoint(log_key, witnesses)

    # Some churn: reclassified risk, deregistered entities.
    batch = []
    for dept, uscc in rng.sample(added, len(added) // 10):
        batch.append(sign_statement(dept_keys[dept], "target.updated", f"target/{uscc}", dept,
                                    {"uscc": uscc, "dept": dept, "risk": rng.choice("ABCD")},
                                    now=now()))
    for dept, uscc in rng.sample(added, len(added) // 40):
        if any(s.stream == f"target/{uscc}" for s in batch):
            continue
        batch.append(sign_statement(dept_keys[dept], "target.removed", f"target/{uscc}", dept,
                                    {"uscc": uscc, "dept": dept, "reason": "deregistered"},
                                    now=now()))
    ledger.submit(batch)
    ledger.checkpoint(log_key, witnesses)
    return {"entries": ledger.size, "checkpoints": len(ledger.chain.checkpoints())}
