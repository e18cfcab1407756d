"""The verification page (jsverifier/page/verify.html) in Debian's headless Chromium,
against the portal on real uvicorn: a drawn company's entity proof verifies in the page
(验证通过), a tampered one fails naming the step (验证失败), and screenshots of the home,
draw, entity (the drawn company's) and verification pages at 1280 and 390 px go to
var/screenshots/ (and the tampered proof's failing page), each checked to be a PNG of
that width.

Chromium is driven through its command line (--dump-dom, --screenshot) with a bounded
virtual time budget; the page fetches the proof and trust.json, then verifies offline.
"""

from __future__ import annotations

import base64
import html
import json
import socket
import struct
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger import Ledger
from tests.helpers import require_tool, wait_until_up
from tests.portal_year import build_year

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "var" / "screenshots"


def _chromium() -> str:
    return require_tool("chromium", "DRAWLEDGER_REQUIRE_CHROMIUM",
                        "Debian's chromium is needed (apt-get install chromium)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, str]]:
    _chromium()
    root = tmp_path_factory.mktemp("browser")
    db, _ = build_year(root, targets=200, inspectors=40)
    port = _free_port()
    log = root / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "api", "--db", db, "--port", str(port),
                                 "--no-access-log"], cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, proc, log)
        yield url, root, db
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _browse(root: Path, *args: str) -> str:
    done = subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                           "--hide-scrollbars", "--run-all-compositor-stages-before-draw",
                           f"--user-data-dir={root / 'chromium'}", "--virtual-time-budget=20000",
                           *args], capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return done.stdout.decode()


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as r:
        data: bytes = r.read()
        return data


def _png_size(path: Path) -> tuple[int, int]:
    """The width and height in a PNG's IHDR chunk (after the signature and chunk header)."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", path
    width, height = struct.unpack(">II", head[16:24])
    return int(width), int(height)


def _drawn(db: str) -> tuple[str, str]:
    """A draw and a company it drew, from the log: one with a team and a published result
    when there is one (what the screenshots should show), else the first drawn."""
    ledger = Ledger(db)
    try:
        entries = [json.loads(raw) for _, raw in ledger.entries(0, ledger.size)]
    finally:
        ledger.close()
    published = {e["stream"] for e in entries if e["type"] == "result.published"}
    drawn = [(e["stream"][len("draw/"):], s) for e in entries if e["type"] == "draw.executed"
             for s in e["body"]["outcome"]["selected"]]
    assert drawn, "no draw with a selected company"
    for draw, s in drawn:
        if s["team"] and f"inspection/{draw}/{s['uscc']}" in published:
            return draw, s["uscc"]
    return drawn[0][0], drawn[0][1]["uscc"]


def test_page_verifies_a_proof_and_names_the_failing_step(portal: tuple[str, Path, str]
                                                          ) -> None:
    url, root, db = portal
    draw, uscc = _drawn(db)
    proof_url = f"/v1/draws/{draw}/entities/{uscc}/proof"
    # the company looked up by its code links the check in the browser
    entity = _get(f"{url}/entity?q={uscc}").decode()
    check = "/verify/page/verify.html?" + urllib.parse.urlencode({"proof": proof_url})
    assert f'href="{html.escape(check)}"' in entity, entity[-3000:]
    page = url + check
    dom = _browse(root, "--dump-dom", page)
    assert "验证通过" in dom, dom[-3000:]
    assert dom.count('class="step pass"') == 11
    assert "被抽中" in dom or "取决于" in dom
    # the same proof with its pool leaf edited, given to the page as a data: URL
    obj = json.loads(_get(url + proof_url))
    obj["pool"]["leaf"] = obj["pool"]["leaf"].replace('"unit":"', '"unit":"X', 1)
    raw = json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    data_url = "data:application/json;base64," + base64.b64encode(raw).decode()
    bad_page = f"{url}/verify/page/verify.html?proof=" + urllib.request.quote(data_url, safe="")
    bad = _browse(root, "--dump-dom", bad_page)
    assert "验证失败" in bad and "pool" in bad, bad[-3000:]
    SHOTS.mkdir(parents=True, exist_ok=True)
    plan_id, _, batch_id = draw.rpartition("/")
    pages = (("home", f"{url}/"), ("draw", f"{url}/draws/{plan_id}/{batch_id}"),
             ("entity", f"{url}/entity/{uscc}"), ("verification", page),
             ("verification-failed", bad_page))
    for width in (1280, 390):
        for name, target in pages:
            shot = SHOTS / f"{name}-{width}.png"
            shot.unlink(missing_ok=True)
            _browse(root, f"--window-size={width},1600", f"--screenshot={shot}", target)
            assert shot.stat().st_size > 5000, shot
            assert _png_size(shot) == (width, 1600), (shot, _png_size(shot))
