"""Key custody end to end (issue 13 item 1): every party keeps its own key in its own
folder and acts through files and command-line processes only; the operator's store holds
the log key and nothing else, and the API serves with that store alone.

No private function is called: the authority signs the genesis, the department's
registration and its key offline, the department signs its statements offline, and the
operator appends them with ``drawledger submit``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from verifier import DEFAULT_POLICY, NoteSigner, dumps, genesis_body, sign_statement

ROOT = Path(__file__).resolve().parent.parent
SH = timezone(timedelta(hours=8))
ORIGIN = "market.example.gov.cn/ssj"
DEPT = "ZC-SCJGJ"
USCC = "91370321MAU34K4U1H"


def run(*args: str, ok: bool = True, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)
    if ok:
        assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def drawledger(db: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    return run("-m", "ledger._cli", "--db", str(db), *args, ok=ok)


def client(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    return run("-m", "client", *args, ok=ok)


def write_json(path: Path, obj: object) -> Path:
    path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    return path


def secrets_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*.skey"))


def test_each_party_keeps_its_own_key_through_the_whole_lifecycle(tmp_path: Path) -> None:
    ops, bureau, dept, witness = (tmp_path / n for n in ("ops", "bureau", "dept", "witness"))
    db = ops / "db.sqlite"
    # Each party makes its key on its own machine and hands on only the vkey.
    log_vkey = drawledger(db, "log-keygen", "--origin", ORIGIN, "--out",
                          str(ops / "log")).stdout.split()[0]
    authority_vkey = client("keygen", "--name", "zichuan-office-2026", "--out",
                            str(bureau / "key")).stdout.split()[-1]
    witness_vkey = drawledger(db, "witness", "keygen", "--name", "zichuan-audit-bureau",
                              "--out", str(witness)).stdout.split()[0]
    dept_vkey = client("keygen", "--name", "zc-scjgj-2026", "--out",
                       str(dept / "key")).stdout.split()[-1]
    assert not db.exists()  # key generation touches no log

    # The authority signs the genesis offline; the operator creates the log from it.
    body = genesis_body(ORIGIN, log_vkey, [authority_vkey], [witness_vkey], 1, DEFAULT_POLICY)
    signed = bureau / "genesis.statement.json"
    client("sign", "genesis", str(write_json(bureau / "genesis.json", body)), "--key",
           str(bureau / "key"), "--out", str(signed))
    drawledger(db, "--keys", str(ops / "log"), "init", "--genesis", str(signed))

    # The authority registers the department and its key, offline; the operator submits.
    reg = [write_json(bureau / "dept.json", {"code": DEPT, "name": "区市场监管局"}),
           write_json(bureau / "key.json", {"vkey": dept_vkey, "dept": DEPT})]
    for kind, path in zip(("register-department", "register-key"), reg, strict=True):
        client("sign", kind, str(path), "--key", str(bureau / "key"))
    files = [str(p.with_name(p.stem + ".statement.json")) for p in reg]
    out = drawledger(db, "--keys", str(ops / "log"), "submit", *files).stdout
    assert "written as entry 1" in out and "written as entry 2" in out

    # The department signs a targeted inspection's lead, end, result and publication.
    today = datetime.now(SH).date().isoformat()
    iid = f"targeted/{DEPT}/C-1/{USCC}"
    (dept / "lead.txt").write_text("举报：无照经营", encoding="utf-8")
    (dept / "record.txt").write_text("检查结果：未发现问题", encoding="utf-8")
    steps = [
        ("lead-receive", {"dept": DEPT, "case_id": "C-1", "source": "complaint",
                          "received_on": today}, ["--details", str(dept / "lead.txt")]),
        ("inspection-complete", {"dept": DEPT, "uscc": USCC, "case_id": "C-1",
                                 "ended_on": today,
                                 "inspectors": ["37030219001", "37030219002"]}, []),
        ("result-record", {"dept": DEPT, "inspection_id": iid, "outcome": "no_problem",
                           "findings": "现场检查未发现问题。"}, []),
        ("result-publish", {"dept": DEPT, "inspection_id": iid,
                            "url": "https://sd.gsxt.gov.cn/x"},
         ["--record", str(dept / "record.txt")]),
    ]
    statements = []
    for kind, step_body, extra in steps:
        path = write_json(dept / f"{kind}.json", step_body)
        client("sign", kind, str(path), "--key", str(dept / "key"), *extra)
        statements.append(str(path.with_name(path.stem + ".statement.json")))
    out = drawledger(db, "--keys", str(ops / "log"), "submit", *statements).stdout
    assert "written as entry 6" in out

    # The authority revokes the key; a statement the department signs afterwards is refused
    # by rule, and nothing is written.
    key_name = dept_vkey.split("+")[0]
    revoke = write_json(bureau / "revoke.json", {"name": key_name, "reason": "lost"})
    client("sign", "revoke-key", str(revoke), "--key", str(bureau / "key"))
    drawledger(db, "--keys", str(ops / "log"), "submit",
               str(revoke.with_name("revoke.statement.json")))
    late = write_json(dept / "late.json", {"dept": DEPT, "case_id": "C-2",
                                           "source": "referral", "received_on": today})
    client("sign", "lead-receive", str(late), "--key", str(dept / "key"), "--details",
           str(dept / "lead.txt"))
    refused = drawledger(db, "--keys", str(ops / "log"), "submit",
                         str(late.with_name("late.statement.json")), ok=False)
    assert refused.returncode == 1 and "V1.key" in refused.stderr
    assert "late.statement.json" in refused.stderr and "nothing written" in refused.stderr

    # The log signs a checkpoint; the witness cosigns it with its own key and state.
    drawledger(db, "--keys", str(ops / "log"), "checkpoint")
    drawledger(db, "witness", "cosign", "--key", str(witness / "zichuan-audit-bureau.skey"),
               "--state", str(witness / "state.json"))
    drawledger(db, "--keys", str(ops / "log"), "export", str(tmp_path / "export"))
    audit = run("-m", "verifier", "audit", str(tmp_path / "export"), "--json", ok=False)
    assert audit.returncode == 0, audit.stdout

    # Custody: each folder holds its own party's secret and no one else's.
    assert secrets_under(ops) == ["log/log.skey"]
    assert secrets_under(bureau) == ["key/zichuan-office-2026.skey"]
    assert secrets_under(dept) == ["key/zc-scjgj-2026.skey"]
    assert secrets_under(witness) == ["zichuan-audit-bureau.skey"]
    for path in tmp_path.rglob("*.skey"):
        assert path.stat().st_mode & 0o777 == 0o600


def test_trial_init_puts_each_party_in_its_own_store(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    drawledger(db, "init", "--origin", ORIGIN)
    parties = tmp_path / "parties"
    assert sorted(p.name for p in parties.iterdir()) == [
        "authority", "log", "witness-audit", "witness-supervision"]
    for store in parties.iterdir():
        assert [p.name for p in store.iterdir()] == [f"{store.name}.skey"]
    # A second trial over the same stores is refused before any database is created.
    again = tmp_path / "second.sqlite"
    refused = drawledger(again, "--parties", str(parties), "init", "--origin", ORIGIN, ok=False)
    assert refused.returncode == 1 and "already holds a key" in refused.stderr
    assert not again.exists()
    drawledger(db, "checkpoint")  # the trial's local witnesses cosign from their folders
    assert (parties / "witness-audit" / "witness-audit.state.json").exists()
    assert sorted(p.name for p in (parties / "log").iterdir()) == ["log.skey"]


def test_genesis_naming_another_log_key_is_refused(tmp_path: Path) -> None:
    """An operator handed a genesis made for another log key cannot start a log with it:
    its checkpoints would never verify under the key the genesis pins."""
    db = tmp_path / "ops" / "db.sqlite"
    drawledger(db, "log-keygen", "--origin", ORIGIN, "--out", str(tmp_path / "ops" / "log"))
    authority, elsewhere = NoteSigner.generate("office"), NoteSigner.generate(ORIGIN)
    body = genesis_body(ORIGIN, elsewhere.verifier.vkey, [authority.verifier.vkey], [], 0)
    path = tmp_path / "genesis.statement.json"
    path.write_bytes(dumps(sign_statement(authority, "log.genesis", "log", "authority",
                                          body).to_json()))
    refused = drawledger(db, "--keys", str(tmp_path / "ops" / "log"), "init", "--genesis",
                         str(path), ok=False)
    assert refused.returncode == 1 and "body.log_key" in refused.stderr
    assert drawledger(db, "draws", ok=False).returncode == 66  # no log was created


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_api_serves_with_a_store_holding_only_the_log_key(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    drawledger(db, "init", "--origin", ORIGIN)
    store = tmp_path / "server-keys"
    store.mkdir(mode=0o700)
    os.link(tmp_path / "parties" / "log" / "log.skey", store / "log.skey")
    assert sorted(p.name for p in store.iterdir()) == ["log.skey"]
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "api", "--db", str(db), "--keys",
                               str(store), "--port", str(port)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert server.poll() is None, server.communicate()[1]
                assert time.monotonic() < deadline, "the API did not start"
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert sorted(p.name for p in store.iterdir()) == ["log.skey"]  # nothing written there


@pytest.mark.parametrize("extra", ["authority.skey", "dept-ZC-SCJGJ.skey"])
def test_api_refuses_a_key_store_with_another_partys_secret(tmp_path: Path, extra: str) -> None:
    """The operator's server must not hold anyone else's key: a store with two secrets is
    refused before serving, naming the store."""
    db = tmp_path / "db.sqlite"
    drawledger(db, "init", "--origin", ORIGIN)
    store = tmp_path / "parties" / "log"
    os.link(tmp_path / "parties" / "authority" / "authority.skey", store / extra)
    proc = run("-m", "api", "--db", str(db), "--keys", str(store), "--port",
               str(_free_port()), ok=False)
    assert proc.returncode != 0 and "exactly one" in proc.stderr and str(store) in proc.stderr


@pytest.mark.parametrize(("make", "message"), [
    ("missing", "does not exist"),
    ("mode-0644", "mode 0644 lets group or others access it"),
    ("garbage", "is not a secret key"),
    ("vkey", "holds a verifier key (vkey), not a secret key"),
    ("witness", "holds a witness cosignature key (sigtype 4) where a statement/note key"),
])
def test_a_wrong_key_file_is_refused_by_name(tmp_path: Path, make: str, message: str) -> None:
    """The operator's command line names the key file and what is wrong with it, exits 1
    and writes nothing, whatever is at --key."""
    db = tmp_path / "db.sqlite"
    drawledger(db, "init", "--origin", ORIGIN)
    key = tmp_path / "k" / "dept.skey"
    if make == "witness":
        drawledger(db, "witness", "keygen", "--name", "dept", "--out", str(key.parent))
    elif make != "missing":
        key.parent.mkdir()
        signer = NoteSigner.generate("zc-scjgj-2026")
        key.write_text({"vkey": signer.verifier.vkey, "garbage": "hello"}.get(make, signer.skey))
        key.chmod(0o644 if make == "mode-0644" else 0o600)
    size = (tmp_path / "db.sqlite").stat().st_size
    proc = drawledger(db, "result", "record", "--department", DEPT, "--key", str(key),
                      "--inspection", "x/y/z", "--outcome", "no_problem", "--findings", "f",
                      ok=False)
    assert proc.returncode == 1 and message in proc.stderr and str(key) in proc.stderr
    assert (tmp_path / "db.sqlite").stat().st_size == size
