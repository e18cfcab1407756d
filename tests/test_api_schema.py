"""Hypothesis requests from the API's own OpenAPI document, on every endpoint
(schemathesis): whatever a client sends, the answer is never a 5xx, and every error is a
problem+json body (SPEC.md section 17). Short enough for `make test`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.python import asgi

from api import create_app
from ledger import Ledger, Parties, build_demo


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    root = tmp_path_factory.mktemp("schema")
    ledger = Ledger(str(root / "db.sqlite"))
    build_demo(ledger, Parties(root / "parties"), targets=30, inspectors=6)
    ledger.close()
    app = create_app(str(root / "db.sqlite"), Path(root / "parties" / "log"))
    try:
        with TestClient(app):  # runs the lifespan: the ledgers are open while cases run
            yield app
    finally:
        # schemathesis keeps each ASGI app's lifespan and its one event-loop thread running
        # until the interpreter exits (its atexit hook, called here). A thread left behind
        # would make later tests see a threaded process (no forked import child).
        asgi._shutdown()


def test_no_request_gets_a_server_error(app: FastAPI) -> None:
    """Each operation of /openapi.json, with schema-valid and schema-breaking data."""
    api = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 8  # every endpoint, POST /v1/statements included
    seen: set[tuple[str, str, int]] = set()
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
               | operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
        @settings(max_examples=50, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            response = case.call()
            seen.add((case.method, case.path, response.status_code))
            assert response.status_code < 500, (case.method, case.formatted_path,
                                                response.text[:500])
            if response.status_code >= 400:
                assert response.headers["content-type"][0].startswith(
                    "application/problem+json"), (case.formatted_path, response.headers)

        check()
    assert {path for _, path, _ in seen} >= {"/healthz", "/v1/statements", "/v1/proof/{seq}"}
