"""Reads never wait on writes or on each other's slow builds (issue 13 item 7), cached
artefacts carry ETag and Cache-Control, and /docs loads nothing from the internet
(item 6)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import create_app
from ledger import Ledger, Parties, build_demo
from tests.helpers import uvicorn_serving


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("reads")
    ledger = Ledger(str(root / "db.sqlite"))
    build_demo(ledger, Parties(root / "parties"), targets=240, inspectors=48)
    ledger.close()
    yield str(root / "db.sqlite")


@pytest.fixture
def server(demo: str) -> Iterator[tuple[str, FastAPI]]:
    """The API under real uvicorn on a free port, in this process (its locks in reach)."""
    app = create_app(demo)
    with uvicorn_serving(app) as port:
        yield f"http://127.0.0.1:{port}", app


def test_healthz_answers_while_bundle_builds_are_held(server: tuple[str, FastAPI]) -> None:
    """Once, one lock served every request: /healthz took 4.35 s behind four bundle builds.
    Here a build is held (its lock taken, as a 1.2 s build holds it) while four bundle
    requests wait behind it; /healthz, entries and the checkpoint still answer at once."""
    base, app = server
    draws = [d["bundle"] for d in httpx.get(f"{base}/v1/draws").json()
             if d["status"].startswith("executed")][:4]
    assert len(draws) == 4
    done: list[int] = []

    def fetch(path: str) -> None:
        done.append(httpx.get(base + path, timeout=120).status_code)

    with app.state.read_lock:
        threads = [threading.Thread(target=fetch, args=(d,)) for d in draws]
        for t in threads:
            t.start()
        time.sleep(0.3)
        for path in ("/healthz", "/v1/entries?start=0&end=10", "/v1/checkpoint"):
            start = time.monotonic()
            r = httpx.get(base + path, timeout=30)
            took = time.monotonic() - start
            assert r.status_code == 200 and took < 0.5, f"{path} took {took:.2f} s"
        assert done == []  # the builds are still held
    for t in threads:
        t.join()
    assert done == [200] * 4


def test_immutable_reads_carry_etags_and_answer_304(demo: str) -> None:
    with TestClient(create_app(demo)) as c:
        r = c.get("/v1/entries", params={"start": 0, "end": 5})
        assert r.headers["cache-control"].endswith("immutable") and r.headers["etag"]
        again = c.get("/v1/entries", params={"start": 0, "end": 5},
                      headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        assert "immutable" not in c.get("/v1/entries").headers["cache-control"]
        size = int(c.get("/v1/checkpoint").text.splitlines()[1])
        p = c.get("/v1/proof/3", params={"size": size})
        assert p.status_code == 200 and p.headers["cache-control"].endswith("immutable")
        assert c.get("/v1/proof/3").headers["cache-control"] == "no-cache"
        bundle = c.get(c.get("/v1/draws").json()[0]["bundle"])
        assert bundle.status_code == 200 and bundle.headers["cache-control"] == "no-cache"
        cached = c.get(c.get("/v1/draws").json()[0]["bundle"],
                       headers={"If-None-Match": bundle.headers["etag"]})
        assert cached.status_code == 304


def test_docs_load_nothing_from_another_host(demo: str) -> None:
    """The users' machines often have no internet: Swagger UI's script, stylesheet and
    icon come from this server (the swagger-ui-bundle package), never a CDN."""
    with TestClient(create_app(demo)) as c:
        page = c.get("/docs")
        assert page.status_code == 200
        refs = re.findall(r'(?:src|href)=["\']([^"\']+)', page.text)
        urls = re.findall(r"url:\s*['\"]([^'\"]+)", page.text)
        assert refs and all(ref.startswith("/") and not ref.startswith("//")
                            for ref in refs + urls), refs + urls
        assert "http://" not in page.text and "https://" not in page.text
        for ref in refs:
            assert c.get(ref).status_code == 200, ref
        assert c.get("/redoc").status_code == 404  # ReDoc would load its script from a CDN
