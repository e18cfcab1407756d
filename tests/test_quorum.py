"""Quorum before publication (issue 14 item 2, SPEC.md "Publication"): a checkpoint the
witness quorum has not cosigned is never served, so a log cannot show one tree to the
public and another to an auditor without the witnesses seeing both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api import create_app
from ledger import Ledger, Parties, build_demo, sign_statement
from verifier import cosign, parse_note


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
    from verifier import NoteSigner
    from verifier._note import COSIGNATURE_TYPE
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
