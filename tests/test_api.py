"""The read-only API serves what the verifier can check offline."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import create_app
from ledger import Ledger, Parties, build_demo, init_log
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
    build_demo(ledger, Parties(root / "parties"), targets=30, inspectors=5)
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
    assert draws and all(d["status"] == "executed" and d["status_zh"] == "已执行"
                         for d in draws)
    r = c.get(draws[0]["bundle"])
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    report, view = verify_bundle(r.content, led.trust())
    assert report.exit_code == 0 and view.draw == draws[0]["draw"]
    assert c.get("/v1/draws/no-such-plan/B1/bundle").status_code == 404


def test_index_page_lists_the_draws(client: tuple[TestClient, Ledger]) -> None:
    """The portal's home, then its list of draws with their bundles (tests/test_portal.py
    has the rest of the portal)."""
    c, _ = client
    r = c.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "抽查公示" in r.text and "<script" not in r.text
    r = c.get("/draws")
    assert "/bundle" in r.text and "<script" not in r.text
    assert ">已执行<br>" in r.text  # a status in words, not a bare English code


# -- one error format: RFC 9457 problem+json, Chinese and English ------------------------

_CJK = re.compile(r"[\u4e00-\u9fff]")


def assert_problem(r: Any, status: int, name: str, path: str) -> dict[str, Any]:
    """The body is problem+json of type ``name``, Chinese in title/detail, English in
    title_en/detail_en, and nothing of a traceback."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert body["type"] == f"/problems/{name}" and body["status"] == status
    assert body["instance"] == path
    assert _CJK.search(body["title"]) and _CJK.search(body["detail"]), body
    assert re.search(r"[A-Za-z]{3}", body["title_en"]) and re.search(r"[A-Za-z]{3}",
                                                                      body["detail_en"])
    assert not _CJK.search(body["title_en"] + body["detail_en"]), body
    assert "Traceback" not in r.text
    return body


@pytest.mark.parametrize("method, path, params, status, name", [
    ("GET", "/no/such/route", {}, 404, "not-found"),
    ("GET", "/v1/draws/a/b/c/bundle", {}, 404, "not-found"),
    ("POST", "/healthz", {}, 405, "method-not-allowed"),
    ("DELETE", "/v1/entries", {}, 405, "method-not-allowed"),
    ("GET", "/v1/entries", {"start": "x"}, 422, "invalid-request"),
    ("GET", "/v1/entries", {"start": -1}, 422, "invalid-request"),
    ("GET", "/v1/entries", {"start": 5, "end": 2}, 400, "bad-range"),
    ("GET", "/v1/entries", {"start": 0, "end": 5000}, 400, "bad-range"),
    ("GET", "/v1/entries", {"start": 100000}, 400, "bad-range"),
    ("GET", "/v1/proof/abc", {}, 422, "invalid-request"),
    ("GET", "/v1/proof/-1", {}, 422, "invalid-request"),
    ("GET", "/v1/proof/100000", {}, 404, "not-covered"),
    ("GET", "/v1/draws/no-such-plan/B1/bundle", {}, 404, "no-such-draw"),
    ("GET", "/problems/no-such-type", {}, 404, "not-found"),
])
def test_every_error_is_bilingual_problem_json(client: tuple[TestClient, Ledger], method: str,
                                               path: str, params: dict[str, Any],
                                               status: int, name: str) -> None:
    body = assert_problem(client[0].request(method, path, params=params), status, name, path)
    if status == 405:
        assert "GET" in client[0].request(method, path).headers["allow"]
    if status == 422:  # FastAPI's validation, in our format: every field in both languages
        assert body["errors"] and all(
            e["field"].startswith(("query.", "path.")) and _CJK.search(e["detail"])
            and e["field"] in e["detail_en"] for e in body["errors"])


def test_problem_types_are_documented_where_type_points(
        client: tuple[TestClient, Ledger]) -> None:
    c, _ = client
    body = c.get("/no/such/route").json()
    page = c.get(body["type"])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert body["title"] in page.text and body["title_en"] in page.text


def test_a_log_without_checkpoint_answers_problems(tmp_path: Path) -> None:
    db = str(tmp_path / "db.sqlite")
    ledger = Ledger(db)
    init_log(ledger, Parties(tmp_path / "parties"), "test.example/ssj")
    ledger.close()
    with TestClient(create_app(db)) as c:
        assert_problem(c.get("/v1/checkpoint"), 404, "no-checkpoint", "/v1/checkpoint")
        assert_problem(c.get("/v1/proof/0"), 404, "not-covered", "/v1/proof/0")
        assert c.get("/v1/draws").json() == []


def test_an_unexpected_failure_is_a_problem_without_its_cause(tmp_path: Path) -> None:
    """A 500 says "internal" in both languages; the cause stays in the server's log."""
    db = tmp_path / "db.sqlite"
    ledger = Ledger(str(db))
    init_log(ledger, Parties(tmp_path / "parties"), "test.example/ssj")
    ledger.close()
    with TestClient(create_app(str(db)), raise_server_exceptions=False) as c:
        assert c.get("/healthz").status_code == 200
        with sqlite3.connect(db) as conn:
            conn.execute("DROP TABLE dl_entries")
        r = c.get("/healthz")
        assert_problem(r, 500, "internal", "/healthz")
        assert "dl_entries" not in r.text and "Error" not in r.json()["detail_en"]
