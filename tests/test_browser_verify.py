"""The verification page (jsverifier/page/verify.html) in Debian's headless Chromium,
against the portal on real uvicorn: a drawn company's entity proof verifies in the page
(验证通过), a tampered one fails naming the step (验证失败), and screenshots of the home
and verification pages at 1280 and 390 px go to var/screenshots/.

Chromium is driven through its command line (--dump-dom, --screenshot) with a bounded
virtual time budget; the page fetches the proof and trust.json, then verifies offline.
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
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
                           f"--user-data-dir={root / 'chromium'}", "--virtual-time-budget=20000",
                           *args], capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return done.stdout.decode()


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as r:
        data: bytes = r.read()
        return data


def _drawn(db: str) -> tuple[str, str]:
    """A draw and a company it drew, from the log."""
    ledger = Ledger(db)
    try:
        for _, raw in ledger.entries(0, ledger.size):
            e = json.loads(raw)
            if e["type"] == "draw.executed" and e["body"]["outcome"]["selected"]:
                return e["stream"][len("draw/"):], e["body"]["outcome"]["selected"][0]["uscc"]
    finally:
        ledger.close()
    raise AssertionError("no draw with a selected company")


def test_page_verifies_a_proof_and_names_the_failing_step(portal: tuple[str, Path, str]
                                                          ) -> None:
    url, root, db = portal
    draw, uscc = _drawn(db)
    proof_url = f"/v1/draws/{draw}/entities/{uscc}/proof"
    page = f"{url}/verify/page/verify.html?proof={proof_url}"
    dom = _browse(root, "--dump-dom", page)
    assert "验证通过" in dom, dom[-3000:]
    assert dom.count('class="step pass"') == 11
    assert "被抽中" in dom or "取决于" in dom
    # the same proof with its pool leaf edited, given to the page as a data: URL
    obj = json.loads(_get(url + proof_url))
    obj["pool"]["leaf"] = obj["pool"]["leaf"].replace('"unit":"', '"unit":"X', 1)
    raw = json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    data_url = "data:application/json;base64," + base64.b64encode(raw).decode()
    bad = _browse(root, "--dump-dom", f"{url}/verify/page/verify.html?proof="
                  + urllib.request.quote(data_url, safe=""))
    assert "验证失败" in bad and "pool" in bad, bad[-3000:]
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1280, 390):
        for name, target in (("home", f"{url}/"), ("verification", page)):
            shot = SHOTS / f"{name}-{width}.png"
            _browse(root, f"--window-size={width},1600", f"--screenshot={shot}", target)
            assert shot.stat().st_size > 5000, shot
