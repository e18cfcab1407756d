"""Results as departments append them: the CLI and Python paths, what the log refuses,
and a colluding log's forged result caught by the audit."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from ledger import Ledger, Parties, RejectedError, build_demo, sign_statement
from ledger._admin import file_plan, publish_plan, receive_plan
from ledger._cli import main as cli_main
from ledger._demo import demo_beacon, demo_plan
from ledger._draws import commit_draw, execute_draw, reveal_secret
from ledger._results import complete_inspection, inspection_id, publish_result, record_result
from tests.helpers import (
    add_cosignature,
    entry_obj,
    read_entries,
    resign_checkpoint,
    run_audit,
    write_entries,
)
from verifier import EXIT_CLEAN, EXIT_VIOLATION, entry_hash, make_entry
from verifier._draw import reveal_commitment
from verifier._drawaudit import draw_time

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
SH = timezone(timedelta(hours=8))
DEPT = "ZC-SCJGJ"
PLAN = "2026-ZC-SCJGJ-special"


def _extra_draw(ledger: Ledger, keys: Parties) -> dict[str, Any]:
    """After the demo year: a 2026 plan of the market-regulation bureau with one batch,
    drawn on 2026-02-16 (a Monday) through the dev beacon."""
    clock: Any = ledger.chain.clock
    signer = keys.load(f"dept-{DEPT}")
    beacon = demo_beacon(2025)
    plan = demo_plan(DEPT, 2026, [f"{DEPT}/F", f"{DEPT}/H", f"{DEPT}/C", f"{DEPT}/G"])
    plan["plan_id"] = PLAN
    plan["tasks"] = plan["tasks"][1:2]  # a key matter (重点检查事项): ratios up to 30%
    batch = plan["tasks"][0]["batches"][0]
    batch.update({"batch_id": "X1", "draw_date": "2026-02-16"})
    batch["randomness"] = {**batch["randomness"], "beacon": beacon.chain.chain_hash}
    batch["strata"] = [{**s, "ratio_ppm": 300_000} for s in batch["strata"]]
    clock.at(datetime(2026, 1, 26, 9, tzinfo=SH))
    file_plan(ledger, signer, plan, now=clock())
    receive_plan(ledger, keys.load("authority"), PLAN, clock().date(), now=clock())
    publish_plan(ledger, signer, DEPT, PLAN, "https://example.gov.cn/p", now=clock())
    t_draw = draw_time(batch)
    clock.at(t_draw - timedelta(days=1))
    secret = bytes(range(32))
    commit_draw(ledger, signer, PLAN, "X1", beacon.chain,
                {DEPT: reveal_commitment(PLAN, "X1", DEPT, secret)}, now=clock())
    reveal_secret(ledger, signer, DEPT, PLAN, "X1", secret, now=clock())
    round_ = beacon.chain.round_at(int(t_draw.timestamp()))
    clock.at(t_draw + timedelta(minutes=1))
    _, outcome = execute_draw(ledger, signer, PLAN, "X1", beacon.chain, beacon.sign(round_),
                              now=clock())
    ledger.checkpoint(keys.load("log"), keys.witness_tools(), now=clock)
    staffed = [(u, t) for u, t in outcome.teams.items() if t]
    assert len(staffed) >= 3
    return {"clock": clock, "staffed": staffed, "pool": outcome}


@pytest.fixture
def log(tmp_path: Path) -> tuple[Path, Parties, dict[str, Any]]:
    keys = Parties(tmp_path / "parties")
    ledger = Ledger(str(tmp_path / "db.sqlite"))
    try:
        build_demo(ledger, keys, targets=400, inspectors=60, now=lambda: NOW)
        extra = _extra_draw(ledger, keys)
    finally:
        ledger.close()
    return tmp_path, keys, extra


def test_results_through_python_and_cli(log: tuple[Path, Parties, dict[str, Any]],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    root, keys, extra = log
    clock = extra["clock"]
    (uscc, team), (uscc2, team2) = extra["staffed"][:2]
    ledger = Ledger(str(root / "db.sqlite"), clock=clock)
    try:
        signer = keys.load(f"dept-{DEPT}")
        clock.at(datetime(2026, 2, 24, 16, tzinfo=SH))
        complete_inspection(ledger, signer, DEPT, uscc=uscc, ended_on=clock().date(),
                            inspectors=list(team), plan_id=PLAN, batch_id="X1", now=clock())
        iid = inspection_id(PLAN, "X1", uscc)
        clock.at(datetime(2026, 2, 25, 10, tzinfo=SH))
        first = record_result(ledger, signer, DEPT, iid, outcome="no_problem",
                              findings="现场检查未发现问题。", attachments=[b"photo"],
                              now=clock())
        publish_result(ledger, signer, DEPT, iid, record=b"published record",
                       url="https://sd.gsxt.gov.cn/x", now=clock())
    finally:
        ledger.close()
    # The same steps from the command line (its clock is the real one), for the second
    # target, and a correction.
    db = ["--db", str(root / "db.sqlite")]
    today = datetime.now(SH).date().isoformat()
    iid2 = inspection_id(PLAN, "X1", uscc2)
    assert cli_main([*db, "inspection", "complete", "--department", DEPT, "--uscc", uscc2,
                     "--plan", PLAN, "--batch", "X1", "--ended-on", today,
                     "--inspectors", ",".join(team2)]) == 0
    record = root / "record.txt"
    record.write_text("抽查结果：未发现问题", encoding="utf-8")
    assert cli_main([*db, "result", "record", "--department", DEPT, "--inspection", iid2,
                     "--outcome", "corrected", "--findings", "已责令改正",
                     "--attachment", str(record)]) == 0
    assert cli_main([*db, "result", "publish", "--department", DEPT, "--inspection", iid2,
                     "--record", str(record), "--url", "https://sd.gsxt.gov.cn/y"]) == 0
    assert cli_main([*db, "result", "correct", "--department", DEPT, "--inspection", iid,
                     "--corrects", str(first), "--outcome", "corrected",
                     "--findings", "复核发现问题，已责令改正", "--reason", "复核更正"]) == 0
    capsys.readouterr()
    # Refused, with nothing written: a target never drawn, another department's
    # inspection, an outcome outside the code list.
    never = "91370302MA0000000X"
    assert cli_main([*db, "inspection", "complete", "--department", DEPT, "--uscc", never,
                     "--plan", PLAN, "--batch", "X1", "--ended-on", "2026-02-25",
                     "--inspectors", ",".join(team2)]) == 1
    assert "V14.trace" in capsys.readouterr().err
    assert cli_main([*db, "result", "record", "--department", "ZC-SWJ", "--inspection", iid2,
                     "--outcome", "no_problem", "--findings", "x"]) == 1
    assert "AUTH.owner" in capsys.readouterr().err
    ledger = Ledger(str(root / "db.sqlite"))
    try:
        size = ledger.size
        ledger.checkpoint(keys.load("log"), keys.witness_tools())
        ledger.export(root / "out")
    finally:
        ledger.close()
    report = run_audit(root / "out")
    assert report.exit_code == EXIT_CLEAN, report.findings
    types = [entry_obj(line)["type"] for line in read_entries(root / "out")[-7:]]
    assert types.count("result.recorded") == 2 and types[-1] == "result.corrected"
    assert size == len(read_entries(root / "out"))


def test_signed_statement_file_and_refusals(log: tuple[Path, Parties, dict[str, Any]],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    root, keys, extra = log
    clock = extra["clock"]
    uscc, team = extra["staffed"][0]
    iid = inspection_id(PLAN, "X1", uscc)
    clock.at(datetime(2026, 2, 24, 16, tzinfo=SH))
    today = datetime.now(SH).date().isoformat()  # the CLI writes on the real clock
    body = {"inspection_id": iid, "kind": "random", "plan_id": PLAN, "batch_id": "X1",
            "dept": DEPT, "uscc": uscc, "ended_on": today, "inspectors": list(team)}
    statement = sign_statement(keys.load(f"dept-{DEPT}"), "inspection.completed",
                               f"inspection/{iid}", DEPT, body, sid="stmt-1", now=clock())
    path = root / "stmt.json"
    path.write_text(json.dumps(statement.to_json(), ensure_ascii=False), encoding="utf-8")
    db = ["--db", str(root / "db.sqlite")]
    assert cli_main([*db, "submit", str(path)]) == 0
    capsys.readouterr()
    # The same statement id again: a replay.
    assert cli_main([*db, "submit", str(path)]) == 1
    assert "V1.replay" in capsys.readouterr().err
    # A result signed with another department's key, in this department's name.
    forged = sign_statement(keys.load("dept-ZC-SWJ"), "result.recorded", f"inspection/{iid}",
                            DEPT, {"inspection_id": iid, "dept": DEPT, "outcome": "no_problem",
                                   "findings": "未发现问题。", "attachments": []}, now=clock())
    ledger = Ledger(str(root / "db.sqlite"), clock=clock)
    try:
        before = ledger.size
        with pytest.raises(RejectedError, match=r"AUTH\.role"):
            ledger.submit([forged])
        assert ledger.refresh() == before
        ledger.export(root / "out")
    finally:
        ledger.close()
    # A colluding log writes it anyway and re-signs its checkpoint: the audit names it.
    lines = read_entries(root / "out")
    last = entry_obj(lines[-1])
    state = {"actor": forged.actor, "body": forged.body, "sig": forged.sig,
             "type": forged.type}
    lines.append(make_entry(len(lines), entry_hash(lines[-1]), last["time"], forged.stream,
                            2, state))
    write_entries(root / "out", lines)
    resign_checkpoint(root / "out", keys.load("log"), lines)
    # The witnesses cosign it as usual: the tree only grew.
    add_cosignature(root / "out", keys.load("witness-audit"), len(lines),
                    int(datetime.fromisoformat(last["time"]).timestamp()) + 60)
    report = run_audit(root / "out")
    assert report.exit_code == EXIT_VIOLATION
    assert [(f.rule, f.seq) for f in report.findings] == [("AUTH.role", len(lines) - 1)]
    assert "ZC-SWJ" in report.findings[0].en
