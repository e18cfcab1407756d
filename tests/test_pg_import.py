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
    built = drawledger("--db", db, "--keys", keys, "demo", "--targets", "20",
                       "--inspectors", "4", timeout=120)
    assert built.returncode == 0, built.stderr[-2000:]
    path = targets_csv(tmp_path / "名录.csv", 30_000)
    started = time.monotonic()
    imported = drawledger("--db", db, "--keys", keys, "import", "targets", str(path),
                          "--department", DEPT, timeout=90)
    took = time.monotonic() - started
    assert imported.returncode == 0, imported.stderr[-2000:]
    assert "30000" in imported.stdout and took < 90
    assert drawledger("--db", db, "--keys", keys, "checkpoint", timeout=60).returncode == 0
    exported = drawledger("--db", db, "--keys", keys, "export", str(tmp_path / "out"),
                          timeout=120)
    assert exported.returncode == 0, exported.stderr[-2000:]
    lines = read_entries(tmp_path / "out")
    imports = [i for i, line in enumerate(lines) if b'"type":"import.recorded"' in line]
    members = sum(1 for line in lines[imports[-1]:] if b'"type":"target.added"' in line)
    assert members == 30_000
    report = run_audit(tmp_path / "out")
    assert report.findings == [] and report.exit_code == EXIT_CLEAN
