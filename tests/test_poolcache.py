"""The pool file behind entity proofs (ledger/_poolcache.py): the first proof of a draw
writes the committed pool once, later proofs read a few hundred bytes of it, the proofs
are byte for byte those of the replay, and a damaged or foreign file is never served:
it is rebuilt from the replay."""

from __future__ import annotations

import json
import logging
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ledger import Ledger
from ledger._app import own_entry
from ledger._demo import ManualClock
from ledger._draws import snapshot_at, substitute
from ledger._entityproof import make_entity_proof
from ledger._poolcache import PoolFile, pool_path
from tests.portal_year import DEPT, NEXT_BATCH, NEXT_PLAN, YEAR, build_year
from verifier._canonical import canonical
from verifier._entityproof import verify_entity_proof
from verifier._errors import FormatError
from verifier._merkle import MerkleTree, leaf_hash
from verifier._uscc import USCC_CHARSET, uscc_check_char

DRAW = f"{YEAR}-{DEPT}/T1-B1"
NEXT = f"{NEXT_PLAN}/{NEXT_BATCH}"  # excludes the companies DRAW's sibling drew


@pytest.fixture(scope="module", params=[1, 2], ids=["v1", "v2"])
def year(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    db, _ = build_year(tmp_path_factory.mktemp(f"pool{request.param}"), targets=200,
                       inspectors=40, spec=request.param)
    return db


def _codes(led: Ledger, draw: str = DRAW) -> list[str]:
    """Drawn, in the pool but not drawn, excluded, and absent codes (before the first,
    between two and after the last member) of the draw."""
    info = led.state.draws[f"draw/{draw}"]
    snap = snapshot_at(led, info.commit_seq, *draw.split("/"))
    usccs = [m.uscc for m in snap.pool]
    drawn = sorted(u for u, _ in info.teams)
    kept = [u for u in usccs if u not in drawn]
    between = next(c for u in usccs[1:] for ch in USCC_CHARSET
                   if (c := _code(u[:16] + ch)) not in usccs and c > usccs[0])
    absent = [_code("11110000" + "0" * 9), between, _code("Y1370302" + "Y" * 9)]
    assert absent[0] < usccs[0] and absent[2] > usccs[-1]
    return [*drawn[:3], *kept[:3], *snap.excluded[:2], *absent]


def _code(body: str) -> str:
    return body + uscc_check_char(body)


def _pool_file(led: Ledger, draw: str = DRAW) -> Path:
    info = led.state.draws[f"draw/{draw}"]
    path = pool_path(led, led.tree.leaf(info.commit_seq))
    assert path is not None
    return path


@pytest.mark.parametrize("draw", [DRAW, NEXT], ids=["draw", "excluding"])
def test_later_proofs_come_from_the_file_and_equal_the_replays(year: str, draw: str) -> None:
    led = Ledger(year, create=False)
    try:
        path = _pool_file(led, draw)
        path.unlink(missing_ok=True)
        codes = _codes(led, draw)
        first = [canonical(make_entity_proof(led, draw, code)) for code in codes]
        assert path.is_file(), "the first proof writes the pool file"
        written = path.stat().st_mtime_ns
        again = [canonical(make_entity_proof(led, draw, code)) for code in codes]
        assert again == first and path.stat().st_mtime_ns == written
        info = led.state.draws[f"draw/{draw}"]
        pool = PoolFile(path)
        try:
            assert pool.count == info.commit["pool"]["size"]
            assert pool.tree.root().hex() == info.commit["pool"]["root"]
            assert len(pool.excluded) == info.commit["excluded"]["size"]
            assert draw == DRAW or pool.excluded, "the excluding draw excludes someone"
        finally:
            pool.close()
        if draw == NEXT:
            assert any(b'"excluded":{' in proof for proof in again)
    finally:
        led.close()


@pytest.mark.parametrize("damage", ["leaf", "hash", "truncated", "foreign"])
def test_a_damaged_pool_file_is_rebuilt_not_served(year: str, damage: str,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    led = Ledger(year, create=False)
    try:
        path = _pool_file(led)
        codes = _codes(led)
        path.unlink(missing_ok=True)
        want = [canonical(make_entity_proof(led, DRAW, code)) for code in codes]
        data = bytearray(path.read_bytes())
        index = json.loads(want[0])["pool"]["index"]  # codes[0] is drawn: in the pool
        if damage == "leaf":  # codes[0]'s leaf text (the last copy of its code) edited
            at = data.rindex(codes[0].encode()) + 12
            data[at] = ord("0") if data[at] != ord("0") else ord("1")
        elif damage == "hash":  # the leaf hash beside codes[0]'s, on its path, edited
            level0 = data.index(b"\n", data.index(b"\n") + 1) + 1  # after magic and header
            data[level0 + 32 * (index ^ 1)] ^= 1
        elif damage == "truncated":
            data = data[:len(data) // 2]
        else:  # another draw's file under this draw's name
            other = sorted(p for p in path.parent.glob("pool-*.bin") if p != path)
            if not other:
                make_entity_proof(led, f"{YEAR}-{DEPT}/T2-B1", codes[0])
                other = sorted(p for p in path.parent.glob("pool-*.bin") if p != path)
            data = bytearray(other[0].read_bytes())
        path.write_bytes(bytes(data))
        with caplog.at_level(logging.WARNING, logger="drawledger.ledger"):
            got = [canonical(make_entity_proof(led, DRAW, code)) for code in codes]
        assert got == want
        assert any("does not match" in r.getMessage() for r in caplog.records), \
            "the damaged file was not noticed"
        pool = PoolFile(path)  # rewritten whole
        try:
            assert pool.tree.root().hex() == led.state.draws[f"draw/{DRAW}"].commit["pool"]["root"]
        finally:
            pool.close()
    finally:
        led.close()


def test_packed_tree_gives_the_trees_proofs() -> None:
    rng = random.Random(7)
    for n in [1, 2, 3, 5, 8, 13, 64, 100, 257, 1000]:
        tree = MerkleTree(leaf_hash(rng.randbytes(8)) for _ in range(n))
        packed = tree.pack()
        buf = b"head" + b"".join(packed)
        over = MerkleTree.over(buf, [len(x) // 32 for x in packed], start=4)
        assert over.size == n and over.root() == tree.root()
        for i in {0, n - 1, rng.randrange(n)}:
            assert over.inclusion_proof(i) == tree.inclusion_proof(i)
        with pytest.raises(FormatError):
            MerkleTree.over(buf[:-1], [len(x) // 32 for x in packed], start=4)


def test_a_process_reads_the_log_once_per_draw_and_then_only_what_came_since(
        tmp_path: Path) -> None:
    """The scan behind a draw's proofs is kept and read on: a substitution written after
    the first proofs is in the next proof of its company, which is byte for byte the
    proof a fresh process makes."""
    db, parties = build_year(tmp_path, targets=200, inspectors=40)
    led = Ledger(db, create=False)
    try:
        info = led.state.draws[f"draw/{NEXT}"]
        uscc, team = next((u, t) for u, t in info.teams if t)
        assert _pool_file(led, NEXT).is_file(), "the commitment wrote its pool file"
        before = make_entity_proof(led, NEXT, uscc)
        assert not [e for e in before["entries"] if e["type"] == "draw.substituted"]
        clock = ManualClock(datetime(YEAR + 1, 3, 3, 9, tzinfo=timezone(timedelta(hours=8))))
        led.chain.clock = clock
        substitute(led, parties.load(f"dept-{DEPT}"), DEPT, NEXT_PLAN, NEXT_BATCH, uscc,
                   team[0], "回避：与检查对象负责人系近亲属", now=clock())
        led.checkpoint(parties.load("log"), parties.witness_tools(), now=clock)
        after = make_entity_proof(led, NEXT, uscc)
        subs = [e for e in after["entries"] if e["type"] == "draw.substituted"]
        assert len(subs) == 1 and subs[0]["body"]["uscc"] == uscc
        other = next(u for u, _ in info.teams if u != uscc)
        other_proof = canonical(make_entity_proof(led, NEXT, other))
        assert b"draw.substituted" not in other_proof, "another company's substitution"
    finally:
        led.close()
    fresh = Ledger(db, create=False)
    try:
        assert canonical(make_entity_proof(fresh, NEXT, uscc)) == canonical(after)
        assert canonical(make_entity_proof(fresh, NEXT, other)) == other_proof
        assert verify_entity_proof(canonical(after), fresh.trust()).exit_code == 0
    finally:
        fresh.close()


def _entries_by_reading_everything(led: Ledger, draw: str, code: str) -> list[int]:
    """The seqs SPEC 22.1 lists, found the slow way: every entry of the log read."""
    plan_id = draw.rpartition("/")[0]
    stream = f"draw/{draw}"
    info = led.state.draws[stream]
    size = led.published_checkpoints()[-1][0]
    wanted, keys, registrations = [], set(), []
    executed = published = False
    for seq, raw in led.entries(0, size):
        e = own_entry(raw)
        if e.type == "key.registered":
            registrations.append((seq, str(e.body["name"])))
        keep = seq in (0, info.commit["plan_seq"])
        if e.stream == f"plan/{plan_id}" and e.type == "plan.published" and not published \
                and seq < info.commit_seq:
            keep = published = True
        if e.stream == stream:
            keep = keep or not executed or (e.type in ("draw.unfillable", "draw.substituted")
                                            and e.body.get("uscc") == code)
            executed = executed or e.type == "draw.executed"
        if keep:
            wanted.append(seq)
            keys.add(e.sig["key"])
    return sorted(wanted + [seq for seq, name in registrations if name in keys])


@pytest.mark.parametrize("draw", [DRAW, NEXT], ids=["draw", "excluding"])
def test_the_entries_read_by_stream_are_those_of_reading_everything(year: str,
                                                                    draw: str) -> None:
    led = Ledger(year, create=False)
    try:
        substituted = [u for u, _ in led.state.draws[f"draw/{draw}"].recused]
        for code in [*_codes(led, draw), *substituted]:
            proof = make_entity_proof(led, draw, code)
            assert [e["seq"] for e in proof["entries"]] == _entries_by_reading_everything(
                led, draw, code), code
    finally:
        led.close()
