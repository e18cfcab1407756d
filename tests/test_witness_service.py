"""`python -m witness serve`: C2SP tlog-witness add-checkpoint by a real process on a real
port, each witness with its own key folder. Every status code of the protocol has a row in
the table; concurrent requests never roll the state back or fork it; a witness killed
with SIGKILL in the middle of writing its state restarts with the old or the new state."""

from __future__ import annotations

import contextlib
import http.client
import itertools
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from verifier import (
    EMPTY_ROOT,
    Checkpoint,
    MerkleTree,
    NoteSigner,
    NoteVerifier,
    leaf_hash,
    parse_note,
    sign_note,
    verify_cosignatures,
)
from verifier._witness import StateError, WitnessState, format_add_checkpoint

ROOT = Path(__file__).resolve().parent.parent
STALL_ENV = "DRAWLEDGER_WITNESS_TEST_STALL"


def _tree(tag: bytes, n: int = 1000) -> MerkleTree:
    return MerkleTree([leaf_hash(tag + b"%d" % i) for i in range(n)])


TREE = _tree(b"entry ")
OTHER = _tree(b"forked entry ")


def keygen(out: Path, name: str) -> tuple[Path, NoteVerifier]:
    """The audit body's own tool makes the key in its own folder."""
    proc = subprocess.run([sys.executable, "-m", "witness", "keygen", "--name", name,
                           "--out", str(out)], capture_output=True, text=True, cwd=ROOT,
                          check=True)
    (key,) = out.glob("*.skey")
    return key, NoteVerifier.from_vkey(proc.stdout.strip())


@dataclass
class Witness:
    """A running ``python -m witness serve`` and how to reach it."""

    proc: subprocess.Popen[str]
    port: int
    state: Path

    def post(self, body: bytes, path: str = "/add-checkpoint") -> tuple[int, str, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("POST", path, body)
            resp = conn.getresponse()
            return resp.status, resp.getheader("Content-Type", ""), resp.read()
        finally:
            conn.close()

    def held(self, origin: str) -> tuple[int, bytes] | None:
        """What the witness has on disk for ``origin`` (read as a restart would)."""
        return WitnessState(self.state / "state.json").get(origin)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)


def start(key: Path, state: Path, policy: Path, stall: float = 0.0) -> Witness:
    env = dict(os.environ)
    env.pop(STALL_ENV, None)
    if stall:
        env[STALL_ENV] = str(stall)
    proc = subprocess.Popen([sys.executable, "-m", "witness", "serve", "--key", str(key),
                             "--state", str(state), "--log-policy", str(policy),
                             "--listen", "127.0.0.1:0"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "listening on http://127.0.0.1:" in line, line
    return Witness(proc, int(line.rsplit(":", 1)[1].split()[0]), state)


@dataclass
class Setup:
    root: Path
    key: Path
    vkey: NoteVerifier
    policy: Path
    logs: dict[str, NoteSigner]


ORIGINS = [f"example.gov.cn/log-{i}" for i in range(24)]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    root = tmp_path_factory.mktemp("witness")
    key, vkey = keygen(root / "key", "audit.example.gov.cn/witness")
    logs = {origin: NoteSigner.generate(origin) for origin in ORIGINS}
    policy = root / "logs.policy"
    policy.write_text("# the logs this witness serves\n" + "".join(
        f"log {s.verifier.vkey}\n" for s in logs.values()) + "quorum none\n",
        encoding="utf-8")
    return Setup(root, key, vkey, policy, logs)


@pytest.fixture(scope="module")
def witness(setup: Setup) -> Iterator[Witness]:
    w = start(setup.key, setup.root / "state", setup.policy)
    yield w
    w.stop()


def note(signer: NoteSigner, size: int, tree: MerkleTree = TREE,
         root: bytes | None = None) -> str:
    cp = Checkpoint(signer.name, size, tree.root(size) if root is None else root)
    return sign_note(cp.text, [signer])


def add(signer: NoteSigner, old: int, size: int, tree: MerkleTree = TREE) -> bytes:
    """An honest request: old size, the proof from it, the signed checkpoint."""
    proof = tree.consistency_proof(old, size) if old else []
    return format_add_checkpoint(old, proof, note(signer, size, tree))


# Each row: (name, held size before or 0, the request, status). The request is built from
# the row's own log key (its own origin), so rows do not see each other's state.
Build = Callable[[NoteSigner], bytes]


def _flip(data: str) -> str:
    """The same note with one bit of its (last) signature flipped."""
    text, sig = data[:-6], data[-6:]
    return text + ("A" if sig[0] != "A" else "B") + sig[1:]


def _bad_proof(s: NoteSigner) -> bytes:
    proof = TREE.consistency_proof(8, 13)
    proof[-1] = bytes(32)
    return format_add_checkpoint(8, proof, note(s, 13))


TABLE: list[tuple[str, int, Build, int]] = [
    ("first_cosignature", 0, lambda s: add(s, 0, 8), 200),
    ("extension", 8, lambda s: add(s, 8, 13), 200),
    ("same_tree_again", 8, lambda s: add(s, 8, 8), 200),
    ("empty_tree", 0, lambda s: format_add_checkpoint(0, [], note(s, 0, root=EMPTY_ROOT)),
     200),
    ("old_size_not_held", 8, lambda s: add(s, 5, 13), 409),
    ("bootstrap_with_old_zero", 8, lambda s: add(s, 0, 13), 409),
    ("unknown_origin", 0, lambda s: add(NoteSigner.generate("example.gov.cn/other"), 0, 8),
     404),
    ("log_key_did_not_sign", 0, lambda s: add(NoteSigner.generate(s.name), 0, 8), 403),
    ("log_signature_broken", 0,
     lambda s: format_add_checkpoint(0, [], _flip(note(s, 8))), 403),
    ("old_size_above_checkpoint", 8,
     lambda s: format_add_checkpoint(8, [], note(s, 5)), 400),
    ("old_size_leading_zero", 0,
     lambda s: add(s, 0, 8).replace(b"old 0", b"old 00", 1), 400),
    ("no_empty_line", 0, lambda s: add(s, 0, 8).replace(b"\n\n", b"\n", 1), 400),
    ("proof_line_not_base64", 8,
     lambda s: add(s, 8, 13).replace(b"\n", b"\n!!!!\n", 1), 400),
    ("sixty_four_proof_lines", 8,
     lambda s: format_add_checkpoint(8, [bytes(32)] * 64, note(s, 13)), 400),
    ("not_a_checkpoint", 0, lambda s: b"old 0\n\nhello\n", 400),
    ("not_utf8", 0, lambda s: add(s, 0, 8) + b"\xff", 400),
    ("bad_consistency_proof", 8, _bad_proof, 422),
    ("proof_at_old_size_zero", 0,
     lambda s: format_add_checkpoint(0, [bytes(32)], note(s, 8)), 422),
    ("size_zero_without_empty_root", 0,
     lambda s: format_add_checkpoint(0, [], note(s, 0, root=TREE.root(5))), 422),
    ("same_size_other_root", 8,
     lambda s: format_add_checkpoint(8, [], note(s, 8, OTHER)), 422),
    ("fork_with_its_own_proof", 8, lambda s: add(s, 8, 13, OTHER), 422),
]


@pytest.mark.parametrize(("name", "held", "build", "status"), TABLE,
                         ids=[row[0] for row in TABLE])
def test_add_checkpoint_status_table(setup: Setup, witness: Witness, name: str, held: int,
                                     build: Build, status: int) -> None:
    signer = setup.logs[ORIGINS[[row[0] for row in TABLE].index(name)]]
    if held:
        assert witness.post(add(signer, 0, held))[0] == 200
    before = witness.held(signer.name)
    body = build(signer)
    got, ctype, reply = witness.post(body)
    assert got == status, reply.decode(errors="replace")
    after = witness.held(signer.name)
    if status == 200:
        # The reply is cosignature lines: appended to the note, they verify under the
        # witness's vkey, and the state records the tree before the reply.
        sent = body.decode().partition("\n\n")[2]
        times = verify_cosignatures(parse_note(sent + reply.decode()), [setup.vkey])
        assert set(times) == {setup.vkey.name} and times[setup.vkey.name] > 0
        cp = parse_note(sent).text.split("\n")
        assert after is not None and after[0] == int(cp[1])
        return
    assert after == before  # a refusal keeps the state
    if status == 409:
        assert ctype == "text/x.tlog.size"
        assert reply == f"{held}\n".encode()
    else:
        assert "/" in reply.decode()  # Chinese / English reason
    if status == 422:  # log-signed and refused as a fork: kept as evidence
        kept = [p.read_bytes() for p in (witness.state / "evidence").glob("*.txt")]
        assert any(k.endswith(body) and k.startswith(b"# 422 ") for k in kept)


def test_http_limits(witness: Witness, setup: Setup) -> None:
    """Only POST /add-checkpoint, with a Content-Length, of at most 64 KiB."""
    conn = http.client.HTTPConnection("127.0.0.1", witness.port, timeout=10)
    conn.request("GET", "/add-checkpoint")
    resp = conn.getresponse()
    assert resp.status == 405
    resp.read()
    conn.close()
    assert witness.post(b"x", path="/other")[0] == 404
    assert witness.post(b"old 0\n" + b"A" * 70_000)[0] == 413
    with socket.create_connection(("127.0.0.1", witness.port), timeout=10) as sock:
        sock.sendall(b"POST /add-checkpoint HTTP/1.1\r\nHost: w\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 411")


def test_twenty_concurrent_requests_keep_the_state_monotone(setup: Setup) -> None:
    """20 threads race add-checkpoint on one log, each learning the witness's size from a
    409 and extending it: the cosigned trees form one chain (each 200's old size is the
    previous 200's new size), never a rollback (two 200s from one old size) or a fork.
    A stall inside each state write widens the window the lock must close."""
    signer = NoteSigner.generate(ORIGINS[-1])
    policy = setup.root / "race.policy"
    policy.write_text(f"log {signer.verifier.vkey}\n", encoding="utf-8")
    w = start(setup.key, setup.root / "race", policy, stall=0.005)
    try:
        assert w.post(add(signer, 0, 10))[0] == 200
        won: list[tuple[int, int]] = []
        barrier = threading.Barrier(20)

        def race(step: int) -> None:
            barrier.wait()
            for _ in range(3):
                status, _, reply = w.post(add(signer, 0, 11))  # learn the size
                assert status == 409
                old = int(reply)
                status, _, reply = w.post(add(signer, old, old + step))
                assert status in (200, 409), reply
                if status == 200:
                    won.append((old, old + step))

        threads = [threading.Thread(target=race, args=(i % 7 + 1,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert won
        chain = sorted(won, key=lambda pair: pair[1])
        assert chain[0][0] == 10
        for (_, prev), (old, _) in itertools.pairwise(chain):
            assert old == prev, chain
        assert len({old for old, _ in won}) == len(won)
        held = w.held(signer.name)
        assert held is not None and held == (chain[-1][1], TREE.root(chain[-1][1]))
    finally:
        w.stop()


def test_sigkill_while_writing_state_leaves_old_or_new(setup: Setup) -> None:
    """20 trials: the witness is killed with SIGKILL at a random moment of a request whose
    state write stalls mid-file and before the rename; the state on disk is always the old
    tree or the new one, whole, and the restarted witness carries on from it."""
    signer = NoteSigner.generate(ORIGINS[-2])
    policy = setup.root / "crash.policy"
    policy.write_text(f"log {signer.verifier.vkey}\n", encoding="utf-8")
    state = setup.root / "crash"
    rng = random.Random(14)
    w = start(setup.key, state, policy)
    assert w.post(add(signer, 0, 1))[0] == 200
    w.stop()
    size, outcomes, torn_windows = 1, {"old": 0, "new": 0}, 0
    for _ in range(20):
        w = start(setup.key, state, policy, stall=0.15)
        request = add(signer, size, size + 1)
        sender = threading.Thread(target=_ignore_errors, args=(w.post, request))
        sender.start()
        time.sleep(rng.uniform(0.0, 0.45))
        w.proc.send_signal(signal.SIGKILL)
        w.proc.wait(10)
        sender.join(30)
        torn_windows += any(state.glob(".state.json.*.tmp"))
        try:
            held = WitnessState(state / "state.json").get(signer.name)
        except StateError as exc:  # a torn state file
            pytest.fail(f"torn witness state after SIGKILL: {exc}")
        assert held in ((size, TREE.root(size)), (size + 1, TREE.root(size + 1)))
        assert held is not None
        outcomes["old" if held[0] == size else "new"] += 1
        size = held[0]
    # The kills landed inside the write window (a temporary file was left behind) and
    # both outcomes happened: the window was real.
    assert torn_windows > 0 and outcomes["old"] > 0 and outcomes["new"] > 0, outcomes
    w = start(setup.key, state, policy)
    try:
        assert not any(state.glob(".state.json.*.tmp"))  # cleared on start, never read
        status, _, reply = w.post(add(signer, 0, size + 1))
        assert (status, reply) == (409, f"{size}\n".encode())
        assert w.post(add(signer, size, size + 1))[0] == 200
    finally:
        w.stop()


def serve_once(key: Path, state: Path, policy: Path) -> subprocess.CompletedProcess[str]:
    """A witness that must refuse to start: its exit and messages."""
    return subprocess.run([sys.executable, "-m", "witness", "serve", "--key", str(key),
                           "--state", str(state), "--log-policy", str(policy),
                           "--listen", "127.0.0.1:0"], cwd=ROOT, capture_output=True,
                          text=True, timeout=30)


def _ignore_errors(post: Callable[[bytes], object], body: bytes) -> None:
    with contextlib.suppress(OSError, http.client.HTTPException):
        post(body)  # the witness is killed mid-request


def test_second_witness_on_one_state_is_refused(setup: Setup, witness: Witness) -> None:
    """Two processes on one state would each serialise only their own requests."""
    proc = serve_once(setup.key, witness.state, setup.policy)
    assert proc.returncode == 1
    assert "another process" in proc.stderr and "Traceback" not in proc.stderr


def test_corrupt_state_refuses_to_start(setup: Setup, tmp_path: Path) -> None:
    """A state file that does not parse is never taken as empty (that would cosign a
    fork of every log the witness had seen)."""
    (tmp_path / "state.json").write_text('{"x": {"size": 3', encoding="utf-8")
    proc = serve_once(setup.key, tmp_path, setup.policy)
    assert proc.returncode == 1
    assert "not a state file" in proc.stderr and "Traceback" not in proc.stderr


def test_key_readable_by_others_is_refused(setup: Setup, tmp_path: Path) -> None:
    """The key stays in its folder, readable by the witness's user only."""
    key = tmp_path / "w.skey"
    key.write_bytes(setup.key.read_bytes())
    key.chmod(0o644)
    proc = serve_once(key, tmp_path / "s", setup.policy)
    assert proc.returncode == 1 and "chmod 600" in proc.stderr


def test_bad_log_policy_names_the_line(setup: Setup, tmp_path: Path) -> None:
    policy = tmp_path / "p"
    policy.write_text(f"log {setup.vkey.vkey}\n", encoding="utf-8")  # a witness key
    proc = serve_once(setup.key, tmp_path / "s", policy)
    assert proc.returncode == 1 and "line 1" in proc.stderr and "sigtype 1" in proc.stderr
