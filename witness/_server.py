"""The HTTP side of the witness: ``POST /add-checkpoint`` and nothing else.

A standard-library ``ThreadingHTTPServer`` (HTTP/1.1 keep-alive): the audit body installs
no web framework. Bodies are bounded (``Content-Length`` required, at most
``MAX_BODY_BYTES``) and read with a socket timeout, so a slow or huge request cannot hold
the witness. Every decision is ``verifier._witness``'s; this module only maps it to HTTP.
"""

from __future__ import annotations

import datetime
import hashlib
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from verifier import FormatError, NoteSigner
from verifier._witness import (
    MAX_BODY_BYTES,
    Verdict,
    WitnessState,
    parse_add_checkpoint,
    witness_cosign,
)
from witness._policy import LogPolicy

__all__ = ["WitnessServer"]

_READ_TIMEOUT = 10.0  # seconds a client may take to send its request


class WitnessServer(ThreadingHTTPServer):
    """One witness key, its state and its log policy, behind an HTTP listener."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], signer: NoteSigner, state: WitnessState,
                 policy: LogPolicy, evidence: Path | None = None) -> None:
        self.signer = signer
        self.state = state
        self.policy = policy
        self.evidence = evidence
        super().__init__(address, _Handler)

    def add_checkpoint(self, body: bytes) -> tuple[Verdict, str]:
        """The verdict on one request body and the cosignature line (when 200)."""
        try:
            request = parse_add_checkpoint(body)
        except FormatError as exc:
            return Verdict(400, f"请求格式错误：{exc}", f"malformed request: {exc}"), ""
        verdict, line = witness_cosign(self.state, request, self.policy.logs, self.signer,
                                       lambda: int(time.time()))
        if verdict.status == 422 and self.evidence is not None:
            self._keep(body, verdict)
        return verdict, line

    def _keep(self, body: bytes, verdict: Verdict) -> None:
        """A log-signed request refused as a fork is evidence of the log's misbehaviour:
        kept (only the log can produce one, so it cannot be used to fill the disk)."""
        assert self.evidence is not None
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        name = f"{stamp}-{hashlib.sha256(body).hexdigest()[:16]}.txt"
        try:
            self.evidence.mkdir(parents=True, exist_ok=True)
            (self.evidence / name).write_bytes(
                f"# {verdict.status} {verdict.en}\n".encode() + body)
        except OSError as exc:
            print(f"证据无法保存 / evidence not saved: {exc}", file=sys.stderr)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "drawledger-witness"
    sys_version = ""
    server: WitnessServer

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(_READ_TIMEOUT)
        # Headers and body go out in two writes: without this, Nagle's algorithm holds the
        # body until the client's delayed ACK, 40 ms a request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: object) -> None:
        """Refusals only: a witness answering thousands of 200s should not fill a log."""

    def _reply(self, status: int, body: str, content_type: str = "text/plain; charset=utf-8",
               close: bool = False) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def _refuse(self, status: int, zh: str, en: str, close: bool = False) -> None:
        print(f"{self.address_string()} {self.command} {self.path} {status} {en}",
              file=sys.stderr, flush=True)
        self._reply(status, f"{zh} / {en}\n", close=close)

    def do_GET(self) -> None:
        self._refuse(405 if self.path == "/add-checkpoint" else 404,
                     f"没有这个路径或方法：{self.command} {self.path}",
                     f"no such path or method: {self.command} {self.path}")

    do_HEAD = do_PUT = do_DELETE = do_PATCH = do_GET

    def do_POST(self) -> None:
        if self.path != "/add-checkpoint":
            self._refuse(404, f"没有这个路径：{self.path}", f"no such path: {self.path}",
                         close=True)
            return
        length_text = self.headers.get("Content-Length")
        if length_text is None or not length_text.isdigit():
            self._refuse(411, "需要 Content-Length", "Content-Length required", close=True)
            return
        length = int(length_text)
        if length > MAX_BODY_BYTES:
            self._refuse(413, f"请求体超过 {MAX_BODY_BYTES} 字节",
                         f"body over {MAX_BODY_BYTES} bytes", close=True)
            return
        try:
            body = self.rfile.read(length)
        except TimeoutError:
            self.close_connection = True
            return
        if len(body) != length:
            self.close_connection = True
            return
        verdict, line = self.server.add_checkpoint(body)
        if verdict.ok:
            self._reply(200, line)
        elif verdict.status == 409:
            print(f"{self.address_string()} POST {self.path} 409 {verdict.en}",
                  file=sys.stderr, flush=True)
            self._reply(409, f"{verdict.size}\n", "text/x.tlog.size")
        else:
            self._refuse(verdict.status, verdict.zh, verdict.en)
