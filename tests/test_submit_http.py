"""POST /v1/statements: signed statements and batches over HTTP, answered with receipts.

Every refusal of SPEC 18.4 is asserted three ways: its status, the problem body's
``field`` or ``rule``, and that the log did not grow. The server holds only the log key.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api import create_app
from api._submit import MAX_BATCH_MEMBERS, MAX_REQUEST_BYTES
from ledger import Ledger, Parties, build_demo, init_log
from ledger._demo import _uscc
from tests.conftest import pg_db_url
from tests.test_results import DEPT, NOW, PLAN, _extra_draw
from verifier import KeyFileError, NoteSigner, save_key, sign_batch, sign_statement
from verifier._receipt import parse_promise, verify_receipt
from verifier._trust import Trust


class Log:
    """The test log: a client on a server holding only the log key, the parties' keys
    (the departments' and the authority's: they sign here, as on their own machines)."""

    def __init__(self, client: TestClient, keys: Parties, trust: Trust,
                 staffed: list[tuple[str, tuple[str, ...]]]) -> None:
        self.client, self.keys, self.trust, self.staffed = client, keys, trust, staffed

    def size(self) -> int:
        n: int = self.client.get("/healthz").json()["entries"]
        return n

    def post(self, obj: Any) -> Any:
        return self.client.post("/v1/statements", content=json.dumps(obj, ensure_ascii=False))


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Log]:
    root = tmp_path_factory.mktemp("submit")
    keys = Parties(root / "parties")
    ledger = Ledger(str(root / "db.sqlite"))
    try:
        build_demo(ledger, keys, targets=200, inspectors=40, now=lambda: NOW)
        extra = _extra_draw(ledger, keys)
        trust = ledger.trust()
    finally:
        ledger.close()
    assert [p.name for p in (root / "parties" / "log").iterdir()] == ["log.skey"]
    with TestClient(create_app(str(root / "db.sqlite"), root / "parties" / "log")) as c:
        yield Log(c, keys, trust, extra["staffed"])


def _now() -> datetime:
    return datetime.now(UTC)


def _completion(log: Log, i: int, signer: NoteSigner | None = None, **changes: Any) -> Any:
    uscc, team = log.staffed[i]
    body = {"inspection_id": f"{PLAN}/X1/{uscc}", "kind": "random", "dept": DEPT,
            "uscc": uscc, "plan_id": PLAN, "batch_id": "X1",
            "ended_on": _now().astimezone().date().isoformat(), "inspectors": list(team)}
    body.update(changes)
    return sign_statement(signer or log.keys.load(f"dept-{DEPT}"), "inspection.completed",
                          f"inspection/{body['inspection_id']}", DEPT, body, now=_now())


def _refused(log: Log, obj: Any, status: int, name: str, *, field: str | None = None,
             rule: str | None = None, raw: bytes | None = None) -> dict[str, Any]:
    """Post ``obj`` (or ``raw`` bytes) and assert the refusal and an unchanged log."""
    before = log.size()
    r = (log.client.post("/v1/statements", content=raw) if raw is not None
         else log.post(obj))
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert body["type"] == f"/problems/{name}" and body["status"] == status
    assert body["detail"] and body["detail_en"] and body["title"] and body["title_en"]
    if field is not None:
        assert body["field"] == field, body
    if rule is not None:
        assert body["rule"] == rule, body
    assert log.size() == before
    return body


def test_inspection_completed_gets_a_receipt_that_verifies_offline(log: Log) -> None:
    before = log.size()
    r = log.post(_completion(log, 0).to_json())
    assert r.status_code == 201, r.text
    receipt = verify_receipt(r.content, log.trust)
    assert receipt.promise.first == receipt.promise.last == before == receipt.entry.seq
    assert receipt.entry.type == "inspection.completed" and log.size() == before + 1
    due = receipt.due
    assert due is not None and due["record_days"] == 3 and due["publish_days"] == 20
    # The receipt's entry is the log's: the same bytes the API serves.
    served = log.client.get("/v1/entries", params={"start": before, "end": before + 1})
    assert served.content == receipt.entry.raw + b"\n"


def test_identical_retry_gets_the_byte_identical_receipt(log: Log) -> None:
    """A reply lost on the way: the department sends the same statement again and gets
    the original receipt (200), and nothing is written twice."""
    statement = _completion(log, 1).to_json()
    first = log.post(statement)
    assert first.status_code == 201
    size = log.size()
    again = log.post(statement)
    assert again.status_code == 200 and again.content == first.content
    assert log.size() == size


def test_result_record_and_publish_over_http(log: Log) -> None:
    signer = log.keys.load(f"dept-{DEPT}")
    uscc, _ = log.staffed[2]
    assert log.post(_completion(log, 2).to_json()).status_code == 201
    iid = f"{PLAN}/X1/{uscc}"
    record = sign_statement(signer, "result.recorded", f"inspection/{iid}", DEPT,
                            {"inspection_id": iid, "dept": DEPT, "outcome": "no_problem",
                             "findings": "未发现问题", "attachments": []}, now=_now())
    r = log.post(record.to_json())
    assert r.status_code == 201 and verify_receipt(r.content, log.trust).due is None
    publish = sign_statement(signer, "result.published", f"inspection/{iid}", DEPT,
                             {"inspection_id": iid, "dept": DEPT,
                              "record_sha256": hashlib.sha256(b"x").hexdigest(),
                              "url": "https://sd.gsxt.gov.cn/r"}, now=_now())
    assert log.post(publish.to_json()).status_code == 201


def _target_rows(n: int, seed: int) -> list[tuple[str, str, dict[str, Any]]]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        uscc = _uscc(rng)
        rows.append(("target.added", f"target/{uscc}", {
            "uscc": uscc, "dept": DEPT, "registry": f"{DEPT}/F", "name": "淄博测试商贸有限公司",
            "industry": "F5299", "region": "370302", "risk": "B", "status": "存续",
            "unit": "般阳路街道市场监管所"}))
    return rows


def _batch(log: Log, n: int, seed: int) -> Any:
    rows = _target_rows(n, seed)
    digest = hashlib.sha256(json.dumps([r[1] for r in rows]).encode()).hexdigest()
    return sign_batch(log.keys.load(f"dept-{DEPT}"),
                      {"kind": "targets", "dept": DEPT, "file_sha256": digest,
                       "file_name": f"新增名录-{seed}.csv"}, rows, now=_now())


def test_batch_submission_gets_one_receipt_for_all_members(log: Log) -> None:
    batch = _batch(log, 5, 1).to_json()
    before = log.size()
    r = log.post(batch)
    assert r.status_code == 201, r.text
    receipt = verify_receipt(r.content, log.trust)
    assert (receipt.promise.first, receipt.promise.last) == (before, before + 5)
    assert log.size() == before + 6
    again = log.post(batch)
    assert again.status_code == 200 and again.content == r.content and log.size() == before + 6


def test_batch_member_changed_after_signing_is_401_at_the_last_member(log: Log) -> None:
    batch = _batch(log, 3, 2).to_json()
    batch["members"][1]["body"]["name"] = "淄博改名商贸有限公司"
    _refused(log, batch, 401, "bad-signature", field="members[2].sig.value",
             rule="V1.signature")


def test_bad_json_is_400(log: Log) -> None:
    _refused(log, None, 400, "bad-json", field="$", raw=b'{"stream": ')


def test_missing_member_is_422_naming_it(log: Log) -> None:
    statement = _completion(log, 3).to_json()
    del statement["sig"]
    _refused(log, statement, 422, "invalid-statement", field="$")


def test_malformed_ctime_is_422_naming_sig_ctime(log: Log) -> None:
    statement = _completion(log, 3).to_json()
    statement["sig"]["ctime"] = "yesterday"
    _refused(log, statement, 422, "invalid-statement", field="sig.ctime")


def test_batch_member_with_a_float_is_422_naming_the_member(log: Log) -> None:
    batch = _batch(log, 2, 3).to_json()
    batch["members"][1]["body"]["risk"] = 1.5
    body = _refused(log, batch, 422, "invalid-statement", field="members[1].body.risk")
    assert "float" in body["detail_en"]


def test_statement_whose_entry_would_exceed_1_mib_is_413(log: Log) -> None:
    statement = _completion(log, 3, note="长" * 400_000)  # 1.2 MB of UTF-8
    _refused(log, statement.to_json(), 413, "too-large", rule="V1.format")


def test_request_body_over_the_limit_is_413(log: Log) -> None:
    _refused(log, None, 413, "too-large", field="$", raw=b" " * (MAX_REQUEST_BYTES + 1))


def test_batch_over_the_member_limit_is_413(log: Log) -> None:
    members = [{"type": "target.added", "stream": "target/x", "body": {}}] * (
        MAX_BATCH_MEMBERS + 1)
    obj = {"format": "drawledger/batch-submission/v1", "head": {}, "members": members,
           "sig": {}}
    _refused(log, obj, 413, "too-large", field="members")


def test_unknown_key_is_401(log: Log) -> None:
    stranger = NoteSigner.generate(f"{DEPT}-stranger")
    _refused(log, _completion(log, 3, signer=stranger).to_json(), 401, "unknown-key",
             field="sig.key", rule="V1.key")


def test_body_changed_after_signing_is_401(log: Log) -> None:
    statement = _completion(log, 3).to_json()
    statement["body"]["ended_on"] = "2026-01-01"
    _refused(log, statement, 401, "bad-signature", field="sig.value", rule="V1.signature")


def test_revoked_key_is_403(log: Log) -> None:
    """The authority registers a key and revokes it, both over HTTP (signed offline);
    a statement signed with it afterwards is refused."""
    authority = log.keys.load("authority")
    key = NoteSigner.generate(f"{DEPT}-laptop")
    for type_, body in (("key.registered", {"name": key.name, "vkey": key.verifier.vkey,
                                            "dept": DEPT, "role": "department"}),
                        ("key.revoked", {"name": key.name, "reason": "laptop lost"})):
        s = sign_statement(authority, type_, f"key/{key.name}", "authority", body, now=_now())
        assert log.post(s.to_json()).status_code == 201
    _refused(log, _completion(log, 3, signer=key).to_json(), 403, "revoked-key",
             field="sig.key", rule="V1.key")


def test_another_departments_key_is_403(log: Log) -> None:
    other = log.keys.load("dept-ZC-SWJ")
    _refused(log, _completion(log, 3, signer=other).to_json(), 403, "forbidden",
             rule="AUTH.role")


def test_a_department_stating_an_authority_type_is_403(log: Log) -> None:
    signer = log.keys.load(f"dept-{DEPT}")
    s = sign_statement(signer, "department.registered", "dept/ZC-NEW", DEPT,
                       {"code": "ZC-NEW", "name": "新部门"}, now=_now())
    _refused(log, s.to_json(), 403, "forbidden", rule="AUTH.role")


def test_sid_reused_by_another_statement_is_409_with_the_original_seq(log: Log) -> None:
    signer = log.keys.load(f"dept-{DEPT}")
    first = _completion(log, 4)
    r = log.post(first.to_json())
    assert r.status_code == 201
    seq = parse_promise(json.loads(r.content)["promise"].split("\n\n")[0] + "\n").last
    uscc, team = log.staffed[5]
    body = {**first.body, "uscc": uscc, "inspection_id": f"{PLAN}/X1/{uscc}",
            "inspectors": list(team)}
    other = sign_statement(signer, "inspection.completed", f"inspection/{PLAN}/X1/{uscc}",
                           DEPT, body, sid=first.sig["sid"], now=_now())
    body_ = _refused(log, other.to_json(), 409, "sid-reused", field="sig.sid", rule="V1.replay")
    assert body_["seq"] == seq


@pytest.mark.parametrize("shift", [timedelta(minutes=10), -timedelta(days=31)],
                         ids=["ahead", "behind"])
def test_ctime_outside_the_skew_window_is_422(log: Log, shift: timedelta) -> None:
    uscc, team = log.staffed[5]
    body = {"inspection_id": f"{PLAN}/X1/{uscc}", "kind": "random", "dept": DEPT,
            "uscc": uscc, "plan_id": PLAN, "batch_id": "X1", "ended_on": "2026-12-01",
            "inspectors": list(team)}
    s = sign_statement(log.keys.load(f"dept-{DEPT}"), "inspection.completed",
                       f"inspection/{body['inspection_id']}", DEPT, body, now=_now() + shift)
    _refused(log, s.to_json(), 422, "ctime-skew", field="sig.ctime", rule="ctime-skew")


def test_result_for_an_inspection_that_does_not_exist_is_422_lifecycle(log: Log) -> None:
    iid = f"{PLAN}/X1/91370302MA0000000X"
    s = sign_statement(log.keys.load(f"dept-{DEPT}"), "result.recorded", f"inspection/{iid}",
                       DEPT, {"inspection_id": iid, "dept": DEPT, "outcome": "no_problem",
                              "findings": "x", "attachments": []}, now=_now())
    _refused(log, s.to_json(), 422, "rule-failed", rule="AUTH.lifecycle", field="stream")


def test_target_not_drawn_for_the_department_is_422_trace(log: Log) -> None:
    drawn = {u for u, _ in log.staffed}
    never = next(u for u in (_uscc(random.Random(i)) for i in range(100)) if u not in drawn)
    _refused(log, _completion(log, 5, uscc=never, inspection_id=f"{PLAN}/X1/{never}")
             .to_json(), 422, "rule-failed", rule="V14.trace")


def test_without_the_log_key_the_api_is_read_only(tmp_path: Path) -> None:
    ledger = Ledger(str(tmp_path / "db.sqlite"))
    init_log(ledger, Parties(tmp_path / "parties"), "test.example/ssj")
    ledger.close()
    with TestClient(create_app(str(tmp_path / "db.sqlite"))) as c:
        r = c.post("/v1/statements", content=b"{}")
        assert r.status_code == 503 and r.json()["type"] == "/problems/read-only"
        assert c.get("/healthz").json()["entries"] == 1


def test_server_refuses_a_key_store_holding_another_key(tmp_path: Path) -> None:
    """The operator's store must hold the log key alone: a second key is refused."""
    store = tmp_path / "log"
    save_key(store / "log.skey", NoteSigner.generate("test.example/ssj"))
    save_key(store / "dept-X.skey", NoteSigner.generate("X-1"))
    with pytest.raises(KeyFileError):
        create_app(str(tmp_path / "db.sqlite"), store)



# -- end to end: parties apart, on PostgreSQL, real uvicorn on a real port ----------------

_DEPARTMENT = r'''
"""The department's side, in its own process with its own key folder: sign offline, POST,
check every receipt against the pinned trust policy, keep it beside the statement."""
import hashlib, json, sys
from datetime import UTC, datetime
from pathlib import Path

import httpx

from verifier import load_store, load_trust, sign_statement
from verifier._receipt import verify_receipt

server, store, trust_file, work = sys.argv[1], Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
task = json.loads((work / "task.json").read_text(encoding="utf-8"))
key, trust = load_store(store, 1), load_trust(Path(trust_file).read_bytes())
dept, iid = task["dept"], task["inspection_id"]
today = datetime.now(UTC).astimezone().date().isoformat()
steps = [
    ("inspection.completed", {"inspection_id": iid, "kind": "random", "dept": dept,
                              "uscc": task["uscc"], "plan_id": task["plan"],
                              "batch_id": task["batch"], "ended_on": today,
                              "inspectors": task["team"]}),
    ("result.recorded", {"inspection_id": iid, "dept": dept, "outcome": "no_problem",
                         "findings": "现场检查未发现问题", "attachments": []}),
    ("result.published", {"inspection_id": iid, "dept": dept,
                          "record_sha256": hashlib.sha256(b"record").hexdigest(),
                          "url": "https://sd.gsxt.gov.cn/r"}),
]
for i, (type_, body) in enumerate(steps):
    statement = sign_statement(key, type_, f"inspection/{iid}", dept, body)
    path = work / f"{i}.statement.json"
    path.write_text(json.dumps(statement.to_json(), ensure_ascii=False), encoding="utf-8")
    r = httpx.post(f"{server}/v1/statements", content=path.read_bytes(), timeout=60)
    assert r.status_code == 201, r.text
    receipt = verify_receipt(r.content, trust)
    assert receipt.entry.type == type_
    (work / f"{i}.receipt.json").write_bytes(r.content)
print("ok")
'''


@pytest.mark.postgres
def test_department_flow_over_http_on_postgresql(tmp_path: Path, pg_schema: str) -> None:
    """Issue 13 acceptance 1: the department, in its own process with its own key folder,
    completes an inspection, records and publishes its result through real uvicorn on a
    real port over PostgreSQL; the operator's server holds the log key alone; then
    `drawledger export` and `python -m verifier audit` (with the receipts) exit 0."""
    db = pg_db_url(pg_schema)
    parties = Parties(tmp_path / "parties")
    ledger = Ledger(db)
    try:
        build_demo(ledger, parties, targets=120, inspectors=30, now=lambda: NOW)
        extra = _extra_draw(ledger, parties)
        ledger.export(tmp_path / "trust-export")
    finally:
        ledger.close()
    operator = tmp_path / "parties" / "log"
    held = sorted(p.name for p in operator.rglob("*") if p.is_file())
    assert held == ["log.skey"], held  # no department or witness secret on the server
    client = tmp_path / "department"
    shutil.copytree(tmp_path / "parties" / f"dept-{DEPT}", client / "key")
    shutil.rmtree(tmp_path / "parties" / f"dept-{DEPT}")  # it lives with the department only
    uscc, team = extra["staffed"][0]
    (client / "task.json").write_text(json.dumps({
        "dept": DEPT, "inspection_id": f"{PLAN}/X1/{uscc}", "uscc": uscc, "plan": PLAN,
        "batch": "X1", "team": list(team)}), encoding="utf-8")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = Path(__file__).resolve().parent.parent
    server = subprocess.Popen([sys.executable, "-m", "api", "--db", db, "--keys", str(operator),
                               "--port", str(port)], cwd=root, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the API did not start"
            time.sleep(0.2)
        (client / "department.py").write_text(_DEPARTMENT, encoding="utf-8")
        done = subprocess.run([sys.executable, str(client / "department.py"), base,
                               str(client / "key"), str(tmp_path / "trust-export" /
                                                        "trust.json"), str(client)],
                              cwd=root, capture_output=True, text=True, timeout=300,
                              env={**os.environ, "PYTHONPATH": str(root)})
        assert done.returncode == 0, done.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)
    # The operator checkpoints with the log key alone; each witness cosigns from its own.
    cli = [sys.executable, "-m", "ledger._cli", "--db", db]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, cwd=root, capture_output=True, text=True, timeout=300)

    step = run(*cli, "--keys", str(operator), "checkpoint")
    assert step.returncode == 0, step.stderr
    for name in ("witness-audit", "witness-supervision"):
        store = tmp_path / "parties" / name
        step = run(*cli, "witness", "cosign", "--key", str(store / f"{name}.skey"),
                   "--state", str(store / f"{name}.state.json"))
        assert step.returncode == 0, step.stderr
    step = run(*cli, "export", str(tmp_path / "out"))
    assert step.returncode == 0, step.stderr
    receipts = [a for i in range(3) for a in ("--receipt", str(client / f"{i}.receipt.json"))]
    step = run(sys.executable, "-m", "verifier", "audit", str(tmp_path / "out"),
               "--trust", str(tmp_path / "trust-export" / "trust.json"), *receipts)
    assert step.returncode == 0, step.stdout + step.stderr
    types = [json.loads(line)["type"] for line in
             (tmp_path / "out" / "entries.jsonl").read_bytes().splitlines()[-3:]]
    assert types == ["inspection.completed", "result.recorded", "result.published"]
