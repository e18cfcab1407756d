"""The portal shows only whitelisted public fields (api/_whitelist.py; SPEC 6.3, 18.7).

The read model sees the log's full internal view, so this walks every page and every
JSON answer of a demo year (with the planted violations, whose audit findings name
conflicts, and a draw that excludes companies) and looks for the internal values the log
holds: risk classes and strata as keys, inspectors' validity dates, conflict pairs and
relations, substitution and void reasons, findings texts, the audit's sentences."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import create_app
from api._whitelist import PUBLIC_BODY, public_body
from ledger import Ledger
from tests.helpers import audit_export
from tests.portal_year import build_year
from verifier._cli import read_lines

# Keys no public answer may carry, at any depth.
BANNED_KEYS = frozenset({"risk", "stratum", "score", "valid_from", "valid_to",
                         "qualifications", "unit", "relation", "declared_on", "reason",
                         "approver", "findings", "attachments", "secret", "sealed",
                         "snapshot_key", "id_card", "phone", "mobile", "address"})
RELATIONS = ("former_employee", "shareholder")  # "kin" and "other" are too short to grep


@pytest.fixture(scope="module", params=[1, 2], ids=["v1", "v2"])
def year(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[tuple[TestClient, Ledger, dict[str, Any]]]:
    """A violations year as a v1 log (internal fields in clear in the entries the portal
    reads) and as a v2 one (sealed: the read model must not lean on the openings)."""
    root = tmp_path_factory.mktemp("privacy")
    db, _ = build_year(root, targets=300, inspectors=50, violations=True, spec=request.param)
    ledger = Ledger(db, create=False)
    ledger.export(root / "export", auditor=True)  # the audit body's export: all opened
    openings = root / "export" / "openings.jsonl"
    with openings.open("rb") as fh:
        report = audit_export(root / "export",
                              openings=read_lines(fh) if request.param >= 2 else None
                              ).to_json()
    assert report["exit_code"] == 1  # the planted violations, and nothing unverifiable
    assert report["findings"]  # the planted violations, described in sentences
    (root / "report.json").write_text(json.dumps(report, ensure_ascii=False))
    with TestClient(create_app(db, audit_report=root / "report.json")) as client:
        yield client, ledger, report
    ledger.close()


def _entries(ledger: Ledger) -> list[dict[str, Any]]:
    """Every entry with the body the rules read: in a v2 log its sealed fields opened
    from the operator's internal store (the full internal view the portal must hide)."""
    return [{"type": e.type, "time": e.time, "body": body}
            for _, e, body in ledger.logical_entries()]


def _keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _keys(v)
    elif isinstance(value, list):
        for v in value:
            yield from _keys(v)


def test_the_whitelist_keeps_no_internal_field(year: tuple[TestClient, Ledger,
                                                            dict[str, Any]]) -> None:
    """Every body of the log through ``public_body``: no banned key survives, and the
    types that are internal through and through give nothing."""
    entries = _entries(year[1]) + [json.loads(raw) for _, raw in year[1].entries()]
    seen = set()
    for entry in entries:
        kept = public_body(entry["type"], entry["body"])
        assert not set(_keys(kept)) & BANNED_KEYS, (entry["type"], kept)
        if entry["type"].startswith(("conflict.", "key.", "import.", "lead.", "calendar.")):
            assert kept == {}
        seen.add(entry["type"])
    assert {"draw.executed", "draw.substituted", "target.added", "inspector.added",
            "conflict.declared", "result.recorded"} <= seen
    assert not any(t.startswith("conflict.") for t in PUBLIC_BODY)


def _walk(client: TestClient, ledger: Ledger) -> dict[str, str]:
    """Every portal page and JSON answer of the year: path -> text."""
    state = ledger.state
    paths = ["/", "/plans", "/draws", "/results", "/audit", "/entity", "/entity?q=淄博"]
    paths += [f"/plans?dept={d}" for d in state.departments]
    paths += [f"/draws?dept={d}" for d in state.departments]
    paths += [f"/{s}" for s in ("draws/" + k.removeprefix("draw/") for k in state.draws)]
    pages = -(-sum(1 for s in state.streams if s.startswith("inspection/")) // 100)
    paths += [f"/results?page={n}" for n in range(1, pages + 1)]
    paths += [p + ("&" if "?" in p else "?") + "lang=en" for p in list(paths)]
    codes = {s.removeprefix("target/") for s in state.streams if s.startswith("target/")}
    paths += [f"/entity/{u}" for u in sorted(codes)]
    paths += [f"/v1/entities/{u}" for u in sorted(codes)]
    out = {}
    for path in paths:
        r = client.get(path)
        assert r.status_code == 200, path
        out[path] = r.text
    return out


def test_no_page_or_answer_shows_an_internal_value(
        year: tuple[TestClient, Ledger, dict[str, Any]]) -> None:
    client, ledger, report = year
    entries = _entries(ledger)
    texts = _walk(client, ledger)
    public_days = {e["time"][:10] for e in entries} | {
        str(v) for e in entries for k, v in e["body"].items()
        if k in ("draw_date", "ended_on", "received_on")}
    validity = {e["body"][k] for e in entries if e["type"].startswith("inspector.")
                for k in ("valid_from", "valid_to") if k in e["body"]} - public_days
    assert len(validity) > 20  # the check has something to find
    secrets = {e["body"]["reason"] for e in entries
               if e["type"] in ("draw.substituted", "draw.voided")}
    secrets |= {e["body"]["findings"] for e in entries if "findings" in e["body"]}
    secrets |= {f[lang] for f in report["findings"] for lang in ("zh", "en")}
    assert any("回避" in s for s in secrets)  # a substitution's reason is among them
    teams: dict[str, set[str]] = {}
    for info in ledger.state.draws.values():
        for uscc, team in info.teams:
            teams.setdefault(uscc, set()).update(team)
        for uscc, cert in info.recused:
            teams.setdefault(uscc, set()).add(cert)
    pairs = [(e["body"]["cert_no"], e["body"]["uscc"]) for e in entries
             if e["type"] == "conflict.declared"]
    hidden = [(c, u) for c, u in pairs if c not in teams.get(u, set())]
    assert len(hidden) >= 10
    for path, text in texts.items():
        if path.startswith("/v1/"):
            assert not set(_keys(json.loads(text))) & BANNED_KEYS, path
        for value in validity:
            assert value not in text, (path, value)
        for secret in secrets:
            assert secret not in text, (path, secret)
        for word in RELATIONS:
            assert word not in text, (path, word)
    for cert, uscc in hidden:  # a company's answers never name an inspector it declared
        for path in (f"/entity/{uscc}", f"/v1/entities/{uscc}"):
            if path in texts:
                assert cert not in texts[path], (path, cert)


def test_the_audit_summary_has_counts_not_sentences(
        year: tuple[TestClient, Ledger, dict[str, Any]], tmp_path: Path) -> None:
    client, _, report = year
    page = client.get("/audit").text
    rules = {f["rule"] for f in report["findings"]}
    assert rules and all(rule in page for rule in rules)
    assert "发现违规" in page  # the verdict of a year with violations
