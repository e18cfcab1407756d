"""Attacks on the write path, each named after the attack: what the audit flags, the log
must refuse to write (or, for a history rewritten under it, the audit must blame the log).

One demo log is built per module; each test works on a copy of its database, keys and
export, as the operator, a dishonest department or someone with file access would.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from ledger import Ledger, Parties, RejectedError, init_log, sign_statement
from ledger._cli import main as cli_main
from ledger._statements import Submission
from tests.conftest import pg_db_url
from tests.helpers import (
    build_export,
    entry_obj,
    read_entries,
    rewrite_history,
    run_audit,
    write_entries,
)
from verifier import (
    EXIT_INTEGRITY,
    INTEGRITY,
    VIOLATION,
    Checkpoint,
    NoteSigner,
    entry_hash,
    make_entry,
    parse_checkpoint,
    parse_note,
    sign_note,
)

ROOT = Path(__file__).resolve().parent.parent
SH = timezone(timedelta(hours=8))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("write")
    build_export(root)
    return root


@pytest.fixture
def log_dir(built: Path, tmp_path: Path) -> Path:
    """A private copy: ``db.sqlite``, ``parties/`` (witness state included), ``export/``."""
    return Path(shutil.copytree(built, tmp_path / "log"))


def drawledger(log_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The operator's command line, as a real process."""
    return subprocess.run([sys.executable, "-m", "ledger._cli", "--db",
                           str(log_dir / "db.sqlite"), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def sql(db: Path, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(db)) as con:
        return con.execute(query, params).fetchall()


def roll_back(db: Path, keep: int) -> None:
    """Someone with file access: drop the append-only guards, delete the entries from
    ``keep`` on and the checkpoints and cosignatures that cover them."""
    con = sqlite3.connect(db)
    try:
        for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"
                                   ).fetchall():
            con.execute(f"DROP TRIGGER {name}")
        con.execute("DELETE FROM stored_events WHERE rowid IN "
                    "(SELECT notification_id FROM dl_entries WHERE seq >= ?)", (keep,))
        con.execute("DELETE FROM dl_entries WHERE seq >= ?", (keep,))
        # ... and the checkpoint of exactly ``keep`` entries: the log then has a tree to
        # sign that no checkpoint covers yet.
        con.execute("DELETE FROM dl_checkpoints WHERE size >= ?", (keep,))
        con.execute("DELETE FROM dl_cosignatures WHERE size >= ?", (keep,))
        con.commit()
    finally:
        con.close()


def witness_states(log_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((log_dir / "parties").glob("*/*.state.json"))}


def written(log_dir: Path) -> tuple[Any, ...]:
    """Everything a checkpoint run could write."""
    db = log_dir / "db.sqlite"
    return (sql(db, "SELECT size, note FROM dl_checkpoints ORDER BY size"),
            sql(db, "SELECT size, line FROM dl_cosignatures ORDER BY rowid"),
            witness_states(log_dir))


def new_departments(keys: Parties, n: int, tag: str) -> list[Submission]:
    authority = keys.load("authority")
    return [sign_statement(authority, "department.registered", f"dept/ZC-{tag}{i}",
                           "authority", {"code": f"ZC-{tag}{i}", "name": f"演练单位{i}"})
            for i in range(n)]


def append_statement(export: Path, statement: Submission) -> int:
    """What a log that accepted ``statement`` would hold: it chained after the last entry
    (same time); returns its seq."""
    lines = read_entries(export)
    last = entry_obj(lines[-1])
    version = 1 + max((entry_obj(line)["version"] for line in lines
                       if entry_obj(line)["stream"] == statement.stream), default=0)
    lines.append(make_entry(len(lines), entry_hash(lines[-1]), last["time"], statement.stream,
                            version, {"actor": statement.actor, "body": statement.body,
                                      "sig": statement.sig, "type": statement.type}))
    write_entries(export, lines)
    return len(lines) - 1


def first_of(ledger: Ledger, type_: str) -> dict[str, Any]:
    """The first entry of ``type_`` in the log, as an object."""
    for _, raw in ledger.entries():
        obj = entry_obj(raw)
        if obj["type"] == type_:
            return obj
    raise AssertionError(f"no {type_} in the demo log")


# -- issue 12 item 3: checkpoint cosigns only through the witness's state check ---------


def test_rolled_back_database_checkpoint_is_refused(log_dir: Path) -> None:
    """The tail deleted behind the recorder, with the checkpoints that covered it: the
    witnesses cosigned a bigger tree, so `drawledger checkpoint` refuses and writes and
    cosigns nothing."""
    db = log_dir / "db.sqlite"
    size = sql(db, "SELECT count(*) FROM dl_entries")[0][0]
    roll_back(db, size - 20)
    before = written(log_dir)
    proc = drawledger(log_dir, "checkpoint")
    assert proc.returncode == 1, proc.stderr
    assert "rolled back" in proc.stderr and "拒绝联署" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert written(log_dir) == before


def test_forked_database_checkpoint_is_refused(log_dir: Path) -> None:
    """The tail replaced by another history that grows past the witnessed size: no
    consistency proof links them, so nothing is cosigned or written."""
    db = log_dir / "db.sqlite"
    size = sql(db, "SELECT count(*) FROM dl_entries")[0][0]
    roll_back(db, size - 3)
    ledger = Ledger(str(db))
    try:
        ledger.submit(new_departments(Parties(log_dir / "parties"), 10, "FORK"))
        assert ledger.size > size
    finally:
        ledger.close()
    before = written(log_dir)
    proc = drawledger(log_dir, "checkpoint")
    assert proc.returncode == 1, proc.stderr
    assert "a fork" in proc.stderr
    assert written(log_dir) == before


def test_honest_checkpoint_is_cosigned_through_the_state_check(log_dir: Path) -> None:
    """The same command on an honest log: both witnesses cosign and record the tree."""
    ledger = Ledger(str(log_dir / "db.sqlite"))
    try:
        size = ledger.submit(new_departments(Parties(log_dir / "parties"), 2, "OK"))[-1] + 1
    finally:
        ledger.close()
    proc = drawledger(log_dir, "checkpoint")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("\n— ") == 3  # the log's signature and two cosignatures
    for state in witness_states(log_dir).values():
        assert [v["size"] for v in json.loads(state).values()] == [size]


# -- issue 12 item 10: concurrent checkpoints -------------------------------------------


def race_checkpoints(db: str, keys: Parties) -> None:
    """Two ledgers on one database checkpoint the same new tree, the second one's check
    passing just before the first one writes: the loser of the race to the grow-only
    trigger says "already up to date" (None), not IntegrityError."""
    first, second = Ledger(db), Ledger(db)
    try:
        first.submit(new_departments(keys, 1, "RACE"))
        assert second.refresh() == first.size
        won: list[str | None] = []

        def clock() -> datetime:  # runs after `second` saw no checkpoint of this size
            if not won:
                won.append(first.checkpoint(keys.load("log"), keys.witness_tools()))
            return datetime.now(UTC)

        assert second.checkpoint(keys.load("log"), keys.witness_tools(), now=clock) is None
        assert won[0] is not None
        latest = second.chain.latest_checkpoint()
        assert latest is not None and latest[0] == first.size and latest[2] == won[0]
    finally:
        first.close()
        second.close()


def test_concurrent_checkpoint_says_already_up_to_date(log_dir: Path) -> None:
    race_checkpoints(str(log_dir / "db.sqlite"), Parties(log_dir / "parties"))


@pytest.mark.postgres
def test_concurrent_checkpoint_on_postgres_says_already_up_to_date(
        pg_schema: str, tmp_path: Path) -> None:
    db, keys = pg_db_url(pg_schema), Parties(tmp_path / "parties")
    ledger = Ledger(db)
    try:
        init_log(ledger, keys, "drawledger.test/race")
    finally:
        ledger.close()
    race_checkpoints(db, keys)


def test_concurrent_checkpoint_processes_all_succeed(log_dir: Path) -> None:
    """Three `drawledger checkpoint` processes at once: each exits 0, one writes."""
    ledger = Ledger(str(log_dir / "db.sqlite"))
    try:
        size = ledger.submit(new_departments(Parties(log_dir / "parties"), 1, "PROC"))[0] + 1
    finally:
        ledger.close()
    cmd = [sys.executable, "-m", "ledger._cli", "--db", str(log_dir / "db.sqlite"),
           "checkpoint"]
    procs = [subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(3)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    for code, _, err in results:
        assert code == 0, err
        assert "Traceback" not in err and "IntegrityError" not in err
    assert sum("already up to date" not in out for _, out, _ in results) >= 1
    assert sql(log_dir / "db.sqlite", "SELECT max(size) FROM dl_checkpoints")[0][0] == size


# -- issue 12 item 4: a history rewritten under a draw ----------------------------------


def test_history_rewritten_under_a_draw(log_dir: Path) -> None:
    """A colluding log re-dates one entry before the first commitment, re-chains and
    re-signs everything: every statement still verifies, but the commitments' entry
    hashes changed, so the seeds the departments signed no longer follow from the log.
    The audit reports integrity at each commitment and blames no department."""
    export, keys = log_dir / "export", Parties(log_dir / "parties")
    lines = read_entries(export)
    objs = [entry_obj(line) for line in lines]
    commit = next(i for i, o in enumerate(objs) if o["type"] == "draw.committed")
    k = next(j for j in range(commit - 1, 0, -1) if objs[j]["time"] != objs[j - 1]["time"])
    lines[k] = make_entry(k, bytes(32), objs[k - 1]["time"], objs[k]["stream"],
                          objs[k]["version"],
                          {f: objs[k][f] for f in ("actor", "body", "sig", "type")})
    rewrite_history(export, keys.load("log"), lines, k)
    report = run_audit(export)
    assert report.exit_code == EXIT_INTEGRITY
    commits = [i for i, o in enumerate(objs) if o["type"] == "draw.committed"
               and any(e["type"] == "draw.executed" and e["stream"] == o["stream"]
                       for e in objs)]
    history = [f for f in report.findings if f.rule == "V8.history"]
    assert [f.seq for f in history] == commits
    assert all(f.kind == INTEGRITY for f in history)
    assert [f for f in report.findings if f.kind == INTEGRITY] == history
    assert "rewritten" in history[0].en and "not an unfair draw" in history[0].en
    assert "改写" in history[0].zh
    assert not {"V8.seed", "V8.selection", "V12.matching"} & {f.rule for f in report.findings}


def test_department_seed_not_from_its_draw_is_still_the_departments(log_dir: Path) -> None:
    """The control: a department signs an execution whose seed does not produce its own
    selection. That is its fault (V8.seed), not the log's, at the execution."""
    export, keys = log_dir / "export", Parties(log_dir / "parties")
    lines = read_entries(export)
    k = next(i for i, line in enumerate(lines) if entry_obj(line)["type"] == "draw.executed")
    o = entry_obj(lines[k])
    body = {**o["body"], "outcome": {**o["body"]["outcome"], "seed": "00" * 32}}
    s = sign_statement(keys.load(f"dept-{o['actor']}"), o["type"], o["stream"], o["actor"],
                       body)
    lines[k] = make_entry(k, bytes(32), o["time"], o["stream"], o["version"],
                          {"actor": s.actor, "body": s.body, "sig": s.sig, "type": s.type})
    rewrite_history(export, keys.load("log"), lines, k)
    report = run_audit(export)
    seed = [f for f in report.findings if f.rule == "V8.seed"]
    assert [(f.seq, f.kind, f.dept) for f in seed] == [(k, VIOLATION, o["actor"])]
    assert all(f.seq is not None and f.seq > k for f in report.findings
               if f.rule == "V8.history")


# -- issue 12 item 5: a second execution, a second result --------------------------------


def test_second_execution_is_refused(log_dir: Path) -> None:
    """A department re-states a batch's execution (a re-draw): refused by V8.redraw."""
    keys = Parties(log_dir / "parties")
    ledger = Ledger(str(log_dir / "db.sqlite"))
    try:
        executed = first_of(ledger, "draw.executed")
        size = ledger.size
        again = sign_statement(keys.load(f"dept-{executed['actor']}"), "draw.executed",
                               executed["stream"], executed["actor"], executed["body"])
        with pytest.raises(RejectedError, match=r"V8\.redraw") as caught:
            ledger.submit([again])
        assert [f.rule for f in caught.value.findings] == ["V8.redraw"]
        assert f"already drawn at entry {executed['seq']}" in str(caught.value)
        assert ledger.refresh() == size
    finally:
        ledger.close()


def test_second_result_is_refused_and_a_correction_accepted(
        log_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A department records a second result for an inspection (silently replacing the
    first): refused by V16.second_record, CLI and Python alike; the change goes in as a
    result.corrected that names the record and gives a reason."""
    db = str(log_dir / "db.sqlite")
    ledger = Ledger(db)
    try:
        recorded = first_of(ledger, "result.recorded")
        size = ledger.size
    finally:
        ledger.close()
    iid, dept = recorded["body"]["inspection_id"], recorded["actor"]
    base = ["--db", db, "result"]
    who = ["--department", dept, "--inspection", iid]
    assert cli_main([*base, "record", *who, "--outcome", "case_filed",
                     "--findings", "改判"]) == 1
    err = capsys.readouterr().err
    assert "V16.second_record" in err and f"recorded at entry {recorded['seq']}" in err
    assert "result.corrected" in err
    # corrects must name a result record of this inspection
    assert cli_main([*base, "correct", *who, "--outcome", "case_filed", "--findings", "改判",
                     "--corrects", "1", "--reason", "复核发现问题"]) == 1
    assert "corrects: entry 1 is not a result" in capsys.readouterr().err
    ledger = Ledger(db)
    try:
        assert ledger.refresh() == size
    finally:
        ledger.close()
    assert cli_main([*base, "correct", *who, "--outcome", "case_filed", "--findings", "改判",
                     "--corrects", str(recorded["seq"]), "--reason", "复核发现问题"]) == 0
    assert f"entry {size}" in capsys.readouterr().out


def test_second_result_in_a_log_is_flagged(log_dir: Path) -> None:
    """A log that carries a second result.recorded anyway (written past the rules): the
    audit says so at that entry, as the department's violation."""
    export, keys = log_dir / "export", Parties(log_dir / "parties")
    recorded = next(o for line in read_entries(export)
                    if (o := entry_obj(line))["type"] == "result.recorded")
    again = sign_statement(keys.load(f"dept-{recorded['actor']}"), "result.recorded",
                           recorded["stream"], recorded["actor"],
                           {**recorded["body"], "outcome": "case_filed"})
    seq = append_statement(export, again)
    report = run_audit(export)
    found = [f for f in report.findings if f.rule == "V16.second_record"]
    assert [(f.seq, f.kind, f.dept) for f in found] == [(seq, VIOLATION, recorded["actor"])]
    assert f"entry {recorded['seq']}" in found[0].en


# -- issue 12 item 6: plan.received dated off its entry ----------------------------------


def _receipt(keys: Parties, plan_id: str, on: date) -> Submission:
    return sign_statement(keys.load("authority"), "plan.received", f"plan/{plan_id}",
                          "authority", {"plan_id": plan_id, "received_on": on.isoformat()})


def test_received_on_mismatch_is_refused(log_dir: Path) -> None:
    """The office signs a receipt dated after the day it is entered, or backdated by more
    than the tolerance (10 days): refused by V2.received_on; 10 days before is accepted."""
    keys = Parties(log_dir / "parties")
    ledger = Ledger(str(log_dir / "db.sqlite"))
    try:
        plan_id = first_of(ledger, "plan.filed")["body"]["plan_id"]
        head = ledger.chain.head()[2]
        assert head is not None
        day = max(datetime.now(SH).date(), date.fromisoformat(head[:10]))
        size = ledger.size
        for on in (day + timedelta(days=1), day - timedelta(days=11)):
            with pytest.raises(RejectedError, match=r"V2\.received_on") as caught:
                ledger.submit([_receipt(keys, plan_id, on)])
            assert f"log date {day}" in str(caught.value)
            assert ledger.refresh() == size
        seq = ledger.submit([_receipt(keys, plan_id, day - timedelta(days=10))])[0]
        assert seq == size
    finally:
        ledger.close()


def test_received_on_mismatch_in_a_log_is_flagged(log_dir: Path) -> None:
    """A log that carries a receipt dated after its entry: the audit reports it."""
    export, keys = log_dir / "export", Parties(log_dir / "parties")
    lines = read_entries(export)
    plan_id = next(o["body"]["plan_id"] for line in lines
                   if (o := entry_obj(line))["type"] == "plan.filed")
    day = date.fromisoformat(entry_obj(lines[-1])["time"][:10])
    seq = append_statement(export, _receipt(keys, plan_id, day + timedelta(days=1)))
    report = run_audit(export)
    found = [f for f in report.findings if f.rule == "V2.received_on"]
    assert [(f.seq, f.kind) for f in found] == [(seq, VIOLATION)]
    assert f"after the entry's log date {day}" in found[0].en


# -- the entry size limit (SPEC 3.1) at write time --------------------------------------


def test_statement_over_the_entry_limit_is_refused(log_dir: Path) -> None:
    """A statement whose entry would exceed 1 MiB: the audit would call that log corrupt
    (V1.format), so the log refuses it and writes nothing; one just under is written."""
    keys = Parties(log_dir / "parties")
    ledger = Ledger(str(log_dir / "db.sqlite"))
    try:
        size = ledger.size
        authority = keys.load("authority")
        big = sign_statement(authority, "department.registered", "dept/ZC-BIG", "authority",
                             {"code": "ZC-BIG", "name": "大" * 400_000})  # 1.2 MB of UTF-8
        with pytest.raises(RejectedError, match=r"V1\.format") as caught:
            ledger.submit([big])
        assert "1048576-byte limit" in str(caught.value)
        assert ledger.refresh() == size
        fits = sign_statement(authority, "department.registered", "dept/ZC-FIT", "authority",
                              {"code": "ZC-FIT", "name": "大" * 349_000})
        [seq] = ledger.submit([fits])
        raw = dict(ledger.entries(seq, seq + 1))[seq]
        assert 1_040_000 < len(raw) <= 1 << 20
    finally:
        ledger.close()


def test_witness_asked_to_cosign_a_checkpoint_the_log_key_did_not_sign(log_dir: Path) -> None:
    """Someone with file access swaps the latest stored checkpoint's note for one signed by
    another key: `drawledger witness cosign` refuses by name (exit 1), no traceback, and
    the witness's state is unchanged."""
    db = log_dir / "db.sqlite"
    size, note = sql(db, "SELECT size, note FROM dl_checkpoints ORDER BY size DESC LIMIT 1")[0]
    cp: Checkpoint = parse_checkpoint(parse_note(note).text)
    forged = sign_note(cp.text, [NoteSigner.generate(cp.origin)])  # the log's name only
    con = sqlite3.connect(db)
    try:
        for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"
                                   ).fetchall():
            con.execute(f"DROP TRIGGER {name}")
        con.execute("UPDATE dl_checkpoints SET note = ? WHERE size = ?", (forged, size))
        con.commit()
    finally:
        con.close()
    store = next(p for p in sorted((log_dir / "parties").glob("witness-*")))
    before = witness_states(log_dir)
    proc = drawledger(log_dir, "witness", "cosign", "--key", str(next(store.glob("*.skey"))),
                      "--state", str(next(store.glob("*.state.json"))))
    assert proc.returncode == 1, proc.stderr
    assert "拒绝" in proc.stderr and "Traceback" not in proc.stderr
    assert witness_states(log_dir) == before
