"""``POST /v1/statements``: a statement or a batch signed on the department's machine,
checked by the verifier's own rules (``Ledger.submit`` / ``Ledger.submit_batch``),
appended in one transaction or not at all, answered with a receipt (SPEC.md section 18).

No password and no session: the statement's signature is the authentication. Each
refusal is a problem+json body naming the field (``field``) or the rule (``rule``); the
status says whose move it is (SPEC 18.4).

Group commit: single statements that arrive while a transaction is being written wait in
a queue that one writer thread drains into the next transaction (``GroupWriter``), so a
busy worker pays one COMMIT and one chain-lock wait per group, not per request. Each
request still gets its own receipt or its own refusal.
"""

from __future__ import annotations

import json
import queue
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api._problems import problem_response
from ledger import InputError, Ledger, RejectedError
from ledger._errors import ImportRejectedError, StorageError
from verifier import (
    BATCH_SUBMISSION_FORMAT,
    MAX_ENTRY_BYTES,
    BatchSubmission,
    Finding,
    FormatError,
    NoteSigner,
    Submission,
    parse_entry,
)
from verifier._canonical import bounded_int
from verifier._receipt import inspection_due, make_receipt

__all__ = ["CTIME_AHEAD", "CTIME_BEHIND", "MAX_BATCH_MEMBERS", "MAX_GROUP",
           "MAX_REQUEST_BYTES", "GroupWriter", "install_submissions"]

MAX_GROUP = 512  # statements per group transaction: bounds the lock hold and a refusal's cost

# A batch's whole request body and member count (SPEC 18.3): one department's registry file
# (the demo's largest is 87,113 rows at about 330 bytes a member) fits in one batch.
MAX_REQUEST_BYTES = 64 * 1024 * 1024
MAX_BATCH_MEMBERS = 100_000
CTIME_AHEAD = timedelta(minutes=5)  # a signer's clock may run this far ahead of ours
CTIME_BEHIND = timedelta(days=30)  # offline signing travels: a USB stick, a courier

# The field each rule of SPEC 6.2 is about, for the problem body's ``field``.
_RULE_FIELD = {"V1.key": "sig.key", "V1.signature": "sig.value", "V1.replay": "sig.sid",
               "V1.batch": "sig.sid", "V1.genesis": "type", "V1.format": "body",
               "AUTH.type": "type", "AUTH.stream": "stream", "AUTH.lifecycle": "stream",
               "AUTH.role": "actor", "AUTH.owner": "actor"}
_FIELD_RE = re.compile(r"field ([A-Za-z_.]+):|statement (\$[^\s:]*):")
_STATEMENT_SCHEMA = {
    "type": "object", "required": ["stream", "type", "actor", "body", "sig"],
    "properties": {"stream": {"type": "string"}, "type": {"type": "string"},
                   "actor": {"type": "string"}, "body": {"type": "object"},
                   "sig": {"type": "object", "required": ["ctime", "key", "sid", "value"],
                           "properties": {k: {"type": "string"}
                                          for k in ("ctime", "key", "sid", "value")}}}}
_BATCH_SCHEMA = {
    "type": "object", "required": ["format", "head", "members", "sig"],
    "properties": {"format": {"const": BATCH_SUBMISSION_FORMAT}, "head": _STATEMENT_SCHEMA,
                   "members": {"type": "array", "items": {
                       "type": "object", "required": ["type", "stream", "body"]}},
                   "sig": {"type": "object", "required": ["ctime", "key", "value"]}}}


@dataclass
class Refusal(Exception):
    """A submission refused before or by the rules: a problem type and what to name."""

    name: str
    zh: str
    en: str
    extra: dict[str, Any]


def _refuse(name: str, zh: str, en: str, **extra: Any) -> Refusal:
    return Refusal(name, zh, en, extra)


def field_of(message: str, where: str) -> str:
    """The field a FormatError of ``Submission``/``BatchSubmission.from_json`` names:
    ``batch.members[3]: field sig.ctime: ...`` -> ``members[3].sig.ctime``."""
    lead, _, rest = message.partition(": ")
    path = lead.removeprefix(where).lstrip(".")
    m = _FIELD_RE.match(rest)
    inner = (m.group(1) or m.group(2).removeprefix("$").lstrip(".")) if m else ""
    return ".".join(p for p in (path, inner) if p) or "$"


def parse(obj: Any) -> Submission | BatchSubmission:
    """A statement object or a batch submission (the verifier's parsers: one source of
    truth with the client's), or a 422 naming the member at fault."""
    batch = isinstance(obj, dict) and "format" in obj
    where = "batch" if batch else "statement"
    if batch and isinstance(obj.get("members"), list) and \
            len(obj["members"]) > MAX_BATCH_MEMBERS:
        raise _refuse("too-large", f"批量最多 {MAX_BATCH_MEMBERS} 条，实有 "
                      f"{len(obj['members'])} 条", f"a batch holds at most {MAX_BATCH_MEMBERS} "
                      f"members, this one {len(obj['members'])}", field="members",
                      limit=MAX_BATCH_MEMBERS)
    try:
        return BatchSubmission.from_json(obj, where) if batch else \
            Submission.from_json(obj, where)
    except FormatError as exc:
        field = field_of(str(exc), where)
        raise _refuse("invalid-statement", f"{field}：格式不对（{exc}）", f"{field}: {exc}",
                      field=field) from None


def _check_ctime(ctime: str, field: str, now: datetime) -> None:
    when = datetime.fromisoformat(ctime.replace("Z", "+00:00"))
    if when > now + CTIME_AHEAD or when < now - CTIME_BEHIND:
        raise _refuse("ctime-skew",
                      f"{field}（{ctime}）超出允许范围：不得晚于服务器时间 5 分钟以上，"
                      "也不得早于 30 天以上",
                      f"{field} ({ctime}) is outside the window: at most 5 minutes ahead of "
                      "the server's clock and at most 30 days behind it",
                      field=field, rule="ctime-skew", server_time=now.isoformat())


def _finding_json(f: Any, prefix: str) -> dict[str, Any]:
    return {"rule": f.rule, "kind": f.kind, "field": prefix + _RULE_FIELD.get(f.rule, "body"),
            "detail": f.zh, "detail_en": f.en}


def _rejection(ledger: Ledger, findings: list[Any], prefix: str, key: str) -> Refusal:
    """The problem for statements the rules refuse: who must act decides the status."""
    rules = [f.rule for f in findings]
    listed = [_finding_json(f, prefix) for f in findings]
    first = listed[0]
    if "V1.key" in rules:
        info = ledger.state.keys.get(key)
        f = findings[rules.index("V1.key")]
        name = "unknown-key" if info is None else "revoked-key"
        return _refuse(name, f.zh, f.en, field=f"{prefix}sig.key", rule="V1.key",
                       findings=listed)
    if "V1.signature" in rules:
        f = findings[rules.index("V1.signature")]
        return _refuse("bad-signature", f.zh, f.en, field=f"{prefix}sig.value",
                       rule="V1.signature", findings=listed)
    for rule in ("AUTH.role", "AUTH.owner"):
        if rule in rules:
            f = findings[rules.index(rule)]
            return _refuse("forbidden", f.zh, f.en, field=prefix + _RULE_FIELD[rule],
                           rule=rule, findings=listed)
    if rules == ["V1.format"] and "limit" in findings[0].en:
        return _refuse("too-large", findings[0].zh, findings[0].en, field=first["field"],
                       rule="V1.format", limit=MAX_ENTRY_BYTES, findings=listed)
    f = findings[0]
    return _refuse("rule-failed", f"违反规则 {f.rule}：{f.zh}", f"rule {f.rule}: {f.en}",
                   field=first["field"], rule=f.rule, findings=listed)


class _Pending:
    """One queued statement and, once its group is written, its seq or its findings."""

    __slots__ = ("done", "entry", "error", "outcome", "statement")

    def __init__(self, statement: Submission) -> None:
        self.statement = statement
        self.done = threading.Event()
        self.outcome: int | list[Finding] | None = None
        self.entry: bytes | None = None  # the entry written, when the recorder kept it
        self.error: BaseException | None = None


class GroupWriter:
    """Group commit: one thread takes every statement waiting in the queue (up to
    ``MAX_GROUP``) and appends them in one transaction (``Ledger.submit_group``); each
    caller waits for its own outcome. A statement the rules refuse is left out of its
    group, the others are written. If a group's transaction fails as a whole (a storage
    error), each of its statements is tried alone, so one cannot sink the others."""

    def __init__(self, ledger: Callable[[], Ledger]) -> None:
        self._ledger = ledger
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()

    def submit(self, statement: Submission) -> tuple[int | list[Finding], bytes | None]:
        """The statement's seq once its group committed (and its entry's bytes, or None
        if they must be read), or the rules' findings."""
        pending = _Pending(statement)
        self._ensure_thread()
        self._queue.put(pending)
        pending.done.wait()
        if pending.error is not None:
            raise pending.error
        assert pending.outcome is not None
        return pending.outcome, pending.entry

    def _ensure_thread(self) -> None:
        with self._start:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="group-writer",
                                                daemon=True)
                self._thread.start()

    def stop(self) -> None:
        """Let the writer finish the queued groups and end (the app's shutdown)."""
        with self._start:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            while len(group) < MAX_GROUP:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)  # stop after this group
                    break
                group.append(more)
            self._write(group)

    def _write(self, group: list[_Pending]) -> None:
        ledger = self._ledger()
        try:
            outcomes = ledger.submit_group([p.statement for p in group])
            seqs = [o for o in outcomes if isinstance(o, int)]
            entries = ledger.chain.entries_written(seqs[0], seqs[-1] + 1) if seqs else None
        except BaseException as exc:  # handed to the waiting requests
            if len(group) > 1 and isinstance(exc, StorageError | InputError | OSError):
                for p in group:
                    self._write([p])
                return
            for p in group:
                p.error = exc
                p.done.set()
            return
        for p, outcome in zip(group, outcomes, strict=True):
            p.outcome = outcome
            if entries is not None and isinstance(outcome, int):
                p.entry = entries[outcome - seqs[0]]
            p.done.set()


class Submissions:
    """What the endpoint needs: the writing ledger, the log key, the clock, and the
    group writer single statements go through."""

    def __init__(self, ledger: Callable[[], Ledger], signer: Callable[[], NoteSigner | None],
                 clock: Callable[[], datetime]) -> None:
        self.ledger, self.signer, self.clock = ledger, signer, clock
        self.writer = GroupWriter(ledger)

    def receipt(self, first: int, last: int, raw: bytes | None = None) -> bytes:
        """The receipt of entries ``first .. last`` (``raw``: entry ``last``'s bytes, if
        the writer has them; else read from the log)."""
        led = self.ledger()
        signer = self.signer()
        assert signer is not None
        if raw is None:
            raw = next(led.entries(last, last + 1))[1]
        entry = parse_entry(raw)
        due = None
        if entry.type == "inspection.completed" and type(entry.body.get("ended_on")) is str:
            try:
                due = inspection_due(entry.body["ended_on"], led.state.policy,
                                     dict(led.state.calendars))
            except ValueError:
                due = None
        return make_receipt(signer, led.genesis()["origin"], first, raw, due)

    def _already(self, key: str, sid: str, same: Callable[[int], bool], count: int,
                 refresh: bool = True) -> tuple[int, bytes] | None:
        """An earlier entry for (key, sid): the original receipt when it is the same
        statement (a retry after a lost reply), else a 409 naming it. ``refresh=False``
        looks at the state as this process last saw it (no wait for the writer's lock):
        the writer checks again under the chain lock, and a V1.replay it finds comes
        back here with ``refresh``."""
        led = self.ledger()
        if refresh:
            led.refresh()
        seq = led.state.seq_of(key, sid)
        if seq is None:
            return None
        if not same(seq):
            raise _refuse("sid-reused",
                          f"sig.sid {sid} 已被第 {seq} 条的另一条声明使用（同一密钥）",
                          f"sig.sid {sid} was used by another statement of this key, "
                          f"entry {seq}", field="sig.sid", rule="V1.replay", seq=seq)
        return 200, self.receipt(seq, seq + count - 1)

    def _same_entry(self, seq: int, s: Submission) -> bool:
        raw = next(self.ledger().entries(seq, seq + 1))[1]
        e = parse_entry(raw)
        return (e.type, e.stream, e.actor, e.body, e.sig) == (s.type, s.stream, s.actor,
                                                              s.body, s.sig)

    def handle(self, obj: Any) -> tuple[int, bytes]:
        """(status, receipt) for a parsed request body, or Refusal."""
        s = parse(obj)
        if isinstance(s, BatchSubmission):
            return self._handle_batch(s)
        key, sid = s.sig["key"], s.sig["sid"]
        for attempt in range(2):  # once more after a race with a concurrent same sid
            done = self._already(key, sid, lambda seq: self._same_entry(seq, s), 1,
                                 refresh=attempt > 0)
            if done is not None:
                return done
            _check_ctime(s.sig["ctime"], "sig.ctime", self.clock())
            outcome, entry = self.writer.submit(s)
            if not isinstance(outcome, int):
                if any(f.rule == "V1.replay" for f in outcome):
                    continue
                raise _rejection(self.ledger(), outcome, "", key)
            return 201, self.receipt(outcome, outcome, entry)
        raise _refuse("sid-reused", f"sig.sid {sid} 已被使用", f"sig.sid {sid} was used",
                      field="sig.sid", rule="V1.replay")

    def _handle_batch(self, b: BatchSubmission) -> tuple[int, bytes]:
        key, sid, n = b.head.sig["key"], b.head.sig["sid"], len(b.members)

        def same(seq: int) -> bool:
            if not self._same_entry(seq, b.head):
                return False
            rows = list(self.ledger().entries(seq + 1, seq + 1 + n))
            return len(rows) == n and parse_entry(rows[-1][1]).sig.get("value") == \
                b.sig["value"]

        done = self._already(key, sid, same, n + 1)
        if done is not None:
            return done
        now = self.clock()
        _check_ctime(b.head.sig["ctime"], "head.sig.ctime", now)
        _check_ctime(b.sig["ctime"], "sig.ctime", now)
        try:
            seq = self.ledger().submit_batch(b.head, list(b.members), b.sig, b.openings)
        except ImportRejectedError as exc:
            i, findings = exc.refused[0]
            raise _rejection(self.ledger(), findings, f"members[{i}].", key) from None
        except RejectedError as exc:
            raise _rejection(self.ledger(), exc.findings, "head.", key) from None
        return 201, self.receipt(seq, seq + n)


async def _read_body(request: Request) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_REQUEST_BYTES:
        raise _refuse("too-large", f"请求体超过 {MAX_REQUEST_BYTES} 字节上限",
                      f"the request body is over the {MAX_REQUEST_BYTES}-byte limit",
                      field="$", limit=MAX_REQUEST_BYTES)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            raise _refuse("too-large", f"请求体超过 {MAX_REQUEST_BYTES} 字节上限",
                          f"the request body is over the {MAX_REQUEST_BYTES}-byte limit",
                          field="$", limit=MAX_REQUEST_BYTES)
        chunks.append(chunk)
    return b"".join(chunks)


def install_submissions(app: FastAPI, submissions: Submissions) -> None:
    """Add ``POST /v1/statements`` to ``app``."""

    @app.post("/v1/statements", status_code=201, openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "oneOf": [_STATEMENT_SCHEMA, _BATCH_SCHEMA]}}}}},
        responses={201: {"description": "收据 / the receipt (SPEC 18)"},
                   200: {"description": "重试：原收据 / a retry: the original receipt"}})
    async def statements(request: Request) -> Response:
        """提交一条签名声明或一批声明，返回收据 / submit one signed statement or one batch;
        the reply is a receipt (docs/SPEC.md section 18)."""
        try:
            if submissions.signer() is None:
                raise _refuse("read-only", "本服务未配置日志密钥（--keys），只读",
                              "this server was started without the log key (--keys): "
                              "read-only", field="$")
            data = await _read_body(request)
            try:
                obj = json.loads(data.decode("utf-8"), parse_int=bounded_int,
                                 parse_constant=_no_constant)
            except (UnicodeDecodeError, ValueError, RecursionError) as exc:
                raise _refuse("bad-json", f"请求体不是 JSON：{exc}",
                              f"the request body is not JSON: {exc}", field="$") from None
            status, receipt = await run_in_threadpool(submissions.handle, obj)
        except Refusal as r:
            return problem_response(request, r.name, r.zh, r.en, **r.extra)
        except InputError as exc:
            return problem_response(request, "invalid-statement", f"声明无效：{exc}",
                                    f"invalid statement: {exc}", field=field_of(str(exc), ""))
        return Response(receipt, status_code=status, media_type="application/json")


def _no_constant(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")

