"""Entity proofs (SPEC.md 22): the vectors' verdicts, and the writer and checker on a
fresh demo year (v1 and v2 logs) through both command lines."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import create_app
from tests.portal_year import build_year
from verifier._entityproof import MAX_BYTES, NotAnEntityProof, verify_entity_proof
from verifier._errors import ProofError
from verifier._merkle import MerkleTree, leaf_hash
from verifier._multiproof import (
    decode_hashes,
    multi_proof,
    multi_proof_length,
    root_from_multi_proof,
    verify_multi_inclusion,
)
from verifier._trust import Trust, load_trust, parse_trust

VECTORS = Path(__file__).parent / "vectors" / "entity-proof-v1.json"
ROOT = Path(__file__).resolve().parents[1]


def _vectors() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(VECTORS.read_text())
    return data


def _text(case: dict[str, Any], by_name: dict[str, dict[str, Any]]) -> bytes:
    if "oversize_of" in case:
        base = by_name[case["oversize_of"]]["proof"].encode()
        return base + b" " * (MAX_BYTES + 1 - len(base))
    text: str = case["proof"]
    return text.encode()


@pytest.mark.parametrize("case", _vectors()["cases"], ids=lambda c: c["name"])
def test_vector(case: dict[str, Any]) -> None:
    vectors = _vectors()
    by_name = {c["name"]: c for c in vectors["cases"]}
    trust = parse_trust(vectors["trust"][case["log"]]) if case["pinned"] else None
    result = verify_entity_proof(_text(case, by_name), trust)
    expect = case["expect"]
    failed = [s for s in result.steps if not s["ok"]]
    assert result.exit_code == expect["exit_code"], failed
    assert (failed[0]["step"] if failed else None) == expect["step"]
    assert (result.answer or {}).get("verdict") == expect["verdict"] or expect["verdict"] is None
    if expect["exit_code"] == 2:
        assert result.answer is None
        assert failed[0]["zh"] and failed[0]["en"]


def test_vectors_cover_every_fate() -> None:
    """A drawn, a not-drawn, an excluded and an absent company of each log; a v2 drawn
    company's stratum is internal, so its answer may depend on it."""
    verdicts = {(c["log"], c["expect"]["verdict"]) for c in _vectors()["cases"]
                if c["expect"]["exit_code"] == 0}
    for log in ("v1", "v2"):
        assert {(log, v) for v in ("not_drawn", "excluded", "not_in_pool")} <= verdicts
    assert ("v1", "drawn") in verdicts
    assert {("v2", "drawn"), ("v2", "depends_on_internal_field")} & verdicts


@pytest.mark.parametrize("case", _vectors()["multiproof"], ids=lambda c: str(c["size"]))
def test_multiproof_vectors(case: dict[str, Any]) -> None:
    """The vectors' proofs lead from leaves SHA-256(0x00 || decimal i) to their root."""
    idx, size = case["indices"], case["size"]
    leaves = [leaf_hash(str(i).encode()) for i in idx]
    proof = decode_hashes(case["proof"], "proof")
    root = decode_hashes([case["root"]], "root")[0]
    verify_multi_inclusion(idx, size, leaves, proof, root)
    assert multi_proof_length(idx, size) == len(proof)


def test_multiproof_against_the_tree() -> None:
    """Random sizes and index sets: the proof leads to MerkleTree's root; one leaf's proof
    holds exactly its RFC 9162 path's hashes; a node dropped, swapped or edited, a leaf
    moved, or the root of another tree size (a checkpoint swapped) fails."""
    rng = random.Random(16)
    tree = MerkleTree(leaf_hash(str(i).encode()) for i in range(1100))
    for _ in range(600):
        size = rng.randrange(1, 1100)
        idx = sorted(rng.sample(range(size), rng.randrange(1, min(size, 9) + 1)))
        leaves = [tree.leaf(i) for i in idx]
        proof = multi_proof(tree, idx, size)
        assert root_from_multi_proof(idx, size, leaves, proof) == tree.root(size)
        if len(idx) == 1:
            assert sorted(proof) == sorted(tree.inclusion_proof(idx[0], size))
        bad = []
        if proof:
            bad.append((idx, size, proof[1:]))
            bad.append((idx, size, [bytes(32), *proof[1:]]))
        if len(proof) > 1 and proof[0] != proof[1]:
            bad.append((idx, size, [proof[1], proof[0], *proof[2:]]))
        if size > 1:
            bad.append((idx, size + 1, proof))
            other = [i for i in range(size) if i not in idx]
            if other:
                bad.append((sorted([*idx[1:], rng.choice(other)]), size, proof))
        for i, n, p in bad:
            with pytest.raises(ProofError):
                verify_multi_inclusion(i, n, leaves if i == idx else [tree.leaf(k) for k in i],
                                       p, tree.root(n))


def test_not_a_proof_is_usage() -> None:
    with pytest.raises(NotAnEntityProof):
        verify_entity_proof(b'{"version":1}')


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "verifier", "entity-proof", *args],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)


def test_cli_exit_codes(tmp_path: Path) -> None:
    vectors = _vectors()
    by_name = {c["name"]: c for c in vectors["cases"]}
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps(vectors["trust"]["v1"]))
    for name, code in (("v1-drawn", 0), ("v1-truncated", 2), ("v1-reordered", 2),
                       ("v1-oversized", 2), ("v1-another_draw", 2)):
        f = tmp_path / f"{name}.json"
        f.write_bytes(_text(by_name[name], by_name))
        done = _cli(str(f), "--trust", str(trust))
        assert done.returncode == code, done.stdout + done.stderr
        assert "Traceback" not in done.stderr
        assert ("验证通过" if code == 0 else "验证失败") in done.stdout
    done = _cli(str(trust), "--trust", str(trust), "--json")
    assert done.returncode == 64 and json.loads(done.stdout)["exit_code"] == 64
    assert "不是实体证明" in done.stderr
    f = tmp_path / "drawn.json"
    f.write_bytes(_text(by_name["v1-drawn"], by_name))
    done = _cli(str(f), "--json")
    assert done.returncode == 3
    report = json.loads(done.stdout)
    assert report["trust_source"] == "file" and report["answer"]["verdict"] == "drawn"
    done = _cli(str(f), "--trust", str(trust), "--draw", "2025-X/Y")
    assert done.returncode == 2 and "not 2025-X/Y" in done.stdout


@pytest.fixture(scope="module", params=[1, 2], ids=["v1", "v2"])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[tuple[TestClient, Trust]]:
    db, _ = build_year(tmp_path_factory.mktemp("eproof"), targets=200, inspectors=40,
                       spec=request.param)
    with TestClient(create_app(db)) as client:
        yield client, load_trust(client.get("/trust.json").content)


def test_api_serves_proofs_the_checker_accepts(api: tuple[TestClient, Trust]) -> None:
    """Every draw of a drawn company (found through /v1/entities) links its compact proof,
    which checks (exit 0) and agrees with the answer; served again it is a 304."""
    client, trust = api
    draws = client.get("/v1/draws").json()
    execution = draws[0]["draw"]
    proof = verify_entity_proof(client.get(
        f"/v1/draws/{execution}/entities/91370302MA51LHXT5A/proof").content, trust)
    assert proof.exit_code == 0, proof.steps
    uscc = proof.answer["uscc"] if proof.answer else ""
    answer = client.get(f"/v1/entities/{uscc}").json()
    checked = 0
    for d in answer["draws"]:
        assert d["proof"].endswith(f"/entities/{uscc}/proof")
        got = client.get(d["proof"])
        assert got.status_code == 200 and "attachment" in got.headers["content-disposition"]
        result = verify_entity_proof(got.content, trust, expect_draw=d["draw"])
        assert result.exit_code == 0, result.steps
        assert result.answer is not None
        assert result.answer["in_pool"] == d["in_pool"]
        assert result.answer["excluded"] == d["excluded"]
        if d["drawn"] is not None:
            assert result.answer["drawn"] == d["drawn"]
        again = client.get(d["proof"], headers={"If-None-Match": got.headers["etag"]})
        assert again.status_code == 304
        checked += 1
    assert checked == len(answer["draws"])


def test_api_problems(api: tuple[TestClient, Trust]) -> None:
    client, _ = api
    bad = client.get("/v1/draws/2025-ZC-SCJGJ/T1-B1/entities/91370302MA51LHXT5B/proof")
    assert bad.status_code == 400 and bad.json()["type"].endswith("bad-uscc")
    assert "check character" in bad.json()["detail"] or "校验" in bad.text
    none = client.get("/v1/draws/no-plan/B1/entities/91370302MA51LHXT5A/proof")
    assert none.status_code == 404 and none.json()["type"].endswith("no-such-draw")
