"""The public portal's routes (公示): the pages of ``api._pages`` and
``api._pages_entity``, and ``GET /v1/entities/{uscc}``, one company across every draw.

Pages are built from the read model (``api._portal_data``), which catches up with the
log before each page; a page is cached by what it shows (the log size, the published
checkpoints, the day, the audit report's version) and served with an ETag, so an
unchanged page is built once and answered 304 after that.
"""

from __future__ import annotations

import json
import os
import unicodedata
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from api._cache import LRU, cached
from api._pages import Ctx, draw_page, draws_page, home_page, plans_page
from api._pages_entity import audit_page, entity_page, error_page, results_page, search_page
from api._portal_data import Draw, PortalData
from api._problems import Problem
from api._whitelist import public_report
from ledger import Ledger
from verifier._entityproof import normalise_uscc

__all__ = ["PROOF_ROUTE", "normalise_uscc", "portal_router"]

PROOF_ROUTE = "/v1/draws/{plan_id}/{batch_id}/entities/{uscc}/proof"
_HTML = "text/html; charset=utf-8"
_SHANGHAI = timezone(timedelta(hours=8))


def _looks_like_code(text: str) -> bool:
    """A query typed as a code (ASCII letters and digits, at least one digit), not a name."""
    code = "".join(unicodedata.normalize("NFKC", text).split())
    return len(code) >= 8 and code.isascii() and code.isalnum() \
        and any(c.isdigit() for c in code)


def _serves_proofs(request: Request) -> bool:
    """Whether this app has the entity-proof route (another part of issue 16 adds it)."""
    return any(getattr(r, "path", None) == PROOF_ROUTE for r in request.app.routes)


class _Report:
    """The audit report file, re-read when it changes (the auditor replaces it after each
    export); only its public aggregates are kept."""

    def __init__(self, path: Path | None) -> None:
        self.path, self._seen = path, (0, 0)
        self._report: dict[str, Any] | None = None

    def get(self) -> tuple[dict[str, Any] | None, tuple[int, int]]:
        if self.path is None:
            return None, (0, 0)
        try:
            stat = os.stat(self.path)
            seen = (stat.st_mtime_ns, stat.st_size)
            if seen != self._seen:
                report = json.loads(self.path.read_bytes())
                self._report = public_report(report) if isinstance(report, dict) else None
                self._seen = seen
        except (OSError, ValueError):
            return None, (0, 0)
        return self._report, self._seen


def portal_router(reader: Callable[[], Ledger], clock: Callable[[], datetime],
                  audit_report: Path | None = None) -> APIRouter:
    """The portal over the reading ``Ledger``; ``audit_report`` is the JSON report
    (``python -m verifier audit DIR --json``) whose summary ``/audit`` shows."""
    router = APIRouter()
    data = PortalData()
    pages = LRU()
    report = _Report(audit_report)

    def today() -> date:
        return clock().astimezone(_SHANGHAI).date()

    def proof_link(served: bool) -> Callable[[Draw, str], str | None]:
        """The compact entity proof where the app serves one (``served``), else the
        draw's bundle where the public may have it (a v1 log), else None."""
        def link(draw: Draw, uscc: str) -> str | None:
            if served:
                return (f"/v1/draws/{quote(draw.plan_id)}/{quote(draw.batch_id)}/entities/"
                        f"{quote(uscc)}/proof")
            return data.bundle(draw)
        return link

    def page(request: Request, build: Callable[[Ctx], bytes], *key: Any,
             status: int = 200) -> Response:
        led = reader()
        data.refresh(led)
        lang = "en" if request.query_params.get("lang") == "en" else "zh"
        params = tuple((k, v) for k, v in request.query_params.items() if k != "lang")
        ctx = Ctx(lang, request.url.path, params, today())
        version = (data.size, data.checkpoints, ctx.today, report.get()[1])
        item = pages.get((request.url.path, params, lang, version, *key),
                         lambda: build(ctx))
        if status != 200:
            return Response(item[0], status_code=status, media_type=_HTML)
        return cached(request, item, _HTML, immutable=False)

    @router.get("/", include_in_schema=False)
    def home(request: Request) -> Response:
        """The district: its departments, counts, the latest checkpoint and its witnesses,
        the trust root and how to pin it."""
        def build(ctx: Ctx) -> bytes:
            latest = reader().published_checkpoint()
            return home_page(ctx, data, reader().trust(), latest[1].hex() if latest else "")
        return page(request, build)

    @router.get("/plans", include_in_schema=False)
    def plans(request: Request, dept: str = "", year: str = "") -> Response:
        return page(request, lambda ctx: plans_page(ctx, data, dept, year))

    @router.get("/draws", include_in_schema=False)
    def draws(request: Request, dept: str = "") -> Response:
        return page(request, lambda ctx: draws_page(ctx, data, reader().trust(), dept))

    @router.get("/draws/{plan_id}/{batch_id}", include_in_schema=False)
    def draw(request: Request, plan_id: str, batch_id: str) -> Response:
        data.refresh(reader())
        found = data.draws.get(f"{plan_id}/{batch_id}")
        if found is None:
            return page(request, lambda ctx: error_page(
                ctx, data, f"没有抽取 {plan_id}/{batch_id}", f"no draw {plan_id}/{batch_id}"),
                status=404)
        return page(request, lambda ctx: draw_page(ctx, data, found, reader().trust()))

    @router.get("/results", include_in_schema=False)
    def results(request: Request, dept: str = "", page_no: int = Query(1, alias="page", ge=1,
                                                                      le=100_000)) -> Response:
        return page(request, lambda ctx: results_page(ctx, data, dept, page_no))

    @router.get("/audit", include_in_schema=False)
    def audit(request: Request) -> Response:
        return page(request, lambda ctx: audit_page(ctx, data, report.get()[0]))

    @router.get("/entity", include_in_schema=False)
    def search(request: Request, q: str = Query("", max_length=100)) -> Response:
        """The lookup form: a code goes to its page, other text searches the names."""
        lang = "?lang=en" if request.query_params.get("lang") == "en" else ""
        if q.strip() and _looks_like_code(q):
            code, error = normalise_uscc(q)
            if error is None:
                return RedirectResponse(f"/entity/{quote(code)}{lang}", status_code=303)
            return page(request, lambda ctx: search_page(ctx, data, q, [], error), status=400)
        name = unicodedata.normalize("NFKC", q).strip()
        return page(request, lambda ctx: search_page(
            ctx, data, q, data.find_names(name) if name else [], None))

    @router.get("/entity/{uscc}", include_in_schema=False)
    def entity(request: Request, uscc: str) -> Response:
        code, error = normalise_uscc(uscc)
        if error is not None:
            return page(request, lambda ctx: search_page(ctx, data, uscc, [], error),
                        status=400)
        if code != uscc:
            lang = "?lang=en" if request.query_params.get("lang") == "en" else ""
            return RedirectResponse(f"/entity/{quote(code)}{lang}", status_code=308)
        served = _serves_proofs(request)
        return page(request, lambda ctx: entity_page(
            ctx, data, data.entity(reader(), code, ctx.today, proof_link(served))), served)

    @router.get("/v1/entities/{uscc}")
    def entity_json(request: Request, uscc: str) -> Response:
        """One company across every draw: each draw whose committed pool held it (or
        excluded it), whether it was drawn, its team, the result and its publication,
        and where to download each proof. The code is normalised as SPEC 15.3 says; a
        code that is still not valid is a ``bad-uscc`` problem naming the fault."""
        code, error = normalise_uscc(uscc)
        if error is not None:
            raise Problem("bad-uscc", *error)
        led = reader()
        data.refresh(led)
        served = _serves_proofs(request)
        version = (data.size, data.checkpoints, today(), served)
        item = pages.get(("entity.json", code, version), lambda: json.dumps(
            data.entity(led, code, today(), proof_link(served)), ensure_ascii=False,
            separators=(",", ":")).encode())
        return cached(request, item, "application/json", immutable=False)

    return router

