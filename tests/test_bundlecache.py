"""Bundles of executed draws are built once (ledger._bundlecache): kept beside the
database under the hash of their bytes, served from there while the log grows without an
entry the bundle would prove (the bytes are then exactly what ``make_bundle`` gives), and
built again when one comes or the cached file is damaged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import ledger._bundlecache as bundlecache
from ledger import Ledger, Parties, build_demo, sign_statement
from ledger._admin import publish_plan
from ledger._bundle import make_bundle
from verifier import canonical


@pytest.fixture
def year(tmp_path: Path) -> tuple[Ledger, Parties, str]:
    keys = Parties(tmp_path / "parties")
    ledger = Ledger(str(tmp_path / "db.sqlite"))
    build_demo(ledger, keys, targets=300, inspectors=40)
    ledger.close()
    ledger = Ledger(str(tmp_path / "db.sqlite"), create=False)  # the real clock from here
    draw = min(ledger.state.draws.items(), key=lambda kv: kv[1].commit_seq)[0]
    yield ledger, keys, draw.removeprefix("draw/")
    ledger.close()


def _builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The draws ``bundle_bytes`` builds from here on (it still builds them)."""
    built: list[str] = []

    def counted(ledger: Ledger, draw_id: str) -> dict[str, Any]:
        built.append(draw_id)
        return make_bundle(ledger, draw_id)
    monkeypatch.setattr(bundlecache, "make_bundle", counted)
    return built


def _grow(ledger: Ledger, keys: Parties, statements: list[Any]) -> None:
    ledger.submit(statements)
    assert ledger.checkpoint(keys.load("log"), keys.witness_tools()) is not None


def test_built_once_then_served_while_nothing_it_proves_changes(
        year: tuple[Ledger, Parties, str], monkeypatch: pytest.MonkeyPatch) -> None:
    ledger, keys, draw = year
    built = _builds(monkeypatch)
    first = bundlecache.bundle_bytes(ledger, draw)
    assert first == canonical(make_bundle(ledger, draw)) and built == [draw]
    folder = bundlecache.cache_dir(ledger)
    assert folder is not None and any(folder.glob("*.json"))
    assert bundlecache.bundle_bytes(ledger, draw) == first and built == [draw]
    # The log grows (registry churn, a newer published checkpoint): the same bytes, from
    # the cache, and make_bundle agrees.
    key = keys.load("dept-ZC-SCJGJ")
    streams = sorted(s for s, info in ledger.state.streams.items()
                     if s.startswith("target/") and info.owner == "ZC-SCJGJ" and not info.ended)
    _grow(ledger, keys, [sign_statement(key, "target.updated", s, "ZC-SCJGJ",
                                        {"uscc": s.split("/")[1], "dept": "ZC-SCJGJ",
                                         "risk": "A"}) for s in streams[:3]])
    assert bundlecache.bundle_bytes(ledger, draw) == first and built == [draw]
    assert canonical(make_bundle(ledger, draw)) == first


def test_built_again_when_an_entry_it_proves_comes(
        year: tuple[Ledger, Parties, str], monkeypatch: pytest.MonkeyPatch) -> None:
    ledger, keys, draw = year
    first = bundlecache.bundle_bytes(ledger, draw)
    built = _builds(monkeypatch)
    plan_id = draw.rpartition("/")[0]
    dept = str(ledger.state.plans[plan_id].body["dept"])
    publish_plan(ledger, keys.load(f"dept-{dept}"), dept, plan_id,
                 "https://example.gov.cn/plan-again")  # the plan's stream: the bundle keeps it
    assert ledger.checkpoint(keys.load("log"), keys.witness_tools()) is not None
    again = bundlecache.bundle_bytes(ledger, draw)
    assert built == [draw] and again != first and again == canonical(make_bundle(ledger, draw))


def test_a_damaged_cached_file_is_built_again(
        year: tuple[Ledger, Parties, str], monkeypatch: pytest.MonkeyPatch) -> None:
    ledger, _, draw = year
    first = bundlecache.bundle_bytes(ledger, draw)
    folder = bundlecache.cache_dir(ledger)
    assert folder is not None
    (folder / f"{bundlecache._sha(first)}.json").write_bytes(first[:-1] + b" ")
    built = _builds(monkeypatch)
    assert bundlecache.bundle_bytes(ledger, draw) == first and built == [draw]
