"""Many processes starting on one PostgreSQL log at the same instant (issue 12, item 11).

API workers, the CLI and cron jobs start together in any deployment. Each start used to
re-run the schema DDL (CREATE OR REPLACE FUNCTION / TRIGGER), whose locks deadlocked
between starters (``psycopg.errors.DeadlockDetected`` in ``Ledger(db)``). Real processes,
released together by a barrier, on a schema of their own.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import PG_DBNAME, pg_conninfo, pg_db_url

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parent.parent
OPENERS = 8
ROUNDS = 10


def _open_rounds(urls: list[str], barrier: Any, results: Any) -> None:
    """One opener: for each round, wait for all the others, then open and close the log."""
    sys.path.insert(0, str(ROOT))
    from ledger import Ledger

    for r, url in enumerate(urls):
        barrier.wait(timeout=120)
        try:
            ledger = Ledger(url)
            size = ledger.size
            ledger.close()
            results.put((r, "ok", size))
        except BaseException as exc:  # reported to the test, which fails with it
            results.put((r, type(exc).__name__, str(exc)[:300]))


def _schemas(n: int) -> list[str]:
    names = [f"dl{uuid.uuid4().hex[:10]}" for _ in range(n)]
    with psycopg.connect(**pg_conninfo(), autocommit=True) as conn:
        for name in names:
            conn.execute(f'CREATE SCHEMA "{name}"')
    return names


def _drop(names: list[str]) -> None:
    with psycopg.connect(**pg_conninfo(), autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def test_eight_processes_opening_one_log_at_once_do_not_deadlock() -> None:
    # Rounds 0, 2, 4, ... race to create a fresh schema; 1, 3, 5, ... race to open it again.
    schemas = _schemas(ROUNDS // 2)
    urls = [pg_db_url(schemas[r // 2]) for r in range(ROUNDS)]
    ctx = multiprocessing.get_context("spawn")  # a clean interpreter, no inherited sockets
    barrier, results = ctx.Barrier(OPENERS), ctx.Queue()
    procs = [ctx.Process(target=_open_rounds, args=(urls, barrier, results))
             for _ in range(OPENERS)]
    try:
        for p in procs:
            p.start()
        outcomes = [results.get(timeout=180) for _ in range(OPENERS * ROUNDS)]
        for p in procs:
            p.join(timeout=60)
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
        _drop(schemas)
    failures = [o for o in outcomes if o[1] != "ok"]
    assert failures == []
    assert sorted(o[0] for o in outcomes) == sorted(list(range(ROUNDS)) * OPENERS)
    assert all(p.exitcode == 0 for p in procs)


def _tables_and_triggers(schema: str) -> tuple[int, int, int]:
    with psycopg.connect(**pg_conninfo()) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM pg_tables WHERE schemaname = %s), "
            "(SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            " JOIN pg_namespace n ON n.oid = c.relnamespace "
            " WHERE n.nspname = %s AND NOT t.tgisinternal), "
            "(SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            " WHERE n.nspname = %s)", (schema, schema, schema)).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def test_a_started_log_runs_no_ddl_and_a_damaged_one_is_repaired(pg_schema: str) -> None:
    """Once the schema is complete a start only reads the catalog: no DDL, so no DDL
    lock. A schema with a piece missing (a dropped trigger) is completed again."""
    from ledger import Ledger

    url = pg_db_url(pg_schema)
    Ledger(url).close()
    complete = _tables_and_triggers(pg_schema)
    assert complete == (4, 10, 4)  # events + 3 side tables; 10 triggers; 4 functions
    with psycopg.connect(**pg_conninfo()) as conn:
        # A start that runs DDL takes locks stronger than ACCESS SHARE on the events
        # table; hold a conflicting-with-DDL lock and require the start to go through.
        conn.execute(f'LOCK TABLE "{pg_schema}".drawledger_events IN SHARE MODE')
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        code = ("import sys; from ledger import Ledger; "
                "l = Ledger(sys.argv[1], env={'POSTGRES_LOCK_TIMEOUT': '2'}); l.close()")
        try:
            opened = subprocess.run([sys.executable, "-c", code, url], env=env, timeout=30,
                                    capture_output=True, text=True)
        except subprocess.TimeoutExpired:
            pytest.fail("opening a complete log waited on a DDL lock")
        conn.rollback()
    assert opened.returncode == 0, opened.stderr[-2000:]
    with psycopg.connect(**pg_conninfo(), autocommit=True) as conn:
        conn.execute(f'DROP TRIGGER dl_gapless ON "{pg_schema}".drawledger_events_dl_entries')
    assert _tables_and_triggers(pg_schema) == (4, 9, 4)
    Ledger(url).close()
    assert _tables_and_triggers(pg_schema) == complete


def test_read_only_commands_started_together_all_answer(pg_schema: str,
                                                        tmp_path: Path) -> None:
    """24 simultaneous ``drawledger --db $PG draws`` used to lose 4 to a deadlock."""
    url = pg_db_url(pg_schema)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cli = [sys.executable, "-m", "ledger._cli", "--db", url, "--parties", str(tmp_path / "parties")]
    built = subprocess.run([*cli, "demo", "--targets", "20", "--inspectors", "4"], env=env,
                           capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr[-2000:]
    go = tmp_path / "go"
    # Each process waits for the file, then runs the command in the same instant.
    wait = ("import os, runpy, sys, time\n"
            f"while not os.path.exists({str(go)!r}): time.sleep(0.005)\n"
            "sys.argv = ['drawledger', *sys.argv[1:]]\n"
            "runpy.run_module('ledger._cli', run_name='__main__')\n")
    procs = [subprocess.Popen([sys.executable, "-c", wait, "--db", url, "draws"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(12)]
    try:
        go.write_text("")
        outputs = [p.communicate(timeout=180) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [0] * len(procs), [e[-500:] for _, e in outputs]
    assert len({out for out, _ in outputs}) == 1 and outputs[0][0].strip()


def test_the_pg_tests_use_DRAWLEDGER_TEST_PG_URL() -> None:
    """Item 17: the server and database come from DRAWLEDGER_TEST_PG_URL, not a constant."""
    other = f"dlalt{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(**pg_conninfo(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{other}"')
    except psycopg.Error as exc:
        pytest.skip(f"cannot create a second database here: {exc}")
    try:
        base = pg_db_url().rsplit("/", 1)[0]
        probe = ("import psycopg\n"
                 "from tests.conftest import PG_DBNAME, pg_conninfo, pg_unreachable_reason\n"
                 "assert pg_unreachable_reason() is None\n"
                 "with psycopg.connect(**pg_conninfo()) as c:\n"
                 "    print(PG_DBNAME, c.execute('SELECT current_database()').fetchone()[0])\n")
        env = {**os.environ, "PYTHONPATH": str(ROOT),
               "DRAWLEDGER_TEST_PG_URL": f"{base}/{other}"}
        seen = subprocess.run([sys.executable, "-c", probe], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
        assert seen.returncode == 0, seen.stderr[-2000:]
        assert seen.stdout.split() == [other, other] and other != PG_DBNAME
        env["DRAWLEDGER_TEST_PG_URL"] = f"{base.rsplit(':', 1)[0]}:1/{other}"  # nothing there
        env["DRAWLEDGER_REQUIRE_POSTGRES"] = "1"
        required = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             "tests/test_ledger_postgres.py"], env=env, cwd=ROOT, capture_output=True,
            text=True, timeout=120)
        assert required.returncode != 0
        assert "PostgreSQL not reachable at" in required.stdout and ":1 " in required.stdout
    finally:
        with psycopg.connect(**pg_conninfo(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{other}"')
