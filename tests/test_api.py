"""The read-only API serves what the verifier can check offline."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api import create_app
from ledger import Ledger, LogKeys, build_demo
from verifier import (
    NoteVerifier,
    parse_entry,
    parse_proof,
    verify_proof,
)
from verifier._bundle import verify_bundle


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Ledger]]:
    root = tmp_path_factory.mktemp("api")
    ledger = Ledger(str(root / "db.sqlite"))
    build_demo(ledger, LogKeys(root / "keys"), targets=30, inspectors=5)
    with TestClient(create_app(str(root / "db.sqlite"))) as c:
        yield c, ledger
    ledger.close()


def test_healthz(client: tuple[TestClient, Ledger]) -> None:
    c, ledger = client
    r = c.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok", "entries": ledger.size}


def test_checkpoint_is_the_latest_signed_note(client: tuple[TestClient, Ledger]) -> None:
    c, ledger = client
    r = c.get("/v1/checkpoint")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert r.text == ledger.chain.latest_checkpoint()[2]  # type: ignore[index]
    assert r.text.splitlines()[1] == str(ledger.size)


def test_entries_are_the_stored_bytes(client: tuple[TestClient, Ledger]) -> None:
    c, ledger = client
    r = c.get("/v1/entries", params={"start": 3, "end": 9})
    assert r.status_code == 200
    lines = r.content.splitlines()
    assert lines == [raw for _, raw in ledger.entries(3, 9)]
    assert [parse_entry(line).seq for line in lines] == list(range(3, 9))


@pytest.mark.parametrize("params, word", [({"start": 5, "end": 2}, "before"),
                                          ({"start": 0, "end": 5000}, "at most"),
                                          ({"start": 0, "end": 999}, "past"),
                                          ({"start": -1}, "start")])
def test_entries_bad_ranges(client: tuple[TestClient, Ledger], params: dict[str, int],
                            word: str) -> None:
    r = client[0].get("/v1/entries", params=params)
    assert r.status_code in (400, 422) and word in r.text


def test_proof_verifies_offline(client: tuple[TestClient, Ledger]) -> None:
    c, ledger = client
    trust = ledger.trust()
    for seq in (0, 7, ledger.size - 1):
        r = c.get(f"/v1/proof/{seq}")
        assert r.status_code == 200
        proof = parse_proof(r.text)
        raw = next(ledger.entries(seq, seq + 1))[1]
        checkpoint, cosigned = verify_proof(proof, parse_entry(raw).hash, trust.log_key,
                                            trust.origin, list(trust.witnesses))
        assert checkpoint.size == ledger.size and len(cosigned) == 2
        nxt = (seq + 1) % ledger.size
        other = next(ledger.entries(nxt, nxt + 1))[1]
        with pytest.raises(Exception, match=r"root|proof|inclusion"):
            verify_proof(proof, parse_entry(other).hash, trust.log_key, trust.origin)
    assert isinstance(trust.log_key, NoteVerifier)


def test_proof_beyond_the_checkpoint(client: tuple[TestClient, Ledger]) -> None:
    r = client[0].get("/v1/proof/100000")
    assert r.status_code == 404 and "checkpoint" in r.text


def test_draw_bundle_downloads_and_verifies(client: tuple[TestClient, Ledger]) -> None:
    c, led = client
    draws = c.get("/v1/draws").json()
    assert draws and all(d["status"] == "executed" for d in draws)
    r = c.get(draws[0]["bundle"])
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    report, view = verify_bundle(r.content, led.trust())
    assert report.exit_code == 0 and view.draw == draws[0]["draw"]
    assert c.get("/v1/draws/no-such-plan/B1/bundle").status_code == 404


def test_index_page_lists_the_draws(client: tuple[TestClient, Ledger]) -> None:
    c, _ = client
    r = c.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "抽取公示" in r.text and "/bundle" in r.text and "<script" not in r.text
