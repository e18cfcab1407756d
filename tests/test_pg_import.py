"""A large registry import on PostgreSQL, and imports whose helper processes fail
(issue 12, item 11).

A 30,000-row CSV import on PostgreSQL hung for over 36 minutes: the library sent the
whole import as one INSERT in psycopg's pipeline mode, whose pure-Python sync stopped
sending with bytes still buffered and then waited for an answer the server could not
give (it was waiting for the rest of the message). Each wait is now bounded: the import
runs as the real CLI, in a process with a deadline.
"""

from __future__ import annotations

import csv
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import pg_db_url
from tests.helpers import read_entries, run_audit
from verifier import EXIT_CLEAN
from verifier._uscc import USCC_CHARSET, org_code_check_char, uscc_check_char

ROOT = Path(__file__).resolve().parent.parent
HEAD = ["统一社会信用代码", "名称", "分库", "行业代码", "行政区划代码", "风险等级", "登记状态",
        "监管单位", "注册号(可选)"]
DEPT = "ZC-SCJGJ"


def targets_csv(path: Path, n: int, seed: int = 12) -> Path:
    """``n`` valid targets of one department, distinct codes."""
    rng = random.Random(seed)
    seen: set[str] = set()
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(HEAD)
        while len(seen) < n:
            org8 = "MA" + "".join(rng.choice(USCC_CHARSET) for _ in range(6))
            body = "91370302" + org8 + org_code_check_char(org8)
            code = body + uscc_check_char(body)
            if code in seen:
                continue
            seen.add(code)
            out.writerow([code, f"淄博测试{len(seen)}商贸有限公司", "食品经营", "F5299",
                          "370302", "ABCD"[len(seen) % 4], "存续", "般阳路街道市场监管所", ""])
    return path


def drawledger(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        return subprocess.run([sys.executable, "-m", "ledger._cli", *args], env=env,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:  # run() has killed it
        pytest.fail(f"drawledger {' '.join(args[4:6])} did not finish within {timeout} s")


@pytest.mark.postgres
def test_a_30000_row_import_on_postgres_completes(pg_schema: str, tmp_path: Path) -> None:
    db = pg_db_url(pg_schema)
    keys = str(tmp_path / "keys")
    built = drawledger("--db", db, "--parties", keys, "demo", "--targets", "20",
                       "--inspectors", "4", timeout=120)
    assert built.returncode == 0, built.stderr[-2000:]
    path = targets_csv(tmp_path / "名录.csv", 30_000)
    started = time.monotonic()
    imported = drawledger("--db", db, "--parties", keys, "import", "targets", str(path),
                          "--department", DEPT, timeout=90)
    took = time.monotonic() - started
    assert imported.returncode == 0, imported.stderr[-2000:]
    assert "30000" in imported.stdout and took < 90
    assert drawledger("--db", db, "--parties", keys, "checkpoint", timeout=60).returncode == 0
    exported = drawledger("--db", db, "--parties", keys, "export", str(tmp_path / "out"),
                          timeout=120)
    assert exported.returncode == 0, exported.stderr[-2000:]
    lines = read_entries(tmp_path / "out")
    imports = [i for i, line in enumerate(lines) if b'"type":"import.recorded"' in line]
    members = sum(1 for line in lines[imports[-1]:] if b'"type":"target.added"' in line)
    assert members == 30_000
    report = run_audit(tmp_path / "out")
    assert report.findings == [] and report.exit_code == EXIT_CLEAN


# -- a helper process of an import that dies or stops answering ---------------------------

def _forks(pid: int) -> list[int]:
    """The children of ``pid`` that are forks of it (same command line, unlike a program
    it runs, such as the ``ldconfig`` that ctypes runs to find libpq), oldest first."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) != pid:
                    continue
                if (entry / "cmdline").read_bytes() == cmdline:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return sorted(found)


@pytest.fixture(scope="module")
def sqlite_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A demo log on SQLite, its keys, and a 30,000-row file for it (copied per test)."""
    root = tmp_path_factory.mktemp("childlog")
    db, keys = root / "db.sqlite", root / "keys"
    built = drawledger("--db", str(db), "--parties", str(keys), "demo", "--targets", "20",
                       "--inspectors", "4", timeout=120)
    assert built.returncode == 0, built.stderr[-2000:]
    return db, keys, targets_csv(root / "名录.csv", 30_000)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
@pytest.mark.parametrize(("nth", "sig", "who", "what"), [
    (1, "SIGKILL", "file-reading process", "it ended unexpectedly (killed by signal 9"),
    (1, "SIGSTOP", "file-reading process", "no progress for 2 s, stopped"),
    (2, "SIGKILL", "database-writing process", "it ended unexpectedly (killed by signal 9"),
    (2, "SIGSTOP", "database-writing process", "no progress for 2 s, stopped"),
], ids=["parser-killed", "parser-stopped", "writer-killed", "writer-stopped"])
def test_an_import_child_that_dies_or_stops_is_a_clear_error_and_writes_nothing(
        sqlite_log: tuple[Path, Path, Path], tmp_path: Path, nth: int, sig: str, who: str,
        what: str) -> None:
    """The import's first child parses the file, the second holds the write transaction;
    the test kills (or stops) one as soon as it exists (the second while it waits for the
    write lock this test holds). The import must end within a
    bound, with a message naming the child, what it was doing and that nothing was
    written, and the log must be as it was."""
    import shutil
    import signal
    import sqlite3

    from ledger import Ledger

    src_db, src_keys, path = sqlite_log
    db, keys = tmp_path / "db.sqlite", tmp_path / "keys"
    shutil.copy(src_db, db)
    shutil.copytree(src_keys, keys)
    before = Ledger(str(db))
    size = before.size
    before.close()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DRAWLEDGER_CHILD_TIMEOUT": "2"}
    # The writer's first INSERT waits while this holds the write lock: the writer is
    # caught mid-transaction however fast or slow the machine is.
    lock = sqlite3.connect(db, isolation_level=None)
    if nth == 2:
        lock.execute("BEGIN IMMEDIATE")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ledger._cli", "--db", str(db), "--parties", str(keys), "import",
         "targets", str(path), "--department", DEPT],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first_seen: dict[int, float] = {}
    seen: list[int] = []  # forks seen on two scans 20 ms apart, in the order they appeared
    target = 0
    deadline = time.monotonic() + 60
    try:
        while not target and proc.poll() is None and time.monotonic() < deadline:
            now = time.monotonic()
            for child in _forks(proc.pid):
                # A program the CLI runs is a fork of it for the instant before its exec.
                since = first_seen.setdefault(child, now)
                if child not in seen and now - since >= 0.02:
                    seen.append(child)
            if len(seen) >= nth:
                target = seen[nth - 1]
                os.kill(target, getattr(signal, sig))
            time.sleep(0.005)
        if lock.in_transaction:
            lock.rollback()
        _, err = proc.communicate(timeout=60)
    finally:
        lock.close()
        if proc.poll() is None:
            proc.kill()
    assert target, f"child {nth} never appeared: {seen} ({proc.returncode})"
    assert proc.returncode == 1, err[-2000:]
    assert "Traceback" not in err
    assert f"the {who} (pid {target})" in err and what in err
    assert "nothing was written" in err and "未写入任何内容" in err and "子进程" in err
    assert not Path(f"/proc/{target}").exists()  # reaped, not left behind
    after = Ledger(str(db))
    assert after.size == size
    after.close()


@pytest.mark.parametrize("value", ["abc", "0", "-5", "nan", "inf"])
def test_a_bad_DRAWLEDGER_CHILD_TIMEOUT_refuses_the_import_before_any_fork(
        sqlite_log: tuple[Path, Path, Path], tmp_path: Path, value: str) -> None:
    import shutil

    src_db, src_keys, path = sqlite_log
    db, keys = tmp_path / "db.sqlite", tmp_path / "keys"
    shutil.copy(src_db, db)
    shutil.copytree(src_keys, keys)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DRAWLEDGER_CHILD_TIMEOUT": value}
    refused = subprocess.run(
        [sys.executable, "-m", "ledger._cli", "--db", str(db), "--parties", str(keys),
         "import", "targets", str(path), "--department", DEPT],
        env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert f"DRAWLEDGER_CHILD_TIMEOUT must be a positive number of seconds, not '{value}'" \
        in refused.stderr and "应为正的秒数" in refused.stderr
    assert db.read_bytes() == src_db.read_bytes()
