"""Split views caught (issue 14 item 4): ``python -m witness monitor`` follows a log's
tiles, and a log that signs two histories (one served as tiles, another shown elsewhere or
later) is caught with evidence that ``python -m verifier fork`` judges on its own."""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledger import Ledger, Parties, build_demo, sign_statement
from ledger._demo import _uscc
from ledger._tiles import write_tiles
from verifier import NoteSigner, parse_note
from verifier._cli import main as verifier_main
from verifier._fork import parse_fork
from verifier._resume import load_state
from verifier._tiles import TILE_WIDTH, TileSource, parse_tile_path
from verifier._trust import load_trust
from witness._monitor import Monitor

ROOT = Path(__file__).resolve().parent.parent


def _grow(ledger: Ledger, keys: Parties, uscc: str, name: str) -> None:
    """One more entry, signed by a department, then a checkpoint the demo's witness
    cosigns (quorum 1 of 2): the log publishes it."""
    body = {"uscc": uscc, "dept": "ZC-SCJGJ", "name": name, "registry": "ZC-SCJGJ/F",
            "industry": "F5299", "region": "370302", "risk": "B", "status": "存续",
            "unit": "昆仑镇市场监管所"}
    ledger.submit([sign_statement(keys.load("dept-ZC-SCJGJ"), "target.added",
                                  f"target/{uscc}", "ZC-SCJGJ", body)])
    ledger.checkpoint(keys.load("log"))
    ledger.witness_latest(keys.witness_tools()[0])
    published = ledger.published_checkpoint()
    assert published is not None and published[0] == ledger.size


def _monitor(tiles: Path, state: Path, *peers: Path) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "witness", "monitor", "--tiles", str(tiles), "--trust",
            str(tiles / "trust.json"), "--state", str(state), "--once"]
    for peer in peers:
        args += ["--peer", str(peer)]
    return subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=120)


def _state_size(state: Path) -> int:
    return int(json.loads((state / "state.json").read_text())["size"])


@dataclass
class _Logs:
    """Log A (served as tiles) and log B: a copy of A's database and key folder (same log
    key, same witnesses' keys) that went on with another history."""

    a: Ledger
    a_keys: Parties
    a_tiles: Path
    b: Ledger
    b_keys: Parties
    b_tiles: Path


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("monitor-base")
    ledger = Ledger(str(root / "db.sqlite"))
    build_demo(ledger, Parties(root / "parties"), targets=6, inspectors=2)
    ledger.close()
    return root


@pytest.fixture
def logs(base: Path, tmp_path: Path) -> Iterator[_Logs]:
    made: list[Ledger] = []
    for side in ("a", "b"):
        shutil.copytree(base / "parties", tmp_path / side / "parties")
        with contextlib.closing(sqlite3.connect(base / "db.sqlite")) as src, \
                contextlib.closing(sqlite3.connect(tmp_path / side / "db.sqlite")) as dst:
            src.backup(dst)
        made.append(Ledger(str(tmp_path / side / "db.sqlite")))
    a, b = made
    a_tiles, b_tiles = tmp_path / "a" / "tiles", tmp_path / "b" / "tiles"
    write_tiles(a, a_tiles)
    yield _Logs(a, Parties(tmp_path / "a" / "parties"), a_tiles, b,
                Parties(tmp_path / "b" / "parties"), b_tiles)
    for ledger in made:
        ledger.close()


def test_monitor_follows_an_honest_log(logs: _Logs, tmp_path: Path) -> None:
    """Two rounds over a log that grows honestly (tiles rewritten between them): nothing
    reported, the verified size advances with the log, no evidence written."""
    state = tmp_path / "monitor"
    first = _monitor(logs.a_tiles, state)
    assert first.returncode == 0, first.stderr
    assert _state_size(state) == logs.a.size and "已核验至规模" in first.stdout
    _grow(logs.a, logs.a_keys, "91370321MAU34K4U1H", "淄博测试商贸有限公司")
    write_tiles(logs.a, logs.a_tiles)
    second = _monitor(logs.a_tiles, state)
    assert second.returncode == 0, second.stderr
    assert _state_size(state) == logs.a.size
    assert not (state / "evidence").exists()
    again = _monitor(logs.a_tiles, state)  # nothing new: still clean, state unchanged
    assert again.returncode == 0 and _state_size(state) == logs.a.size


def _fork_b(logs: _Logs) -> str:
    """Log B's history differs from A's at the same size; its signed note."""
    _grow(logs.b, logs.b_keys, "91370321MA3C5XU84C", "淄博另一历史有限公司")
    published = logs.b.published_checkpoint()
    assert published is not None
    return published[2]


def test_split_view_same_size_caught_with_evidence(logs: _Logs, tmp_path: Path) -> None:
    """The public sees A's tiles; a peer (another mirror) was shown B's checkpoint of the
    same size: exit 2, evidence with both notes, and ``verifier fork`` says the log signed
    two histories (exit 2); with another log's key pinned the evidence is refused (64)."""
    _grow(logs.a, logs.a_keys, "91370321MAU34K4U1H", "淄博测试商贸有限公司")
    write_tiles(logs.a, logs.a_tiles)
    b_note = _fork_b(logs)
    peer = tmp_path / "peer.note"
    peer.write_text(b_note, encoding="utf-8")
    state = tmp_path / "monitor"
    run = _monitor(logs.a_tiles, state, peer)
    assert run.returncode == 2, run.stderr
    assert run.stderr.index("发现分叉") < run.stderr.index("FORK")
    (evidence,) = (state / "evidence").iterdir()
    obj = parse_fork(evidence.read_bytes())
    assert obj["why"] == "same_size" and b_note in obj["notes"]
    assert (logs.a_tiles / "checkpoint").read_text() in obj["notes"]
    trust = logs.a_tiles / "trust.json"
    assert verifier_main(["fork", str(evidence), "--trust", str(trust)]) == 2
    other = json.loads(trust.read_text())
    other["log_key"] = NoteSigner.generate(parse_note(b_note).signatures[0].name).verifier.vkey
    (tmp_path / "other.json").write_text(json.dumps(other))
    assert verifier_main(["fork", str(evidence), "--trust", str(tmp_path / "other.json")]) == 64


def test_tiles_that_do_not_extend_the_verified_tree_are_a_fork(logs: _Logs,
                                                              tmp_path: Path) -> None:
    """The monitor verified A; later the same place serves B's longer tree, which does
    not extend A: a not_a_prefix fork whose evidence carries B's consistency proof and the
    prefix root it leads to, which ``verifier fork`` accepts as proof (exit 2)."""
    _grow(logs.a, logs.a_keys, "91370321MAU34K4U1H", "淄博测试商贸有限公司")
    write_tiles(logs.a, logs.a_tiles)
    state = tmp_path / "monitor"
    assert _monitor(logs.a_tiles, state).returncode == 0
    verified = _state_size(state)
    _fork_b(logs)
    _grow(logs.b, logs.b_keys, "91370321MA3C5XU85F", "淄博第三测试有限公司")
    write_tiles(logs.b, logs.b_tiles)
    run = _monitor(logs.b_tiles, state)
    assert run.returncode == 2, run.stderr
    assert _state_size(state) == verified  # the fork is not taken as the new tree
    (evidence,) = (state / "evidence").iterdir()
    obj = parse_fork(evidence.read_bytes())
    assert obj["why"] == "not_a_prefix" and obj["sizes"] == [verified, logs.b.size]
    assert verifier_main(["fork", str(evidence), "--trust",
                          str(logs.a_tiles / "trust.json")]) == 2


def test_audit_with_two_conflicting_checkpoints_exits_2(logs: _Logs, tmp_path: Path) -> None:
    """``verifier audit EXPORT --checkpoint A --checkpoint B`` with two notes of one size
    and different roots: V1.fork, exit 2."""
    _grow(logs.a, logs.a_keys, "91370321MAU34K4U1H", "淄博测试商贸有限公司")
    b_note = _fork_b(logs)
    a_pub = logs.a.published_checkpoint()
    assert a_pub is not None
    (tmp_path / "a.note").write_text(a_pub[2])
    (tmp_path / "b.note").write_text(b_note)
    logs.a.export(tmp_path / "export")
    code = verifier_main(["audit", str(tmp_path / "export"), "--json", "--workers", "0",
                          "--checkpoint", str(tmp_path / "a.note"),
                          "--checkpoint", str(tmp_path / "b.note")])
    assert code == 2


class _CountingSource(TileSource):
    """The real directory source, recording every path asked for."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.asked: list[str] = []

    def get(self, path: str, limit: int) -> bytes | None:
        self.asked.append(path)
        return super().get(path, limit)

    def bundles(self) -> set[int]:
        """The entry bundles fetched since the last call (their indexes)."""
        found = {parse_tile_path(p.removeprefix("tile/"))[1] for p in self.asked
                 if p.startswith("tile/entries/")}
        self.asked.clear()
        return found


def _grow_many(ledger: Ledger, keys: Parties, count: int, seed: int) -> None:
    """``count`` more targets in one submission, then one cosigned checkpoint."""
    rng = random.Random(seed)
    signer = keys.load("dept-ZC-SCJGJ")
    statements = []
    for i in range(count):
        uscc = _uscc(rng)
        body = {"uscc": uscc, "dept": "ZC-SCJGJ", "name": f"淄博增量测试{seed}-{i}有限公司",
                "registry": "ZC-SCJGJ/F", "industry": "F5299", "region": "370302",
                "risk": "B", "status": "存续", "unit": "昆仑镇市场监管所"}
        statements.append(sign_statement(signer, "target.added", f"target/{uscc}",
                                         "ZC-SCJGJ", body))
    ledger.submit(statements)
    ledger.checkpoint(keys.load("log"))
    ledger.witness_latest(keys.witness_tools()[0])


@pytest.fixture(scope="module")
def violations_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("monitor-violations")
    ledger = Ledger(str(root / "db.sqlite"))
    build_demo(ledger, Parties(root / "parties"), targets=600, inspectors=60, violations=True)
    ledger.close()
    return root


def test_monitor_resumes_the_audit_and_fetches_only_new_bundles(violations_base: Path,
                                                                tmp_path: Path) -> None:
    """Round one audits the violations year in full and saves the audit state in the
    monitor's folder; the log grows; round two resumes from that state, fetches only the
    bundles from the one holding the state's size on, and finds exactly what one full
    audit of the grown log finds (the year's violations, not nothing)."""
    shutil.copytree(violations_base, tmp_path / "log")
    ledger = Ledger(str(tmp_path / "log" / "db.sqlite"))
    keys = Parties(tmp_path / "log" / "parties")
    tiles = tmp_path / "tiles"
    write_tiles(ledger, tiles)
    trust = load_trust((tiles / "trust.json").read_bytes())
    source = _CountingSource(str(tiles))
    monitor = Monitor(source, trust, tmp_path / "monitor")
    first = monitor.round()
    assert first.size == ledger.size and first.findings
    saved = load_state(tmp_path / "monitor" / "audit.state")
    assert TILE_WIDTH <= saved.size <= ledger.size
    source.bundles()
    _grow_many(ledger, keys, TILE_WIDTH // 2, seed=1)
    write_tiles(ledger, tiles)
    monitor = Monitor(source, trust, tmp_path / "monitor")  # a new process: from the files
    second = monitor.round()
    assert second.size == ledger.size and not second.forks
    assert "incremental" in second.notes[-1][1]
    fetched = source.bundles()
    assert fetched == set(range(saved.size // TILE_WIDTH, -(-ledger.size // TILE_WIDTH)))
    assert 0 not in fetched
    full = Monitor(TileSource(str(tiles)), trust, tmp_path / "full").round()
    assert "a full audit" in full.notes[-1][1]
    assert second.findings == full.findings and second.problems == full.problems
    assert second.exit_code == full.exit_code == 1
    ledger.close()


def test_fork_before_the_resumed_bundle_is_still_a_fork(logs: _Logs, tmp_path: Path) -> None:
    """The monitor verified A past a whole bundle and saved its audit state there; the
    same place then serves B, which rewrote an entry inside the bundles the resumed
    replay does not fetch: the resumed tree misses B's root, a full replay decides, and
    it is a not_a_prefix fork, never B's tree taken on the strength of the state."""
    _grow_many(logs.a, logs.a_keys, TILE_WIDTH // 2, seed=2)
    write_tiles(logs.a, logs.a_tiles)
    trust = load_trust((logs.a_tiles / "trust.json").read_bytes())
    state = tmp_path / "monitor"
    assert Monitor(TileSource(str(logs.a_tiles)), trust, state).round().exit_code == 0
    saved = load_state(state / "audit.state")
    assert saved.size >= TILE_WIDTH
    _fork_b(logs)
    _grow_many(logs.b, logs.b_keys, TILE_WIDTH // 2 + 5, seed=3)
    write_tiles(logs.b, logs.b_tiles)
    run = Monitor(TileSource(str(logs.b_tiles)), trust, state).round()
    assert run.exit_code == 2 and run.size == saved.size
    assert any("full re-audit" in en for _, en in run.notes)
    (evidence,) = (state / "evidence").iterdir()
    obj = parse_fork(evidence.read_bytes())
    assert obj["why"] == "not_a_prefix" and obj["sizes"] == [saved.size, logs.b.size]
    assert load_state(state / "audit.state").root == saved.root  # A's state kept
