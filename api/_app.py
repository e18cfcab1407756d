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
from html import escape

from fastapi import FastAPI, Path, Query
from fastapi.responses import HTMLResponse, PlainTextResponse, Response, StreamingResponse

from api._problems import Problem, install
from ledger import InputError, Ledger
from ledger._bundle import draw_lines, draw_status_text, draw_status_zh, make_bundle
from ledger._draws import draw_stream
from verifier import TlogProof, canonical, format_proof

__all__ = ["MAX_PAGE", "create_app"]

MAX_PAGE = 1000


def create_app(db: str) -> FastAPI:
    """The API over the log in ``db`` (a SQLite path or a postgresql:// URL); starting it
    raises ``ledger.NoLogError`` when ``db`` holds no log (it never creates one)."""
    state: dict[str, Ledger] = {}
    lock = threading.Lock()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state["ledger"] = Ledger(db, create=False)
        yield
        state.pop("ledger").close()

    app = FastAPI(title="drawledger", version="1",
                  description="双随机、一公开 审计日志 / audit log for random inspections",
                  lifespan=lifespan)
    install(app)

    def ledger() -> Ledger:
        return state["ledger"]

    @app.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        """A public page: the log's size, the draws and their proof bundles, how to check
        them offline. Chinese first; no script, no external resource."""
        with lock:
            size = ledger().refresh()
            lines = draw_lines(ledger())
            latest = ledger().chain.latest_checkpoint()
        rows = []
        for line in lines:
            draw_id, day, status, selected, *_ = line.split("\t")
            rows.append(f"<tr><td>{escape(draw_id)}</td><td>{escape(day)}</td>"
                        f"<td>{escape(draw_status_text(status))}</td>"
                        f"<td>{escape(selected.split('=')[1])}</td>"
                        f'<td><a href="/v1/draws/{escape(draw_id)}/bundle">下载证明包 / '
                        "bundle</a></td></tr>")
        signed = latest[0] if latest else 0
        page = f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>双随机、一公开 抽取公示 / drawledger</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse;width:100%}}td,th{{border:1px solid #ccc;padding:.3em .5em}}
code{{background:#f4f4f4;padding:0 .2em}}</style></head><body>
<h1>双随机、一公开 抽取公示 / Random-inspection draws</h1>
<p>日志共 {size} 条，已签名检查点覆盖 {signed} 条。/ The log holds {size} entries;
the latest signed checkpoint covers {signed}.</p>
<p>每次抽取都可离线核验：下载证明包后运行 / Check any draw offline: download its bundle, then run
<code>python -m verifier bundle 文件.json --trust trust.json</code>；
查询某一企业是否在抽查对象池中、为何被抽中或未被抽中 / ask about one entity:
<code>python -m verifier entity 文件.json 统一社会信用代码</code>。</p>
<table><tr><th>抽取 / draw</th><th>抽取日 / date</th><th>状态 / status</th>
<th>抽中 / selected</th><th>证明包 / proof</th></tr>
{''.join(rows)}</table>
<p><a href="/v1/checkpoint">最新检查点 / latest checkpoint</a> ·
<a href="/docs">接口说明 / API</a></p></body></html>
"""
        return HTMLResponse(page)

    @app.get("/healthz")
    def healthz() -> dict[str, object]:
        with lock:
            size = ledger().refresh()
        return {"status": "ok", "entries": size}

    @app.get("/v1/checkpoint", response_class=PlainTextResponse)
    def checkpoint() -> PlainTextResponse:
        latest = ledger().chain.latest_checkpoint()
        if latest is None:
            raise Problem("no-checkpoint", "日志尚无签名检查点", "no signed checkpoint yet")
        return PlainTextResponse(latest[2], media_type="text/plain; charset=utf-8")

    @app.get("/v1/entries")
    def entries(start: int = Query(0, ge=0, description="first seq"),
                end: int | None = Query(None, ge=0, description="one past the last seq")
                ) -> StreamingResponse:
        with lock:
            size = ledger().refresh()
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
        rows = list(ledger().entries(start, stop))

        def body() -> Iterator[bytes]:
            for _, raw in rows:
                yield raw + b"\n"

        return StreamingResponse(body(), media_type="application/jsonl")

    @app.get("/v1/proof/{seq}", response_class=PlainTextResponse)
    def proof(seq: int = Path(ge=0, description="the entry's seq")) -> PlainTextResponse:
        with lock:
            led = ledger()
            led.refresh()
            latest = led.chain.latest_checkpoint()
            if latest is None or seq >= latest[0]:
                raise Problem("not-covered", f"第 {seq} 条尚未被签名检查点覆盖",
                              f"entry {seq} is not yet covered by a signed checkpoint")
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
                        "status_zh": draw_status_zh(status),
                        "bundle": f"/v1/draws/{draw_id}/bundle"})
        return out

    @app.get("/v1/draws/{plan_id}/{batch_id}/bundle")
    def bundle(plan_id: str, batch_id: str) -> Response:
        """The draw-proof bundle: check it with ``python -m verifier bundle FILE``."""
        draw_id = f"{plan_id}/{batch_id}"
        try:
            with lock:
                if draw_stream(plan_id, batch_id) not in ledger().state.draws:
                    ledger().refresh()
                if draw_stream(plan_id, batch_id) not in ledger().state.draws:
                    raise Problem("no-such-draw", f"没有抽取 {draw_id}（见 /v1/draws）",
                                  f"no draw {draw_id} (see /v1/draws)")
                data = canonical(make_bundle(ledger(), draw_id))
        except InputError as exc:
            raise Problem("draw-not-ready", f"抽取 {draw_id} 尚无被签名检查点覆盖的执行记录",
                          str(exc)) from None
        name = f"{plan_id}_{batch_id}.draw.json"
        return Response(data, media_type="application/json",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    return app
