"""Quorum before publication (issue 14 item 2, SPEC.md "Publication"): a checkpoint the
witness quorum has not cosigned is never served, so a log cannot show one tree to the
public and another to an auditor without the witnesses seeing both."""

from __future__ import annotations

import base64
import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api import create_app
from ledger import InputError, Ledger, Parties, build_demo, sign_statement
from ledger._checkpointer import Checkpointer, load_witnesses
from ledger._cli import main as cli_main
from verifier import (
    NoteSigner,
    NoteVerifier,
    VerifierError,
    cosign,
    parse_checkpoint,
    parse_note,
    verify_consistency,
    verify_cosignatures,
    verify_note,
)
from verifier._note import COSIGNATURE_TYPE
from verifier._statements import DEFAULT_POLICY, genesis_body


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
class _StandIn:
    """A minimal tlog-witness (add-checkpoint only) on a real port, written from the C2SP
    spec for these tests: 409 with its size, 403 bad log signature, 422 bad proof."""

    def __init__(self, signer: NoteSigner, log_key: NoteVerifier) -> None:
        self.signer, self.log_key = signer, log_key
        self.state: dict[str, tuple[int, bytes]] = {}
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"])).decode()
                code, ctype, text = outer.answer(body)
                data = text.encode()
                self.send_response(code)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, body: str) -> tuple[int, str, str]:
        head, _, note = body.partition("\n\n")
        lines = head.split("\n")
        old = int(lines[0].removeprefix("old "))
        proof = [base64.b64decode(x) for x in lines[1:]]
        try:
            parsed = parse_note(note)
            verify_note(parsed, [self.log_key])
        except VerifierError:
            return 403, "text/plain", "bad log signature"
        cp = parse_checkpoint(parsed.text)
        with self.lock:
            size, root = self.state.get(cp.origin, (0, b""))
            if old != size:
                return 409, "text/x.tlog.size", f"{size}\n"
            if old > cp.size:
                return 400, "text/plain", "old size above the checkpoint's"
            try:
                if old == cp.size and cp.root != root:
                    raise VerifierError("same size, another root")
                if 0 < old < cp.size:
                    verify_consistency(old, cp.size, root, cp.root, proof)
            except VerifierError as exc:
                return 422, "text/plain", str(exc)
            self.state[cp.origin] = (cp.size, cp.root)
            return 200, "text/plain", cosign(parsed.text, self.signer, int(time.time()))

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _grow_by_authority(ledger: Ledger, authority: NoteSigner, tag: str, n: int = 2) -> None:
    ledger.submit([sign_statement(authority, "department.registered", f"dept/ZC-T{tag}{i}",
                                  "authority", {"code": f"ZC-T{tag}{i}", "name": f"测试局{i}"})
                   for i in range(n)])


@pytest.fixture
def three(tmp_path: Path) -> Iterator[tuple[Ledger, NoteSigner, list[_StandIn], Path, str]]:
    """A log whose genesis pins three witnesses with quorum 2, the three witnesses
    running, and the witnesses.json naming them."""
    log_key = NoteSigner.generate("quorum.test/log")
    authority = NoteSigner.generate("quorum-test-authority")
    signers = [NoteSigner.generate(f"quorum-witness-{i}", COSIGNATURE_TYPE) for i in range(3)]
    db = str(tmp_path / "db.sqlite")
    ledger = Ledger(db)
    body = genesis_body("quorum.test/log", log_key.verifier.vkey, [authority.verifier.vkey],
                        [s.verifier.vkey for s in signers], 2, DEFAULT_POLICY, None)
    ledger.submit([sign_statement(authority, "log.genesis", "log", "authority", body)])
    _grow_by_authority(ledger, authority, "A")
    witnesses = [_StandIn(s, log_key.verifier) for s in signers]
    path = tmp_path / "witnesses.json"
    path.write_text(json.dumps([{"vkey": s.verifier.vkey, "url": w.url}
                                for s, w in zip(signers, witnesses, strict=True)]))
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


def test_one_witness_down_still_published(three: tuple[Ledger, NoteSigner, list[_StandIn],
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
        three: tuple[Ledger, NoteSigner, list[_StandIn], Path, str], tmp_path: Path,
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
        three: tuple[Ledger, NoteSigner, list[_StandIn], Path, str], tmp_path: Path) -> None:
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
        three: tuple[Ledger, NoteSigner, list[_StandIn], Path, str]) -> None:
    """witnesses.json may only name the genesis's witnesses: an operator's own key put
    there is refused naming the item, before any request."""
    ledger, _, _, path, _ = three
    items = json.loads(path.read_text())
    items[1]["vkey"] = NoteSigner.generate("quorum-witness-1", COSIGNATURE_TYPE).verifier.vkey
    path.write_text(json.dumps(items))
    with pytest.raises(InputError, match=r"witnesses\.json\[1\]\.vkey"):
        load_witnesses(path, ledger.trust())


def test_api_checkpointer_publishes_and_status_shows_witnesses(
        three: tuple[Ledger, NoteSigner, list[_StandIn], Path, str], tmp_path: Path) -> None:
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
