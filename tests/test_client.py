"""The department client (``drawledger-client``) in its own process, with its own key
folder, against real uvicorn on a real port: keygen, the authority registering the key
from offline-signed files, inspection complete, result record and publish, receipts
verified and re-verified offline, a lost reply retried, the todo list, then the export and
the audit. Also the traps a department can fall into before anything travels."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from ledger import Ledger, Parties, build_demo
from tests.conftest import pg_db_url
from tests.helpers import wait_until_up
from tests.test_import_ledger import rows, write_csv, write_xlsx
from tests.test_results import DEPT, NOW, PLAN, _extra_draw
from verifier import canonical, loads_canonical

ROOT = Path(__file__).resolve().parent.parent
SH = timezone(timedelta(hours=8))


def client(*args: str, cwd: Path, env: dict[str, str] | None = None
           ) -> subprocess.CompletedProcess[str]:
    """``drawledger-client ARGS`` in its own process (``python -m client``)."""
    return subprocess.run([sys.executable, "-m", "client", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_log(root: Path, db: str) -> tuple[Parties, dict[str, Any]]:
    """The demo year and a 2026 draw whose staffed targets nobody has inspected yet."""
    parties = Parties(root / "parties")
    ledger = Ledger(db)
    try:
        build_demo(ledger, parties, targets=400, inspectors=60, now=lambda: NOW)
        extra = _extra_draw(ledger, parties)
        (root / "trust.json").write_bytes(canonical(ledger.trust().to_json()))
    finally:
        ledger.close()
    return parties, extra


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str, Path, Parties, dict[str, Any]]]:
    yield from _serve(tmp_path, str(tmp_path / "db.sqlite"))


def _serve(root: Path, db: str) -> Iterator[tuple[str, str, Path, Parties, dict[str, Any]]]:
    parties, extra = build_log(root, db)
    port = _free_port()
    log = root / "server.log"
    with log.open("wb") as out:
        # The server gets the log's key store and nothing else.
        proc = subprocess.Popen([sys.executable, "-m", "api", "--db", db, "--keys",
                                 str(parties.store("log")), "--port", str(port)],
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, proc, log)
        yield url, db, root, parties, extra
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _entries(url: str) -> int:
    with urllib.request.urlopen(url + "/healthz", timeout=10) as r:
        return int(json.loads(r.read())["entries"])


def _write(path: Path, obj: Any) -> Path:
    path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    return path


def department_flow(url: str, db: str, root: Path, parties: Parties,
                    extra: dict[str, Any]) -> None:
    """The whole department flow through the client, as the acceptance test runs it."""
    dept_home = root / "department"  # the department's machine: its own folder, own key
    dept_home.mkdir()
    office = root / "office"  # the authority's office, signing offline
    office.mkdir()
    trust = str(root / "trust.json")
    # 1. keygen: a key store of one key, 0600; the vkey goes to the authority.
    made = client("keygen", "--name", "zc-scjgj-client", "--out", "keys", cwd=dept_home)
    assert made.returncode == 0, made.stderr
    vkey = made.stdout.strip().splitlines()[-1]
    skey = dept_home / "keys" / "zc-scjgj-client.skey"
    assert stat.S_IMODE(skey.stat().st_mode) == 0o600
    assert vkey.startswith("zc-scjgj-client+")
    # 2. the authority signs the registration offline, from the vkey alone, and submits it.
    body = _write(office / "register.json", {"vkey": vkey, "dept": DEPT})
    signed = client("sign", "register-key", str(body), "--key", str(parties.store("authority")),
                    cwd=office)
    assert signed.returncode == 0, signed.stderr
    statement = office / "register.statement.json"
    sent = client("submit", str(statement), "--server", url, "--trust", trust, cwd=office)
    assert sent.returncode == 0, sent.stderr
    assert "回执已核验 / receipt verified" in sent.stdout
    # 3. the department: inspection complete, result record, result publish.
    (uscc, team), *rest = extra["staffed"]
    today = datetime.now(SH).date().isoformat()
    inspection = f"{PLAN}/X1/{uscc}"
    bodies = {
        "inspection-complete": {"dept": DEPT, "uscc": uscc, "plan_id": PLAN, "batch_id": "X1",
                                "ended_on": today, "inspectors": list(team)},
        "result-record": {"dept": DEPT, "inspection_id": inspection, "outcome": "no_problem",
                          "findings": "现场检查未发现问题。"},
        "result-publish": {"dept": DEPT, "inspection_id": inspection,
                           "url": "https://sd.gsxt.gov.cn/r/1"},
    }
    (dept_home / "record.txt").write_text("抽查结果：未发现问题", encoding="utf-8")
    files = []
    for kind, body_obj in bodies.items():
        extra_args = ["--record", "record.txt"] if kind == "result-publish" else []
        result = client("sign", kind, str(_write(dept_home / f"{kind}.json", body_obj)),
                        "--key", "keys", *extra_args, cwd=dept_home)
        assert result.returncode == 0, result.stderr
        files.append(dept_home / f"{kind}.statement.json")
    before = _entries(url)
    sent = client("submit", *map(str, files), "--server", url, "--trust", trust,
                  cwd=dept_home)
    assert sent.returncode == 0, sent.stderr + sent.stdout
    assert _entries(url) == before + 3
    assert sent.stdout.count("回执已核验 / receipt verified") == 3
    # The inspection's receipt names the 3-working-day deadline from the calendar.
    assert "结果录入期限（3 个工作日）" in sent.stdout
    receipts = [f.with_name(f.name + ".receipt.json") for f in files]
    kept = [r.read_bytes() for r in receipts]
    assert all(loads_canonical(k)["format"] == "drawledger/receipt/v1" for k in kept)
    # 4. verify-receipt, without the server.
    for receipt in receipts:
        checked = client("verify-receipt", str(receipt), "--trust", trust, cwd=dept_home)
        assert checked.returncode == 0, checked.stderr
    # 5. a lost reply: the same file again gets the original receipt, nothing written.
    again = client("submit", str(files[0]), "--server", url, "--trust", trust, cwd=dept_home)
    assert again.returncode == 0, again.stderr
    assert "原回执 / a retry" in again.stdout
    assert receipts[0].read_bytes() == kept[0]
    assert _entries(url) == before + 3
    # 5b. a registry file signed offline as one batch: the head and a member per row.
    write_xlsx(dept_home / "new-targets.xlsx", rows(5, seed=13))
    batch = client("sign", "registry", "targets", "new-targets.xlsx", "--dept", DEPT,
                   "--key", "keys", cwd=dept_home)
    assert batch.returncode == 0, batch.stderr
    sent = client("submit", "new-targets.xlsx.statement.json", "--server", url, "--trust",
                  trust, cwd=dept_home)
    assert sent.returncode == 0, sent.stderr + sent.stdout
    assert _entries(url) == before + 3 + 6
    assert "回执已核验 / receipt verified" in sent.stdout
    # 6. todo: the other staffed targets of the batch are still to inspect, this one done.
    todo = client("todo", "--server", url, "--dept", DEPT, "--json", cwd=dept_home)
    assert todo.returncode == 0, todo.stderr
    listed = json.loads(todo.stdout)
    assert listed["format"] == "drawledger/todo/v1"
    by_id = {i["inspection_id"]: i for i in listed["items"]}
    assert inspection not in by_id and listed["counts"]["done"] >= 1
    for other, other_team in rest:
        item = by_id[f"{PLAN}/X1/{other}"]
        assert item["status"] == "to_inspect" and item["team"] == list(other_team)
        assert item["outcome_by"] == "2026-12-31"
    shown = client("todo", "--server", url, "--dept", DEPT, "--all", cwd=dept_home)
    assert shown.returncode == 0 and "待检查 / to_inspect" in shown.stdout
    assert "已公示 / done" in shown.stdout
    # 7. export and audit: clean. The operator's key folder holds the log key only.
    ledger = Ledger(db, create=False)
    try:
        ledger.checkpoint(parties.load("log"), parties.witness_tools())
    finally:
        ledger.close()
    out = root / "export"
    exported = subprocess.run([sys.executable, "-m", "ledger._cli", "--db", db, "--keys",
                               str(parties.store("log")), "export", str(out)], cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
    assert exported.returncode == 0, exported.stderr
    audited = subprocess.run([sys.executable, "-m", "verifier", "audit", str(out), "--trust",
                              trust], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert audited.returncode == 0, audited.stdout + audited.stderr
    assert sorted(p.name for p in parties.store("log").iterdir()
                  if p.name.endswith(".skey")) == ["log.skey"]
    assert not any(p.name.startswith("dept-") or p.name.startswith("witness-")
                   for p in parties.store("log").rglob("*"))


def test_department_flow_through_uvicorn(served: tuple[str, str, Path, Parties,
                                                       dict[str, Any]]) -> None:
    department_flow(*served)


@pytest.mark.postgres
def test_department_flow_through_uvicorn_on_postgresql(tmp_path: Path, pg_schema: str
                                                       ) -> None:
    for args in _serve(tmp_path, pg_db_url(pg_schema)):
        department_flow(*args)


def test_keygen_refuses_a_second_key_in_one_store(tmp_path: Path) -> None:
    """A key store holds one key: a second keygen there writes nothing."""
    assert client("keygen", "--name", "a", "--out", "k", cwd=tmp_path).returncode == 0
    before = sorted(p.name for p in (tmp_path / "k").iterdir())
    again = client("keygen", "--name", "b", "--out", "k", cwd=tmp_path)
    assert again.returncode == 1 and "exactly one" in again.stderr
    assert sorted(p.name for p in (tmp_path / "k").iterdir()) == before


def test_bad_body_is_refused_before_it_travels(tmp_path: Path) -> None:
    """An outcome outside the code list and a missing field are named by the offline
    check; no statement file is written."""
    assert client("keygen", "--name", "d", "--out", "k", cwd=tmp_path).returncode == 0
    body = _write(tmp_path / "r.json", {"dept": DEPT, "inspection_id": "P/B/U",
                                        "outcome": "fine", "findings": "x"})
    refused = client("sign", "result-record", str(body), "--key", "k", cwd=tmp_path)
    assert refused.returncode == 1 and "body.outcome" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not (tmp_path / "r.statement.json").exists()
    _write(body, {"dept": DEPT, "inspection_id": "P/B/U", "outcome": "no_problem"})
    refused = client("sign", "result-record", str(body), "--key", "k", cwd=tmp_path)
    assert refused.returncode == 1 and "findings" in refused.stderr
    assert not (tmp_path / "r.statement.json").exists()


def test_registry_file_with_a_bad_row_is_not_signed(tmp_path: Path) -> None:
    """The same all-or-nothing row checks as drawledger import, before anything travels:
    a bad risk grade is named by row and column, and no batch file is written."""
    assert client("keygen", "--name", "d", "--out", "k", cwd=tmp_path).returncode == 0
    data = rows(4)
    data[2][5] = "E"
    write_csv(tmp_path / "t.csv", data)
    refused = client("sign", "registry", "targets", "t.csv", "--dept", DEPT, "--key", "k",
                     cwd=tmp_path)
    assert refused.returncode == 1, refused.stderr
    assert "第 4 行 [风险等级]" in refused.stderr and "nothing signed" in refused.stderr
    assert not (tmp_path / "t.csv.statement.json").exists()


def test_exposed_key_file_is_refused_for_signing(tmp_path: Path) -> None:
    """A key others can read is not used: the statement is not signed."""
    assert client("keygen", "--name", "d", "--out", "k", cwd=tmp_path).returncode == 0
    (tmp_path / "k" / "d.skey").chmod(0o644)
    body = _write(tmp_path / "r.json", {"dept": DEPT, "inspection_id": "P/B/U",
                                        "outcome": "no_problem", "findings": "x"})
    refused = client("sign", "result-record", str(body), "--key", "k", cwd=tmp_path)
    assert refused.returncode == 1 and "chmod 600" in refused.stderr
    assert not (tmp_path / "r.statement.json").exists()


def test_forged_receipt_fails_verify_receipt(served: tuple[str, str, Path, Parties,
                                                           dict[str, Any]]) -> None:
    """A receipt whose entry was changed after the log signed its promise does not verify
    (exit 2); without --trust a submission's receipt is said to be unverified."""
    url, _, root, parties, _ = served
    body = _write(root / "dept.json", {"code": "ZC-NEW", "name": "新成员单位"})
    assert client("sign", "register-department", str(body), "--key",
                  str(parties.store("authority")), cwd=root).returncode == 0
    sent = client("submit", str(root / "dept.statement.json"), "--server", url, cwd=root)
    assert sent.returncode == 0, sent.stderr
    assert "回执未核验" in sent.stdout and "NOT verified" in sent.stdout
    receipt_path = root / "dept.statement.json.receipt.json"
    trust = str(root / "trust.json")
    assert client("verify-receipt", str(receipt_path), "--trust", trust,
                  cwd=root).returncode == 0
    receipt = loads_canonical(receipt_path.read_bytes())
    receipt["entry"] = receipt["entry"].replace("新成员单位", "旧成员单位")
    forged = root / "forged.json"
    forged.write_bytes(canonical(receipt))
    checked = client("verify-receipt", str(forged), "--trust", trust, cwd=root)
    assert checked.returncode == 2 and "does not verify" in checked.stderr


def test_submit_with_no_server_says_retry(tmp_path: Path) -> None:
    """No answer (nothing listens there): exit 69 and the advice to submit again."""
    statement = _write(tmp_path / "s.json", {"stream": "x"})
    sent = client("submit", str(statement), "--server", f"http://127.0.0.1:{_free_port()}",
                  cwd=tmp_path)
    assert sent.returncode == 69 and "submit the same file again" in sent.stderr


def test_each_action_help_lists_its_required_fields() -> None:
    """Per-action help, Chinese first: the required fields and the outcome codes."""
    shown = client("sign", "result-record", "--help", cwd=ROOT)
    assert shown.returncode == 0
    assert "必填字段 / required body fields: inspection_id, dept, outcome, findings" \
        in shown.stdout
    assert "no_problem  未发现问题 / no problem found" in shown.stdout
    todo = client("todo", "--help", cwd=ROOT)
    assert "必填 / required" in todo.stdout and "--dept" in todo.stdout
