"""The public portal (issue 16): every page in both languages, the company lookup by code
and by name, a bad code, ``GET /v1/entities/{uscc}`` against the verified draw bundles
for a drawn, a not drawn, an excluded and an absent company, gzip and caching over real
uvicorn, the phone-width stylesheet and the published trust root."""

from __future__ import annotations

import gzip
import hashlib
import http.client
import json
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import create_app
from ledger import Ledger
from ledger._bundle import make_bundle
from tests.helpers import uvicorn_serving
from tests.portal_year import NEXT_BATCH, NEXT_PLAN, build_year
from verifier import canonical
from verifier._bundle import entity_report, verify_bundle
from verifier._uscc import uscc_check_char

DB: list[str] = []  # the module's database, for a second app over it
PAGES = ["/", "/plans", "/draws", f"/draws/{NEXT_PLAN}/{NEXT_BATCH}", "/results", "/audit",
         "/entity", "/entity?q=淄博"]


@pytest.fixture(scope="module", params=[1, 2], ids=["v1", "v2"])
def year(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[tuple[TestClient, Ledger]]:
    """A v1 log (every field in its entries) and a v2 one (SPEC 21: internal fields
    sealed, full bundles for auditors only)."""
    root = tmp_path_factory.mktemp("portal")
    db, _ = build_year(root, spec=request.param)
    DB[:] = [db]
    ledger = Ledger(db, create=False)
    with TestClient(create_app(db)) as client:
        yield client, ledger
    ledger.close()


def _bodies(ledger: Ledger, type_: str, key: str) -> dict[str, dict[str, Any]]:
    """The bodies of ``type_`` entries by their ``key`` field."""
    out = {}
    for _, raw in ledger.entries():
        entry = json.loads(raw)
        if entry["type"] == type_:
            out[entry["body"][key]] = entry["body"]
    return out


def _draws(ledger: Ledger) -> dict[str, Any]:
    return {s.removeprefix("draw/"): d for s, d in ledger.state.draws.items()}


@pytest.mark.parametrize("path", PAGES)
def test_each_page_in_chinese_and_in_english(year: tuple[TestClient, Ledger],
                                             path: str) -> None:
    client, _ = year
    zh = client.get(path)
    sep = "&" if "?" in path else "?"
    en = client.get(f"{path}{sep}lang=en")
    assert zh.status_code == en.status_code == 200
    assert '<html lang="zh-CN">' in zh.text and '<html lang="en">' in en.text
    # the switch to the other language on every page, the same page
    assert re.search(r'href="[^"]*lang=en"', zh.text), path
    assert 'lang="zh-CN">中文</span>' in en.text
    assert "抽查公示" in zh.text and "Random inspections" in en.text
    for page in (zh.text, en.text):
        assert "<script" not in page and "<link" not in page  # nothing to run or fetch
        assert not re.search(r'src="|url\(|@import|https?://[^"]*\.(css|js|woff2?)', page)
        assert 'name="viewport" content="width=device-width' in page


def test_phone_width_stylesheet_is_one_column_under_600px(
        year: tuple[TestClient, Ledger]) -> None:
    page = year[0].get("/").text
    style = page[page.index("<style>"):page.index("</style>")]
    phone = style[style.index("@media (max-width:600px)"):]
    assert ".page{grid-template-columns:1fr" in phone
    assert "table.rows td::before{content:attr(data-label)" in phone  # tables as cards
    assert '"Noto Sans CJK SC"' in style and "system-ui" in style  # system fonts only
    assert 'data-label="' in year[0].get("/draws").text


def test_home_shows_the_checkpoint_witnesses_and_trust_fingerprint(
        year: tuple[TestClient, Ledger]) -> None:
    client, ledger = year
    page = client.get("/").text
    published = ledger.published_checkpoint()
    assert published is not None and published[1].hex() in page
    trust = client.get("/trust.json")
    assert trust.content == canonical(ledger.trust().to_json())
    fingerprint = hashlib.sha256(trust.content).hexdigest()
    assert f'<code id="fingerprint">{fingerprint}</code>' in page
    assert "sha256sum trust.json" in page and "年度抽查计划" in page
    for witness in ledger.trust().witnesses:
        assert witness.name in page
    for name in ledger.state.departments.values():
        assert name in page


def test_plans_show_their_filing_status(year: tuple[TestClient, Ledger]) -> None:
    client, _ = year
    page = client.get("/plans", params={"dept": "ZC-SCJGJ"}).text
    assert NEXT_PLAN in page and "2025-ZC-SCJGJ" in page and "2025-ZC-FGJ" not in page
    assert page.count(">按时</span>") >= 6  # filed, received, published, both plans
    assert ">逾期</span>" not in page
    assert "on time" in client.get("/plans?lang=en").text


def test_draw_page_names_the_teams_and_shows_seed_round_and_cutoffs(
        year: tuple[TestClient, Ledger]) -> None:
    client, ledger = year
    info = _draws(ledger)[f"{NEXT_PLAN}/{NEXT_BATCH}"]
    raw = next(ledger.entries(info.executed_seq, info.executed_seq + 1))[1]
    outcome = json.loads(raw)["body"]["outcome"]
    page = client.get(f"/draws/{NEXT_PLAN}/{NEXT_BATCH}").text
    assert outcome["seed"] in page and str(info.commit["beacon"]["round"]) in page
    assert all(cutoff in page for cutoff in outcome["cutoffs"].values())
    names = _bodies(ledger, "inspector.added", "cert_no")
    for uscc, team in info.teams:
        assert uscc in page
        for cert in team:
            assert f"{names[cert]['name']} <code>{cert}</code>" in page
    assert ">见证</span>" in page  # committed before the round, cosigned in time
    assert client.get("/draws/no-such/draw").status_code == 404


def test_search_by_code_normalises_and_by_name_lists(year: tuple[TestClient, Ledger]) -> None:
    client, ledger = year
    uscc, team = next(iter(_draws(ledger)[f"{NEXT_PLAN}/{NEXT_BATCH}"].teams))
    typed = " ".join(unicodedata.normalize("NFKC", uscc).lower()[i:i + 6]
                     for i in range(0, 18, 6))
    typed = typed.replace("1", "１")  # full-width, spaced, lower case: as people type it
    r = client.get("/entity", params={"q": typed}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/entity/{uscc}"
    page = client.get(r.headers["location"]).text
    assert uscc in page and all(cert in page for cert in team) and ">被抽中<" in page
    name = _bodies(ledger, "target.added", "uscc")[uscc]["name"]
    found = client.get("/entity", params={"q": name[2:6]}).text
    assert f'href="/entity/{uscc}"' in found


@pytest.mark.parametrize("code, fault", [("91370302MAX60LD29X", "check character"),
                                         ("9137030", "characters, needs 18")])
def test_a_bad_code_is_refused_naming_the_fault(year: tuple[TestClient, Ledger], code: str,
                                                fault: str) -> None:
    client, _ = year
    r = client.get(f"/v1/entities/{code}")
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"] == "/problems/bad-uscc" and fault in body["detail_en"]
    assert "统一社会信用代码" in body["detail"] and "无效" in body["detail"]
    page = client.get(f"/entity/{code}")
    assert page.status_code == 400 and body["detail"].split("：")[1][:6] in page.text
    if len(code) == 18:  # typed in the search box: the same refusal, in the page
        r = client.get("/entity", params={"q": code.lower()})
        assert r.status_code == 400 and "无效" in r.text


def _bundles(ledger: Ledger) -> dict[str, Any]:
    """Each executed draw's bundle, verified: the independent answer per company."""
    out = {}
    for draw_id, info in _draws(ledger).items():
        if info.executed:
            report, view = verify_bundle(canonical(make_bundle(ledger, draw_id)),
                                         ledger.trust())
            assert report.exit_code == 0, report.findings
            out[draw_id] = view
    return out


def test_entity_json_matches_the_verified_bundles(year: tuple[TestClient, Ledger]) -> None:
    """Drawn, not drawn, excluded and absent companies: every draw the JSON lists (and
    none it leaves out) agrees with ``entity_report`` on the verified bundle."""
    client, ledger = year
    views = _bundles(ledger)
    nxt = views[f"{NEXT_PLAN}/{NEXT_BATCH}"]
    assert nxt.snapshot is not None and nxt.snapshot.excluded
    excluded = nxt.snapshot.excluded[0]
    drawn = next(iter(dict(_draws(ledger)["2025-ZC-FGJ/T1-B1"].teams)))
    pool = views["2025-ZC-FGJ/T1-B1"].snapshot
    assert pool is not None
    teams = dict(_draws(ledger)["2025-ZC-FGJ/T1-B1"].teams)
    not_drawn = next(m.uscc for m in pool.pool if m.uscc not in teams)
    body = "91370302MA00000" + "01"
    absent = body + uscc_check_char(body)
    kinds = {"drawn": drawn, "not drawn": not_drawn, "excluded": excluded, "absent": absent}
    for kind, uscc in kinds.items():
        answer = client.get(f"/v1/entities/{uscc}").json()
        listed = {d["draw"]: d for d in answer["draws"]}
        for draw_id, view in views.items():
            truth = entity_report(view, uscc)
            if not (truth["in_pool"] or truth.get("excluded")):
                assert draw_id not in listed, (kind, draw_id)
                continue
            got = listed[draw_id]
            assert got["in_pool"] == truth["in_pool"], (kind, draw_id)
            assert got["excluded"] == bool(truth.get("excluded")), (kind, draw_id)
            assert got["drawn"] == truth["drawn"], (kind, draw_id)
            assert [p["cert_no"] for p in got["team"]] == list(
                dict(_draws(ledger)[draw_id].teams).get(uscc, ())), (kind, draw_id)
            assert got["pool_consistent"] is True
        assert answer["draws_examined"] == len(views)
    assert client.get(f"/v1/entities/{absent}").json()["draws"] == []
    assert client.get(f"/v1/entities/{absent}").json()["registered"] is False
    got = {d["draw"]: d for d in client.get(f"/v1/entities/{excluded}").json()["draws"]}
    assert got[f"{NEXT_PLAN}/{NEXT_BATCH}"]["excluded"] is True
    assert "因排除期" in client.get(f"/entity/{excluded}").text


def test_entity_json_carries_the_result_and_its_publication(
        year: tuple[TestClient, Ledger]) -> None:
    client, ledger = year
    info = _draws(ledger)["2025-ZC-FGJ/T1-B1"]
    uscc = next(u for u, t in info.teams if t)
    stream = f"inspection/2025-ZC-FGJ/T1-B1/{uscc}"
    bodies = {json.loads(raw)["type"]: json.loads(raw)["body"] for _, raw in ledger.entries()
              if f'"stream":"{stream}"' in raw.decode()}
    got = next(d for d in client.get(f"/v1/entities/{uscc}").json()["draws"]
               if d["draw"] == "2025-ZC-FGJ/T1-B1")
    assert got["result"]["outcome"] == bodies["result.recorded"]["outcome"]
    assert got["result"]["deadline"] == "on_time" and got["result"]["due"]
    assert got["publication"]["url"] == bodies["result.published"]["url"]
    assert got["publication"]["deadline"] == "on_time"
    # the compact entity proof (SPEC 22), on either log; the bundle a v2 log gives
    # auditors only
    bundle = "/v1/draws/2025-ZC-FGJ/T1-B1/bundle" if ledger.state.spec < 2 else None
    assert got["bundle"] == bundle
    assert got["proof"] == f"/v1/draws/2025-ZC-FGJ/T1-B1/entities/{uscc}/proof"
    assert client.get(got["proof"]).status_code == 200
    if bundle is None:
        assert client.get("/v1/draws/2025-ZC-FGJ/T1-B1/bundle").status_code == 403
        assert "完整证明包仅供审计机关" in client.get("/draws").text


def test_results_page_shows_deadlines(year: tuple[TestClient, Ledger]) -> None:
    client, _ = year
    page = client.get("/results").text
    assert "录入（3 个工作日内）" in page and "公示（20 个工作日内）" in page
    assert page.count(">按时</span>") >= 10 and "期限" in page


def test_audit_page_without_and_with_a_report(year: tuple[TestClient, Ledger],
                                              tmp_path: Path) -> None:
    client, ledger = year
    assert "未配置审计报告" in client.get("/audit").text
    report = {"exit_code": 1, "entries": ledger.size, "checkpoints": 3,
              "checkpoints_verified": 3, "findings": [
                  {"rule": "V2.plan_filed_late", "kind": "violation", "dept": "ZC-TJJ",
                   "zh": "秘密句子", "en": "a sentence"}],
              "departments": {"ZC-TJJ": {"name": "区统计局", "plans": 1, "plans_on_time": 0,
                                         "findings": 1}}}
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report, ensure_ascii=False))
    with TestClient(create_app(DB[0], audit_report=path)) as c:
        page = c.get("/audit").text
        assert "V2.plan_filed_late" in page and "发现违规" in page and "0/1" in page
        assert "秘密句子" not in page and "a sentence" not in page


# -- over real uvicorn: gzip and caching ---------------------------------------------------
@pytest.fixture
def served(year: tuple[TestClient, Ledger]) -> Iterator[int]:
    with uvicorn_serving(year[0].app) as port:
        yield port


def _get(port: int, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def test_pages_are_gzipped_and_revalidated(served: int) -> None:
    status, headers, body = _get(served, "/results", {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["content-encoding"] == "gzip"
    page = gzip.decompress(body)
    assert len(body) * 3 < len(page) and "检查结果公示" in page.decode()
    assert headers["cache-control"] == "no-cache" and headers["etag"]
    status, _, body = _get(served, "/results", {"If-None-Match": headers["etag"]})
    assert status == 304 and body == b""
    status, headers, body = _get(served, "/results", {})  # no gzip unless asked
    assert "content-encoding" not in headers and body == page
    status, headers, _ = _get(served, "/healthz", {"Accept-Encoding": "gzip"})
    assert status == 200 and "content-encoding" not in headers  # small: not compressed


def test_the_verification_page_has_a_short_address(year: tuple[TestClient, Ledger]) -> None:
    """/verify (what people type or print) leads to the page that checks a proof."""
    client, _ = year
    for short in ("/verify", "/verify/"):
        moved = client.get(short, follow_redirects=False)
        assert moved.status_code == 307
        assert moved.headers["location"] == "/verify/page/verify.html"
    page = client.get("/verify/")
    assert page.status_code == 200 and "验证" in page.text
