"""FastAPI app: the latest checkpoint, entries as stored bytes, per-entry proofs, draws
and their proof bundles, and signed submissions (``POST /v1/statements``) answered with
receipts.

Every response is something a client can check offline with ``python -m verifier``: the
checkpoint is a C2SP signed note, entries are the exact bytes that were hashed, proofs
are C2SP tlog-proof@v1 against a signed checkpoint, and receipts are promises signed by
the log key.

Reads never wait on writes: submissions go through one ``Ledger`` (the writer), reads
that need the replayed state through another (its own database connection and lock), and
reads of stored bytes straight to the database. What can no longer change (entries below
the head, a proof to a given checkpoint, a bundle as of a checkpoint) is cached in a
bounded LRU and served with an ``ETag``; ``If-None-Match`` gets 304.
"""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path as FilePath

from fastapi import FastAPI, Path, Query, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

from api._auditor import auditor_router
from api._cache import CACHE_ITEMS, LRU, cached
from api._portal import PROOF_ROUTE, normalise_uscc, portal_router
from api._problems import Problem, install
from api._submit import Submissions, install_submissions
from api._tiles import tiles_router
from api._todo import todo_router
from ledger import InputError, Ledger
from ledger._bundle import draw_lines, draw_status_zh
from ledger._bundlecache import bundle_bytes
from ledger._checkpointer import Checkpointer, load_witnesses, publication_status
from ledger._draws import draw_stream
from ledger._entityproof import make_entity_proof
from verifier import NoteSigner, TlogProof, canonical, format_proof, load_store
from verifier._note import ED25519_TYPE
from verifier._sealed import SPEC_V2

__all__ = ["CACHE_ITEMS", "MAX_PAGE", "app_from_env", "create_app"]

DB_ENV, KEYS_ENV = "DRAWLEDGER_API_DB", "DRAWLEDGER_API_KEYS"
AUDIT_ENV = "DRAWLEDGER_API_AUDIT_REPORT"

MAX_PAGE = 1000


def _check_start(db: str, log_key: NoteSigner | None, keys: FilePath | None,
                 witnesses: FilePath | None) -> None:
    """Refuse, before serving, a key store whose key is not the genesis's log key or a
    witness list that names a key the genesis does not: an error message, not a failed
    start-up with a traceback (the lifespan checks the key again for app_from_env)."""
    ledger = Ledger(db, create=False, replay=False)  # the genesis is all it reads
    try:
        if log_key is not None and log_key.verifier.vkey != ledger.genesis()["log_key"]:
            raise InputError(f"key store {keys}: its key is not the log key the genesis "
                             "entry names")
        if witnesses is not None:
            load_witnesses(witnesses, ledger.trust())
    finally:
        ledger.close()


def create_app(db: str, keys: FilePath | None = None, *,
               clock: Callable[[], datetime] = lambda: datetime.now(UTC),
               witnesses: FilePath | None = None, checkpoint_every: float = 1.0,
               audit_report: FilePath | None = None) -> FastAPI:
    """The API over the log in ``db`` (a SQLite path or a postgresql:// URL); starting it
    raises ``ledger.NoLogError`` when ``db`` holds no log (it never creates one).

    ``keys`` is the log's key store (a folder holding exactly one key, ``log.skey``: the
    only secret the server holds; it signs receipts' promises). KeyFileError when it is
    not one. Without it the API is read-only and ``POST /v1/statements`` answers 503.

    ``witnesses`` (``witnesses.json``, with ``keys``) runs the checkpointer in this
    process: every ``checkpoint_every`` seconds a new checkpoint goes to the witnesses
    and is published once the quorum cosigned (``/v1/status`` shows how it goes).

    The public portal (``api._portal``: ``/``, ``/plans``, ``/draws``, ``/results``,
    ``/audit``, ``/entity``, ``/v1/entities/{uscc}``) shows the summary of
    ``audit_report`` (``python -m verifier audit DIR --json``) when one is given.
    """
    state: dict[str, Ledger] = {}
    signer: dict[str, NoteSigner] = {}
    read_lock = threading.Lock()  # the reader's replayed state; writers never take it
    pages, proofs, bundles, eproofs = LRU(), LRU(), LRU(), LRU()

    if keys is not None:  # refused here, before serving: a wrong store is not a 503 later
        signer["log"] = load_store(keys, ED25519_TYPE)
    if witnesses is not None and keys is None:
        raise InputError("--witnesses needs --keys: the checkpointer signs with the log key")
    if "log" in signer or witnesses is not None:
        _check_start(db, signer.get("log"), keys, witnesses)
    publisher: dict[str, Checkpointer] = {}
    stop_publishing = threading.Event()
    threads: list[threading.Thread] = []

    running = [0]  # lifespans entered: a test harness may nest one in another
    submissions = Submissions(lambda: state["ledger"], lambda: signer.get("log"), clock)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if not running[0]:
            state["ledger"] = Ledger(db, create=False)
            state["reader"] = Ledger(db, create=False)
        running[0] += 1
        try:
            if "log" in signer and \
                    signer["log"].verifier.vkey != state["ledger"].genesis()["log_key"]:
                raise InputError(f"key store {keys}: its key is not the log key the genesis "
                                 "entry names")
            if witnesses is not None and "checkpointer" not in publisher:
                led = state["ledger"]
                publisher["checkpointer"] = Checkpointer(
                    led, signer["log"], load_witnesses(witnesses, led.trust()), clock=clock)
                stop_publishing.clear()
                thread = threading.Thread(target=publisher["checkpointer"].run, daemon=True,
                                          args=(stop_publishing, checkpoint_every),
                                          name="checkpointer")
                thread.start()
                threads.append(thread)
            yield
        finally:
            running[0] -= 1
            if not running[0]:
                stop_publishing.set()  # the round under way ends first (bounded retries)
                for thread in threads:
                    thread.join()
                threads.clear()
                publisher.pop("checkpointer", None)
                submissions.writer.stop()  # the queued groups are written first
                state.pop("ledger").close()
                state.pop("reader").close()

    app = FastAPI(title="drawledger", version="1",
                  description="双随机、一公开 审计日志 / audit log for random inspections",
                  lifespan=lifespan, docs_url=None, redoc_url=None)
    install(app)
    # Portal (issue 16): gzip for anything over 1 KB (pages, entry pages, bundles).
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=6)
    app.state.read_lock = read_lock  # what a slow read holds (tests hold it to show who waits)
    # Swagger UI from the package (swagger-ui-bundle): users' machines often have no
    # internet, and a page that loads a CDN's script would show nothing there.
    app.mount("/static/swagger", StaticFiles(directory=swagger_ui_path), name="swagger")
    # The browser verifier (jsverifier/): its page, modules and vendored cryptography, at
    # one same-origin path, so a proof is checked offline in the page (never node_modules).
    jsverifier = FilePath(__file__).resolve().parent.parent / "jsverifier"
    for part in ("page", "src", "vendor"):
        if (jsverifier / part).is_dir():
            app.mount(f"/verify/{part}", StaticFiles(directory=jsverifier / part),
                      name=f"verify-{part}")

    @app.get("/verify", include_in_schema=False)
    @app.get("/verify/", include_in_schema=False)
    def verify_page() -> RedirectResponse:
        """The short address of the verification page (the one people type or print)."""
        return RedirectResponse("/verify/page/verify.html", status_code=307)

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json",
                                   title="drawledger 接口说明 / API",
                                   swagger_js_url="/static/swagger/swagger-ui-bundle.js",
                                   swagger_css_url="/static/swagger/swagger-ui.css",
                                   swagger_favicon_url="/static/swagger/favicon-32x32.png")

    def ledger() -> Ledger:
        return state["ledger"]

    def reader() -> Ledger:
        return state["reader"]

    install_submissions(app, submissions)

    @app.get("/healthz")
    def healthz() -> dict[str, object]:
        """The log's size, read from the database: no lock, never behind a build."""
        return {"status": "ok", "entries": reader().chain.head()[0]}

    @app.get("/v1/status")
    def status() -> dict[str, object]:
        """Publication (SPEC.md "Publication"): the log's size, the published size, the
        quorum, each witness's last cosigned size and last error, and a sentence saying
        whether publication is held up (Chinese, then English)."""
        if "checkpointer" in publisher:
            return publisher["checkpointer"].status()
        return publication_status(reader())

    @app.get("/v1/checkpoint", response_class=PlainTextResponse)
    def checkpoint() -> PlainTextResponse:
        """The latest *published* checkpoint: cosigned by the genesis quorum of
        witnesses (SPEC.md "Publication")."""
        latest = reader().published_checkpoint()
        if latest is None:
            raise Problem("no-checkpoint", "日志尚无经见证人法定数联署发布的检查点",
                          "no checkpoint published (cosigned by the witness quorum) yet")
        return PlainTextResponse(latest[2], media_type="text/plain; charset=utf-8")

    @app.get("/v1/entries")
    def entries(request: Request,
                start: int = Query(0, ge=0, description="first seq"),
                end: int | None = Query(None, ge=0, description="one past the last seq")
                ) -> Response:
        """Entries as stored (JSON Lines). With ``end`` the page can never change: it is
        served as immutable."""
        size = reader().chain.head()[0]
        if start > size:
            raise Problem("bad-range", f"start（{start}）超过日志条数（{size}）",
                          f"start ({start}) is past the log size ({size})")
        stop = min(size, start + MAX_PAGE) if end is None else end
        if stop < start:
            raise Problem("bad-range", f"end（{stop}）小于 start（{start}）",
                          f"end ({stop}) is before start ({start})")
        if stop - start > MAX_PAGE:
            raise Problem("bad-range", f"每次最多 {MAX_PAGE} 条（end - start）",
                          f"at most {MAX_PAGE} entries per request (end - start)")
        if stop > size:
            raise Problem("bad-range", f"end（{stop}）超过日志条数（{size}）",
                          f"end ({stop}) is past the log size ({size})")
        item = pages.get(("entries", start, stop), lambda: b"".join(
            raw + b"\n" for _, raw in reader().entries(start, stop)))
        return cached(request, item, "application/jsonl", immutable=end is not None)

    @app.get("/v1/proof/{seq}", response_class=PlainTextResponse)
    def proof(request: Request, seq: int = Path(ge=0, description="the entry's seq"),
              size: int | None = Query(None, ge=1, description="the checkpoint's tree size "
                                       "(default: the latest)")) -> Response:
        """A tlog-proof of entry ``seq`` to the latest checkpoint, or to the checkpoint of
        tree size ``size`` (immutable)."""
        published = reader().published_checkpoints()
        notes = {n: note for n, _, note in published} if size else {}
        latest = published[-1] if published else None
        if size is None and latest is not None:
            size, notes = latest[0], {latest[0]: latest[2]}
        if size is not None and size not in notes:
            raise Problem("no-checkpoint", f"没有树大小为 {size} 的已发布检查点",
                          f"no published checkpoint of tree size {size}")
        if size is None or seq >= size:
            raise Problem("not-covered", f"第 {seq} 条尚未被签名检查点覆盖",
                          f"entry {seq} is not yet covered by a signed checkpoint")
        cp_size, note = size, notes[size]

        def build() -> bytes:
            with read_lock:
                led = reader()
                if led.size < cp_size:
                    led.refresh()
                path = led.tree.inclusion_proof(seq, cp_size)
            return format_proof(TlogProof(seq, tuple(path), note)).encode()

        item = proofs.get((seq, cp_size), build)
        return cached(request, item, "text/plain; charset=utf-8",
                       immutable="size" in request.query_params)

    @app.get("/v1/draws")
    def draws() -> list[dict[str, object]]:
        """Every committed draw: its id, date, status and where its proof bundle is."""
        with read_lock:
            lines = draw_lines(reader())
        out: list[dict[str, object]] = []
        for line in lines:
            draw_id, day, status, *_ = line.split("\t")
            out.append({"draw": draw_id, "draw_date": day, "status": status,
                        "status_zh": draw_status_zh(status),
                        "bundle": f"/v1/draws/{draw_id}/bundle"})
        return out

    def draw_file(plan_id: str, batch_id: str, make: Callable[[Ledger, str], bytes]) -> bytes:
        """A draw's proof file (bundle or entity proof) as canonical bytes, or the problem:
        no such draw, or none executed under a published checkpoint yet."""
        draw_id = f"{plan_id}/{batch_id}"
        with read_lock:
            led = reader()
            if draw_stream(plan_id, batch_id) not in led.state.draws:
                led.refresh()
            if draw_stream(plan_id, batch_id) not in led.state.draws:
                raise Problem("no-such-draw", f"没有抽取 {draw_id}（见 /v1/draws）",
                              f"no draw {draw_id} (see /v1/draws)")
            try:
                return make(led, draw_id)
            except InputError as exc:
                raise Problem("draw-not-ready", f"抽取 {draw_id} 尚无被签名检查点覆盖的执行记录",
                              str(exc)) from None

    @app.get("/v1/draws/{plan_id}/{batch_id}/bundle")
    def bundle(request: Request, plan_id: str, batch_id: str) -> Response:
        """The draw-proof bundle as of the latest checkpoint: check it with ``python -m
        verifier bundle FILE``. Built once, kept beside the database and served from there
        while no later entry changes it (ledger._bundlecache; ETag; revalidate)."""
        draw_id = f"{plan_id}/{batch_id}"
        latest = reader().published_checkpoint()

        if reader().state.spec >= SPEC_V2:
            raise Problem("auditor-only", "本日志（规范第 2 版）的完整证明包含内部字段，仅交给"
                          "登记的审计密钥（POST /v1/auditor/requests）；公众请用单个企业的证明",
                          "this log (SPEC v2) gives full bundles, which hold internal fields, "
                          "to registered auditor keys only (POST /v1/auditor/requests); the "
                          "public checks one entity's proof")

        item = bundles.get((draw_id, latest[0] if latest else 0),
                           lambda: draw_file(plan_id, batch_id, bundle_bytes))
        name = f"{plan_id}_{batch_id}.draw.json"
        return cached(request, item, "application/json", immutable=False, headers={
            "Content-Disposition": f'attachment; filename="{name}"'})

    @app.get(PROOF_ROUTE)
    def entity_proof(request: Request, plan_id: str, batch_id: str, uscc: str) -> Response:
        """One company's compact proof for one draw (SPEC 22), public also on a v2 log:
        check it with ``python -m verifier entity-proof FILE --trust trust.json`` or in
        the browser. Built once per published checkpoint (ETag; revalidate)."""
        draw_id = f"{plan_id}/{batch_id}"
        code, error = normalise_uscc(uscc)
        if error is not None:
            raise Problem("bad-uscc", *error)
        latest = reader().published_checkpoint()

        item = eproofs.get((draw_id, code, latest[0] if latest else 0), lambda: draw_file(
            plan_id, batch_id, lambda led, d: canonical(make_entity_proof(led, d, code))))
        name = f"{plan_id}_{batch_id}_{code}.entity-proof.json"
        return cached(request, item, "application/json", immutable=False, headers={
            "Content-Disposition": f'attachment; filename="{name}"'})

    app.include_router(todo_router(reader, read_lock, clock))
    app.include_router(auditor_router(reader, read_lock, clock))
    app.include_router(tiles_router(reader, read_lock))
    app.include_router(portal_router(reader, clock, audit_report))  # the portal (issue 16)
    return app


def app_from_env() -> FastAPI:
    """``create_app`` from ``DRAWLEDGER_API_DB`` and ``DRAWLEDGER_API_KEYS``: the factory
    each uvicorn worker process calls (``python -m api --workers N``), which can pass
    only an import string, not arguments."""
    keys, report = os.environ.get(KEYS_ENV), os.environ.get(AUDIT_ENV)
    return create_app(os.environ[DB_ENV], FilePath(keys) if keys else None,
                      audit_report=FilePath(report) if report else None)
