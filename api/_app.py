"""FastAPI app: the latest checkpoint, entries as stored bytes, per-entry proofs, draws
and their proof bundles.

Every response is something a client can check offline with ``python -m verifier``: the
checkpoint is a C2SP signed note, entries are the exact bytes that were hashed, and proofs
are C2SP tlog-proof@v1 against a signed checkpoint.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import PlainTextResponse, Response, StreamingResponse

from ledger import InputError, Ledger
from ledger._bundle import draw_lines, make_bundle
from verifier import TlogProof, canonical, format_proof

__all__ = ["MAX_PAGE", "create_app"]

MAX_PAGE = 1000


def create_app(db: str) -> FastAPI:
    """The API over the log in ``db`` (a SQLite path or a postgresql:// URL)."""
    state: dict[str, Ledger] = {}
    lock = threading.Lock()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state["ledger"] = Ledger(db)
        yield
        state.pop("ledger").close()

    app = FastAPI(title="drawledger", version="1",
                  description="双随机、一公开 审计日志 / audit log for random inspections",
                  lifespan=lifespan)

    def ledger() -> Ledger:
        return state["ledger"]

    @app.get("/healthz")
    def healthz() -> dict[str, object]:
        with lock:
            size = ledger().refresh()
        return {"status": "ok", "entries": size}

    @app.get("/v1/checkpoint", response_class=PlainTextResponse)
    def checkpoint() -> PlainTextResponse:
        latest = ledger().chain.latest_checkpoint()
        if latest is None:
            raise HTTPException(404, "尚无签名检查点 / no signed checkpoint yet")
        return PlainTextResponse(latest[2], media_type="text/plain; charset=utf-8")

    @app.get("/v1/entries")
    def entries(start: int = Query(0, ge=0, description="first seq"),
                end: int | None = Query(None, ge=0, description="one past the last seq")
                ) -> StreamingResponse:
        with lock:
            size = ledger().refresh()
        if start > size:
            raise HTTPException(400, f"start ({start}) is past the log size ({size})")
        stop = min(size, start + MAX_PAGE) if end is None else end
        if stop < start:
            raise HTTPException(400, f"end ({stop}) is before start ({start})")
        if stop - start > MAX_PAGE:
            raise HTTPException(400, f"at most {MAX_PAGE} entries per request (end - start)")
        if stop > size:
            raise HTTPException(400, f"end ({stop}) is past the log size ({size})")
        rows = list(ledger().entries(start, stop))

        def body() -> Iterator[bytes]:
            for _, raw in rows:
                yield raw + b"\n"

        return StreamingResponse(body(), media_type="application/jsonl")

    @app.get("/v1/proof/{seq}", response_class=PlainTextResponse)
    def proof(seq: int) -> PlainTextResponse:
        if seq < 0:
            raise HTTPException(400, "seq must be >= 0")
        with lock:
            led = ledger()
            led.refresh()
            latest = led.chain.latest_checkpoint()
            if latest is None or seq >= latest[0]:
                raise HTTPException(404, f"entry {seq} is not yet covered by a signed checkpoint"
                                         " / 该条目尚未被签名检查点覆盖")
            size, _, note = latest
            path = led.tree.inclusion_proof(seq, size)
        text = format_proof(TlogProof(seq, tuple(path), note))
        return PlainTextResponse(text, media_type="text/plain; charset=utf-8")

    @app.get("/v1/draws")
    def draws() -> list[dict[str, object]]:
        """Every committed draw: its id, date, status and where its proof bundle is."""
        with lock:
            lines = draw_lines(ledger())
        out: list[dict[str, object]] = []
        for line in lines:
            draw_id, day, status, *_ = line.split("\t")
            out.append({"draw": draw_id, "draw_date": day, "status": status,
                        "bundle": f"/v1/draws/{draw_id}/bundle"})
        return out

    @app.get("/v1/draws/{plan_id}/{batch_id}/bundle")
    def bundle(plan_id: str, batch_id: str) -> Response:
        """The draw-proof bundle: check it with ``python -m verifier bundle FILE``."""
        try:
            with lock:
                data = canonical(make_bundle(ledger(), f"{plan_id}/{batch_id}"))
        except InputError as exc:
            raise HTTPException(404, str(exc)) from None
        name = f"{plan_id}_{batch_id}.draw.json"
        return Response(data, media_type="application/json",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    return app
