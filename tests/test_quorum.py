"""Quorum before publication (issue 14 item 2, SPEC.md "Publication"): a checkpoint the
witness quorum has not cosigned is never served, so a log cannot show one tree to the
public and another to an auditor without the witnesses seeing both."""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api import create_app
from ledger import InputError, Ledger, Parties, build_demo, sign_statement
from ledger._checkpointer import Checkpointer, load_witnesses
from ledger._cli import main as cli_main
from verifier import (
    NoteSigner,
    cosign,
    parse_note,
    verify_cosignatures,
)
from verifier._note import COSIGNATURE_TYPE
from verifier._statements import DEFAULT_POLICY, genesis_body

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[Ledger, Parties, str]]:
    keys = Parties(tmp_path / "parties")
    db = str(tmp_path / "db.sqlite")
    ledger = Ledger(db)
    build_demo(ledger, keys, targets=6, inspectors=2)
    yield ledger, keys, db
    ledger.close()


def _grow(ledger: Ledger, keys: Parties) -> None:
    """One more entry, so that a new checkpoint can be signed."""
    body = {"uscc": "91370321MAU34K4U1H", "dept": "ZC-SCJGJ", "name": "淄博测试商贸有限公司",
            "registry": "ZC-SCJGJ/F", "industry": "F5299", "region": "370302", "risk": "B",
            "status": "存续", "unit": "昆仑镇市场监管所"}
    ledger.submit([sign_statement(keys.load("dept-ZC-SCJGJ"), "target.added",
                                  "target/91370321MAU34K4U1H", "ZC-SCJGJ", body)])


def test_checkpoint_without_quorum_is_not_published(demo: tuple[Ledger, Parties, str]) -> None:
    """The log key alone signs a newer tree: it is stored but not served by the API, its
    proofs or bundles; the last quorum-cosigned one stays the published one."""
    ledger, keys, db = demo
    published = ledger.published_checkpoint()
    assert published is not None and published[0] == ledger.size
    _grow(ledger, keys)
    note = ledger.checkpoint(keys.load("log"))  # no witness
    assert note is not None and ledger.chain.latest_checkpoint()[0] == ledger.size  # type: ignore[index]
    assert ledger.published_checkpoint() == published
    with TestClient(create_app(db)) as client:
        served = client.get("/v1/checkpoint")
        assert served.status_code == 200 and served.text == published[2]
        assert client.get(f"/v1/proof/{ledger.size - 1}").status_code == 404
        assert client.get(f"/v1/proof/0?size={ledger.size}").status_code == 404
        assert client.get(f"/v1/proof/0?size={published[0]}").status_code == 200


def test_forged_cosignature_does_not_publish(demo: tuple[Ledger, Parties, str]) -> None:
    """A cosignature line by a key that is not a pinned witness (an operator's own key
    named like one) does not count toward the quorum."""
    ledger, keys, _ = demo
    published = ledger.published_checkpoint()
    _grow(ledger, keys)
    note = ledger.checkpoint(keys.load("log"))
    assert note is not None
    name = ledger.trust().witnesses[0].name
    impostor = NoteSigner.generate(name, COSIGNATURE_TYPE)
    ledger.chain.add_cosignature(ledger.size, cosign(parse_note(note).text, impostor, 1))
    assert ledger.published_checkpoint() == published


def test_offline_witness_cosign_publishes(demo: tuple[Ledger, Parties, str]) -> None:
    """``drawledger witness cosign`` (the offline tool) adds the line later; with it the
    quorum (1 of 2 in the demo) is met and the checkpoint is published, the line on it."""
    ledger, keys, _ = demo
    _grow(ledger, keys)
    ledger.checkpoint(keys.load("log"))
    line = ledger.witness_latest(keys.witness_tools()[0])
    published = ledger.published_checkpoint()
    assert published is not None and published[0] == ledger.size
    assert line in published[2]


# -- the checkpointer against witnesses on real ports ------------------------------------
@dataclass
class _Witness:
    """A running ``python -m witness serve`` (its own key folder and state) on a real
    port."""

    proc: subprocess.Popen[str]
    url: str

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)


def _witness(root: Path, name: str, log_vkey: str) -> tuple[_Witness, str]:
    """The audit body's three commands: keygen in its own folder, a log policy, serve."""
    keygen = subprocess.run([sys.executable, "-m", "witness", "keygen", "--name", name,
                             "--out", str(root / "key")], capture_output=True, text=True,
                            cwd=ROOT, check=True, timeout=60)
    (key,) = (root / "key").glob("*.skey")
    (root / "logs.policy").write_text(f"log {log_vkey}\n", encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "witness", "serve", "--key", str(key),
                             "--state", str(root / "state"), "--log-policy",
                             str(root / "logs.policy"), "--listen", "127.0.0.1:0"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "listening on http://127.0.0.1:" in line, line
    port = int(line.rsplit(":", 1)[1].split()[0])
    return _Witness(proc, f"http://127.0.0.1:{port}"), keygen.stdout.strip()


def _grow_by_authority(ledger: Ledger, authority: NoteSigner, tag: str, n: int = 2) -> None:
    ledger.submit([sign_statement(authority, "department.registered", f"dept/ZC-T{tag}{i}",
                                  "authority", {"code": f"ZC-T{tag}{i}", "name": f"测试局{i}"})
                   for i in range(n)])


@pytest.fixture
def three(tmp_path: Path) -> Iterator[tuple[Ledger, NoteSigner, list[_Witness], Path, str]]:
    """A log whose genesis pins three witnesses with quorum 2, the three witnesses
    running, and the witnesses.json naming them."""
    log_key = NoteSigner.generate("quorum.test/log")
    authority = NoteSigner.generate("quorum-test-authority")
    started = [_witness(tmp_path / f"w{i}", f"quorum-witness-{i}", log_key.verifier.vkey)
               for i in range(3)]
    witnesses = [w for w, _ in started]
    vkeys = [v for _, v in started]
    db = str(tmp_path / "db.sqlite")
    ledger = Ledger(db)
    body = genesis_body("quorum.test/log", log_key.verifier.vkey, [authority.verifier.vkey],
                        vkeys, 2, DEFAULT_POLICY, None)
    ledger.submit([sign_statement(authority, "log.genesis", "log", "authority", body)])
    _grow_by_authority(ledger, authority, "A")
    path = tmp_path / "witnesses.json"
    path.write_text(json.dumps([{"vkey": v, "url": w.url}
                                for v, w in zip(vkeys, witnesses, strict=True)]))
    (tmp_path / "log").mkdir()
    (tmp_path / "log" / "log.skey").write_text(log_key.skey + "\n")
    (tmp_path / "log" / "log.skey").chmod(0o600)
    yield ledger, authority, witnesses, path, db
    for w in witnesses:
        w.stop()
    ledger.close()


def _checkpointer(ledger: Ledger, path: Path, signer: NoteSigner) -> Checkpointer:
    return Checkpointer(ledger, signer, load_witnesses(path, ledger.trust()), attempts=2,
                        backoff=0.01, timeout=2)


def _log_signer(path: Path) -> NoteSigner:
    return NoteSigner.from_skey((path.parent / "log" / "log.skey").read_text().strip())


def test_one_witness_down_still_published(three: tuple[Ledger, NoteSigner, list[_Witness],
                                                       Path, str]) -> None:
    """2 of 3 cosign: the checkpoint is published, carries both cosignatures, and the
    status names the witness that is down with its error."""
    ledger, _, witnesses, path, _ = three
    witnesses[2].stop()
    cp = _checkpointer(ledger, path, _log_signer(path))
    outcome = cp.publish()
    assert outcome is not None and outcome.published
    assert outcome.cosigners == ["quorum-witness-0", "quorum-witness-1"]
    published = ledger.published_checkpoint()
    assert published is not None and published[0] == ledger.size
    assert verify_cosignatures(parse_note(published[2]), ledger.trust().witnesses).keys() \
        == {"quorum-witness-0", "quorum-witness-1"}
    status = cp.status()
    down = status["witnesses"][2]
    assert down["cosigned_size"] is None and "unreachable" in down["last_error"]
    assert status["held"] is False and status["published_size"] == ledger.size


def test_two_witnesses_down_nothing_published_status_says_why(
        three: tuple[Ledger, NoteSigner, list[_Witness], Path, str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """With the quorum unreachable the log still accepts entries, publishes nothing new,
    and both the status and the CLI say so, Chinese first."""
    ledger, authority, witnesses, path, db = three
    assert _checkpointer(ledger, path, _log_signer(path)).publish().published  # type: ignore[union-attr]
    before = ledger.published_checkpoint()
    witnesses[1].stop()
    witnesses[2].stop()
    _grow_by_authority(ledger, authority, "B")  # entries still accepted
    cp = _checkpointer(ledger, path, _log_signer(path))
    outcome = cp.publish()
    assert outcome is not None and not outcome.published and outcome.cosigners == [
        "quorum-witness-0"]
    assert ledger.published_checkpoint() == before
    assert ledger.chain.latest_checkpoint()[0] == before[0]  # type: ignore[index]
    status = cp.status()
    assert status["held"] is True and status["entries"] == ledger.size
    assert status["message_zh"].startswith("见证人法定数（2）未联署")
    assert "quorum-witness-1" in status["message_en"] and "entries are still accepted" in \
        status["message_en"]
    # The CLI: exit 1, the reason on stderr, no traceback.
    code = cli_main(["--db", db, "--keys", str(tmp_path / "log"), "checkpoint", "--witnesses",
                     str(path)])
    err = capsys.readouterr().err
    assert code == 1 and "见证人法定数" in err and "Traceback" not in err
    assert err.index("见证人法定数") < err.index("witness quorum")
    assert ledger.published_checkpoint() == before


def _copy_db(src: str, dst: str) -> None:
    """Someone with file access copies the database (SQLite's backup: WAL included)."""
    with contextlib.closing(sqlite3.connect(src)) as a, contextlib.closing(
            sqlite3.connect(dst)) as b:
        a.backup(b)


def test_rewritten_history_refused_by_every_witness(
        three: tuple[Ledger, NoteSigner, list[_Witness], Path, str], tmp_path: Path) -> None:
    """The operator rolls the database back and writes another history past the
    published size: every witness answers 4xx and nothing new is published."""
    ledger, authority, _, path, db = three
    snapshot = tmp_path / "rolled-back.sqlite"
    _copy_db(db, str(snapshot))
    _grow_by_authority(ledger, authority, "B")
    assert _checkpointer(ledger, path, _log_signer(path)).publish().published  # type: ignore[union-attr]
    published = ledger.published_checkpoint()
    assert published is not None
    ledger.close()
    _copy_db(str(snapshot), db)  # roll back: the published tree's entries are gone
    other = Ledger(db, create=False)
    try:
        _grow_by_authority(other, authority, "C", n=4)  # another history, longer
        assert other.size > published[0]
        cp = _checkpointer(other, path, _log_signer(path))
        outcome = cp.publish()
        assert outcome is not None and not outcome.published and outcome.cosigners == []
        for w in cp.status()["witnesses"]:
            assert "HTTP 4" in w["last_error"], w
        assert other.published_checkpoint() is None  # the rolled-back db holds none
    finally:
        other.close()
    ledger.__init__(db)  # type: ignore[misc]  # the fixture closes it again


def test_witness_list_naming_an_unpinned_key_is_refused(
        three: tuple[Ledger, NoteSigner, list[_Witness], Path, str]) -> None:
    """witnesses.json may only name the genesis's witnesses: an operator's own key put
    there is refused naming the item, before any request."""
    ledger, _, _, path, _ = three
    items = json.loads(path.read_text())
    items[1]["vkey"] = NoteSigner.generate("quorum-witness-1", COSIGNATURE_TYPE).verifier.vkey
    path.write_text(json.dumps(items))
    with pytest.raises(InputError, match=r"witnesses\.json\[1\]\.vkey"):
        load_witnesses(path, ledger.trust())


def test_api_checkpointer_publishes_and_status_shows_witnesses(
        three: tuple[Ledger, NoteSigner, list[_Witness], Path, str], tmp_path: Path) -> None:
    """``create_app(..., witnesses=FILE)``: the API's own checkpointer publishes new
    entries through the witnesses; /v1/status shows each witness's size and error."""
    ledger, _, witnesses, path, db = three
    witnesses[0].stop()
    app = create_app(db, tmp_path / "log", witnesses=path, checkpoint_every=0.05)
    with TestClient(app) as client:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            status = client.get("/v1/status").json()
            if status["published_size"] == ledger.size:
                break
            time.sleep(0.05)
        assert status["published_size"] == ledger.size and status["held"] is False
        by_name = {w["name"]: w for w in status["witnesses"]}
        assert by_name["quorum-witness-1"]["cosigned_size"] == ledger.size
        assert "unreachable" in by_name["quorum-witness-0"]["last_error"]
        served = client.get("/v1/checkpoint").text
        assert verify_cosignatures(parse_note(served), ledger.trust().witnesses).keys() == {
            "quorum-witness-1", "quorum-witness-2"}


def test_api_with_an_unpinned_witness_list_refuses_to_start(
        three: tuple[Ledger, NoteSigner, list[_Witness], Path, str]) -> None:
    """``python -m api --witnesses`` naming a key the genesis does not pin: refused before
    serving, with the item named, exit 64 and no traceback (it used to fail inside the
    lifespan)."""
    _, _, _, path, db = three
    items = json.loads(path.read_text())
    items[0]["vkey"] = NoteSigner.generate("quorum-witness-0", COSIGNATURE_TYPE).verifier.vkey
    path.write_text(json.dumps(items))
    proc = subprocess.run([sys.executable, "-m", "api", "--db", db, "--keys",
                           str(path.parent / "log"), "--witnesses", str(path), "--port", "0"],
                          capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parent.parent)
    assert proc.returncode == 64, proc.stderr
    assert "witnesses.json[0].vkey" in proc.stderr and "Traceback" not in proc.stderr
