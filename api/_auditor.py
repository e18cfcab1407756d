"""``POST /v1/auditor/requests``: the internal data, for registered auditor keys only.

A v2 log (SPEC.md 21) seals its internal fields; the openings and the auditor bundles that
hold them are given only in answer to a request signed by a key the authority registered
with role ``auditor`` (SPEC.md 21.8), once per request id, within five minutes of the
server's clock. Every accepted request is recorded in the operator's internal store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from api._problems import Problem
from ledger import InputError, Ledger
from ledger._bundlecache import bundle_bytes
from ledger._draws import draw_stream
from verifier._auditreq import parse_request
from verifier._errors import FormatError

__all__ = ["MAX_REQUEST_BYTES", "auditor_router"]

MAX_REQUEST_BYTES = 4096


def auditor_router(ledger: Callable[[], Ledger], lock: AbstractContextManager[Any],
                   clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> APIRouter:
    """The router ``api._app`` includes; ``ledger`` is the reading ledger ``lock`` guards."""
    router = APIRouter()

    @router.post("/v1/auditor/requests")
    async def auditor_request(request: Request) -> Response:
        """审计机构获取内部数据 / an auditor's signed request for the openings
        (``what: openings``, NDJSON) or one draw's auditor bundle (``what: bundle``)."""
        data = await request.body()
        if len(data) > MAX_REQUEST_BYTES:
            raise Problem("invalid-auditor-request", "请求过长", "the request is too long")
        try:
            req = parse_request(data)
        except FormatError as exc:
            raise Problem("invalid-auditor-request", f"审计请求无效：{exc}",
                          f"invalid auditor request: {exc}") from None
        with lock:
            led = ledger()
            led.refresh()
            key = led.state.keys.get(req.key)
        if key is None or key.role != "auditor":
            raise Problem("auditor-only", f"{req.key} 不是登记的审计密钥",
                          f"{req.key} is not a registered auditor key")
        if key.revoked is not None:
            raise Problem("revoked-key", f"审计密钥 {req.key} 已吊销",
                          f"auditor key {req.key} has been revoked")
        if not req.verify(key.verifier):
            raise Problem("bad-signature", "审计请求的签名无效",
                          "the request's signature does not verify under its key")
        now = clock()
        if not req.fresh(now):
            raise Problem("ctime-skew", "审计请求的签名时间与服务器时间相差超过 5 分钟",
                          "the request's ctime is more than 5 minutes from the server's clock")
        if not led.openings.claim(req.key, req.sid, req.what,
                                  now.astimezone(UTC).isoformat(timespec="seconds")):
            raise Problem("request-reused", f"请求编号 {req.sid} 已用过",
                          f"request id {req.sid} was used before")
        if req.what == "openings":
            start = int(req.params["from"])

            def lines() -> Iterator[bytes]:
                yield from led.opening_lines(start)

            return StreamingResponse(lines(), media_type="application/x-ndjson",
                                     headers={"Cache-Control": "no-store"})
        draw_id = str(req.params["draw"])
        plan_id, _, batch_id = draw_id.rpartition("/")
        with lock:
            if draw_stream(plan_id, batch_id) not in led.state.draws:
                raise Problem("no-such-draw", f"没有抽取 {draw_id}", f"no draw {draw_id}")
            try:
                body = bundle_bytes(led, draw_id)
            except InputError as exc:
                raise Problem("draw-not-ready", f"抽取 {draw_id} 尚不可证明",
                              str(exc)) from None
        return Response(body, media_type="application/json",
                        headers={"Cache-Control": "no-store"})

    return router
