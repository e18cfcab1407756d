"""One error format for every endpoint: RFC 9457 ``application/problem+json``, Chinese
first, English beside it (docs/SPEC.md section 17).

A client that handles one error handles them all: unknown routes, wrong methods, FastAPI's
parameter validation and unexpected failures go through the same handlers as the API's own
refusals, so no endpoint answers in English only or with a framework's default body.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = ["MEDIA_TYPE", "PROBLEMS", "Problem", "install"]

MEDIA_TYPE = "application/problem+json"

# name -> (status, title zh, title en, what it means zh, what it means en)
PROBLEMS: dict[str, tuple[int, str, str, str, str]] = {
    "not-found": (404, "未找到", "Not Found",
                  "没有这个路径。", "There is no such path."),
    "method-not-allowed": (405, "不支持该请求方法", "Method Not Allowed",
                           "该路径不接受此请求方法（见 Allow 头）。",
                           "The path does not accept this method (see the Allow header)."),
    "invalid-request": (422, "请求参数无效", "Invalid request parameters",
                        "某个参数缺失或格式不对，errors 逐项列出。",
                        "A parameter is missing or malformed; errors lists each one."),
    "bad-range": (400, "条目范围无效", "Bad entry range",
                  "start/end 超出日志或每次请求的上限。",
                  "start/end fall outside the log or the per-request limit."),
    "no-checkpoint": (404, "尚无签名检查点", "No signed checkpoint yet",
                      "日志还没有签名检查点。", "The log has no signed checkpoint yet."),
    "not-covered": (404, "条目尚未被检查点覆盖", "Entry not yet covered",
                    "该条目不在最新签名检查点之内，稍后再试。",
                    "The entry is beyond the latest signed checkpoint; try again later."),
    "no-such-draw": (404, "没有这个抽取", "No such draw",
                     "没有这个抽取编号（见 /v1/draws）。",
                     "There is no draw with this id (see /v1/draws)."),
    "draw-not-ready": (404, "抽取尚无可证明的执行记录", "Draw not yet provable",
                       "该抽取尚未执行，或其执行尚未被签名检查点覆盖。",
                       "The draw is not executed yet, or no signed checkpoint covers it."),
    "bad-uscc": (400, "统一社会信用代码无效", "Invalid unified social credit code",
                 "代码经全角转半角、去空格、转大写后仍不符合 GB 32100-2015，"
                 "detail 指出哪一处不对。",
                 "After NFKC, removing whitespace and upper-casing, the code is still not a "
                 "GB 32100-2015 code; detail names the fault."),
    "bad-json": (400, "请求体不是 JSON", "Body is not JSON",
                 "POST 的请求体无法按 JSON（UTF-8）解析。",
                 "The POST body does not parse as JSON (UTF-8)."),
    "invalid-statement": (422, "声明格式无效", "Invalid statement",
                          "声明或批量提交缺少成员或成员格式不对，field 指出是哪一个。",
                          "The statement or batch lacks a member or has a malformed one; "
                          "field names it."),
    "too-large": (413, "超过大小上限", "Over the size limit",
                  "请求体、批量条数或写入后的条目超过上限，limit 给出上限。",
                  "The request body, the batch's member count or the resulting entry is "
                  "over its limit; limit gives it."),
    "unknown-key": (401, "未知密钥", "Unknown key",
                    "sig.key 不是日志登记的密钥。", "sig.key is not a key the log registered."),
    "bad-signature": (401, "签名无效", "Bad signature",
                      "签名在所指密钥下不成立。", "The signature does not verify under its key."),
    "revoked-key": (403, "密钥已吊销", "Revoked key",
                    "sig.key 已被吊销，不能再签署声明。",
                    "sig.key has been revoked and may sign nothing more."),
    "forbidden": (403, "无权作此声明", "Not allowed to state this",
                  "该密钥的部门或角色不能作此声明（AUTH.role、AUTH.owner）。",
                  "The key's department or role may not make this statement "
                  "(AUTH.role, AUTH.owner)."),
    "sid-reused": (409, "声明编号已用", "Statement id already used",
                   "同一密钥的 sig.sid 已用于另一条声明；seq 为原条目。原样重试会得到原收据。",
                   "This key already used sig.sid for another statement; seq is that entry. "
                   "An identical retry gets the original receipt."),
    "ctime-skew": (422, "签名时间超出范围", "Signing time out of window",
                   "sig.ctime 不得晚于服务器时间 5 分钟以上，也不得早于 30 天以上。",
                   "sig.ctime may be at most 5 minutes ahead of the server's clock and at "
                   "most 30 days behind it."),
    "rule-failed": (422, "违反日志规则", "Refused by a log rule",
                    "声明格式正确但违反规则，rule 为规则名（如 AUTH.lifecycle、V14.trace）。",
                    "The statement is well formed but a rule refuses it; rule names it "
                    "(e.g. AUTH.lifecycle, V14.trace)."),
    "read-only": (503, "只读服务", "Read-only server",
                  "该服务启动时未给出日志密钥（--keys），不接受提交。",
                  "The server was started without the log key (--keys) and takes no "
                  "submissions."),
    "auditor-only": (403, "仅限登记的审计密钥", "Registered auditors only",
                     "内部数据（开启值、审计证明包）只交给登记的审计密钥签名的请求（SPEC 21.8）。",
                     "Internal data (openings, auditor bundles) goes only to a request signed "
                     "by a registered auditor key (SPEC 21.8)."),
    "invalid-auditor-request": (422, "审计请求格式无效", "Invalid auditor request",
                                "请求缺少成员或成员格式不对，detail 指出是哪一个。",
                                "The request lacks a member or has a malformed one; detail "
                                "names it."),
    "request-reused": (409, "请求编号已用", "Request id already used",
                       "该审计密钥已用过这个 sid；每个请求须用新的 sid。",
                       "This auditor key already used this sid; each request needs a new one."),
    "internal": (500, "服务器内部错误", "Internal Server Error",
                 "服务器出错；运维人员可在服务日志中看到原因。",
                 "The server failed; the operator finds the cause in its log."),
    "http-error": (400, "请求错误", "Request error",
                   "其他 HTTP 错误，status 为其状态码。",
                   "Another HTTP error; status is its code."),
}

_BY_STATUS = {404: "not-found", 405: "method-not-allowed", 422: "invalid-request",
              500: "internal"}

# Chinese for pydantic's error types that query and path parameters produce.
_VALIDATION_ZH = {
    "missing": "缺少该参数",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "greater_than_equal": "不能小于 {ge}",
    "greater_than": "必须大于 {gt}",
    "less_than_equal": "不能大于 {le}",
    "less_than": "必须小于 {lt}",
}


@dataclass
class Problem(Exception):
    """An API refusal: a problem type of PROBLEMS and what went wrong, in both languages."""

    name: str
    detail: str
    detail_en: str

    def __post_init__(self) -> None:
        super().__init__(self.detail_en)


def problem_response(request: Request, name: str, detail: str, detail_en: str,
                     status: int | None = None, headers: dict[str, str] | None = None,
                     **extra: Any) -> Response:
    """The problem+json response for a problem type (``status`` overrides its default)."""
    default, title, title_en, _, _ = PROBLEMS[name]
    code = status or default
    if name == "http-error":
        title_en = _phrase(code)
    body = {"type": f"/problems/{name}", "title": title, "title_en": title_en,
            "status": code, "detail": detail, "detail_en": detail_en,
            "instance": request.url.path, **extra}
    return Response(json.dumps(body, ensure_ascii=False), status_code=code,
                    media_type=MEDIA_TYPE, headers=headers)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(request, exc.name, exc.detail, exc.detail_en)


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    name = _BY_STATUS.get(exc.status_code, "http-error")
    path = request.url.path
    if name == "not-found":
        zh, en = f"没有这个路径：{path}", f"no such path: {path}"
    elif name == "method-not-allowed":
        zh, en = (f"{path} 不接受 {request.method} 请求",
                  f"{path} does not accept {request.method}")
    else:
        zh, en = PROBLEMS[name][3], str(exc.detail)
    return problem_response(request, name, zh, en, status=exc.status_code,
                            headers=dict(exc.headers or {}))


async def _on_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error.get("loc", ()))
        ctx = error.get("ctx") or {}
        template = _VALIDATION_ZH.get(str(error.get("type")), "格式不对")
        try:
            zh = template.format(**ctx)
        except (KeyError, IndexError):
            zh = template
        errors.append({"field": field, "detail": f"{field}：{zh}",
                       "detail_en": f"{field}: {error.get('msg', 'invalid')}"})
    fields = "、".join(e["field"] for e in errors)
    return problem_response(request, "invalid-request", f"参数无效：{fields}",
                            f"invalid parameters: {', '.join(e['field'] for e in errors)}",
                            errors=errors)


async def _on_error(request: Request, exc: Exception) -> Response:
    # The cause goes to the server's log (Starlette re-raises after this handler), never
    # to the client: a traceback would tell a stranger about the deployment.
    return problem_response(request, "internal", PROBLEMS["internal"][3],
                            PROBLEMS["internal"][4])


def install(app: FastAPI) -> None:
    """Route every error of ``app`` through the handlers above and document the problem
    types at ``/problems/{name}`` (where the ``type`` member of each body points)."""
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(Exception, _on_error)

    @app.get("/problems/{name}", response_class=HTMLResponse, include_in_schema=False)
    def problem_type(name: str) -> HTMLResponse:
        """What a problem type means, for a person following a body's ``type``."""
        if name not in PROBLEMS:
            raise Problem("not-found", f"没有这种错误类型：{name}",
                          f"no such problem type: {name}")
        status, title, title_en, zh, en = PROBLEMS[name]
        return HTMLResponse(
            f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>'
            f"{escape(title)} / {escape(title_en)}</title></head><body><h1>{escape(title)} / "
            f"{escape(title_en)}</h1><p>HTTP {status}</p><p>{escape(zh)}</p><p lang=\"en\">"
            f"{escape(en)}</p></body></html>")
