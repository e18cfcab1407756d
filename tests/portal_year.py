"""A small demo year for the portal's tests, plus one draw of the next year that excludes
companies: the demo's plans give every matter one batch a year, so no demo draw ever
excludes anyone. The extra plan draws the market-regulation bureau's third matter again
on 2 March, 166 days after its September batch (exclusion window 180 days), so the
companies drawn then are excluded now."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ledger import Ledger, Parties, build_demo
from ledger._admin import file_plan, publish_plan, receive_plan
from ledger._demo import ManualClock, demo_beacon, demo_plan
from ledger._draws import commit_draw, execute_draw, reveal_secret
from verifier._draw import reveal_commitment

YEAR = 2025
DEPT = "ZC-SCJGJ"
NEXT_PLAN = f"{YEAR + 1}-{DEPT}-again"
NEXT_BATCH = "T3-B1"
_SHANGHAI = timezone(timedelta(hours=8))


def _at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=_SHANGHAI)


def build_year(root: Path, *, targets: int = 400, inspectors: int = 60,
               violations: bool = False, excluding: bool = True, spec: int = 1
               ) -> tuple[str, Parties]:
    """The demo year ``YEAR`` in ``root/db.sqlite`` (with ``excluding``, the extra draw
    that excludes the September draw's companies), a SPEC ``spec`` log; returns the
    database and the keys."""
    db = str(root / "db.sqlite")
    parties = Parties(root / "parties")
    ledger = Ledger(db)
    build_demo(ledger, parties, targets=targets, inspectors=inspectors, year=YEAR,
               violations=violations, spec=spec,
               now=lambda: datetime(YEAR + 1, 6, 1, tzinfo=_SHANGHAI))
    if excluding:
        _excluding_draw(ledger, parties)
    ledger.close()
    return db, parties


def _excluding_draw(ledger: Ledger, parties: Parties) -> None:
    beacon = demo_beacon(YEAR)
    chain = beacon.chain
    clock = ManualClock(_at(date(YEAR + 1, 1, 20), 9))
    ledger.chain.clock = clock
    key, authority = parties.load(f"dept-{DEPT}"), parties.load("authority")
    log_key, witnesses = parties.load("log"), parties.witness_tools()
    lines = sorted({s["registry"] for s in _registries(ledger)})
    plan = demo_plan(DEPT, YEAR + 1, lines)
    task = next(t for t in plan["tasks"] if t["task_id"] == "T3")
    batch = task["batches"][0]
    batch["draw_date"] = f"{YEAR + 1}-03-02"
    batch["randomness"] = {**batch["randomness"], "beacon": chain.chain_hash}
    plan.update(plan_id=NEXT_PLAN, tasks=[task])
    file_plan(ledger, key, plan, now=clock())
    clock.at(_at(date(YEAR + 1, 1, 21), 9))
    receive_plan(ledger, authority, NEXT_PLAN, date(YEAR + 1, 1, 21), now=clock())
    clock.at(_at(date(YEAR + 1, 1, 22), 9))
    publish_plan(ledger, key, DEPT, NEXT_PLAN, f"https://example.gov.cn/{NEXT_PLAN}",
                 now=clock())
    secret = bytes(range(32))
    clock.at(_at(date(YEAR + 1, 3, 1), 16))
    commit_draw(ledger, key, NEXT_PLAN, NEXT_BATCH, chain,
                {DEPT: reveal_commitment(NEXT_PLAN, NEXT_BATCH, DEPT, secret)}, now=clock())
    ledger.checkpoint(log_key, witnesses, now=clock)
    clock.at(_at(date(YEAR + 1, 3, 2), 8))
    reveal_secret(ledger, key, DEPT, NEXT_PLAN, NEXT_BATCH, secret, now=clock())
    round_ = chain.round_at(int(_at(date(YEAR + 1, 3, 2), 10).timestamp()))
    clock.at(datetime.fromtimestamp(chain.round_time(round_) + 60, _SHANGHAI))
    execute_draw(ledger, key, NEXT_PLAN, NEXT_BATCH, chain, beacon.sign(round_), now=clock())
    ledger.checkpoint(log_key, witnesses, now=clock)


def _registries(ledger: Ledger) -> list[dict[str, Any]]:
    """The registry lines of the bureau's own plan (its pool rule)."""
    plan = ledger.state.plans[f"{YEAR}-{DEPT}"].body
    return [{"registry": r} for t in plan["tasks"] for b in t["batches"]
            for r in b["pool"]["registries"]]
