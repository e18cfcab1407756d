"""Load for the many-workers, crash and benchmark runs: a log, signed statements, a real
``python -m api`` on a real port, and concurrent HTTP clients.

Used by tests/test_workers.py, tests/test_crash.py and bench/submit.py. The clients are
asyncio tasks of one process (plain keep-alive HTTP/1.1), each posting the next
pre-signed statement as soon as its last one was answered, so N tasks keep N requests in
flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from ledger import Ledger, Parties, build_demo
from ledger._demo import _uscc
from verifier import NoteSigner, Submission, sign_statement

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # the demo year's clock (tests.test_results)
DEPT = "ZC-SCJGJ"


def make_log(db: str, root: Path) -> Parties:
    """A small demo log in ``db`` (its parties' stores under ``root``)."""
    parties = Parties(root / "parties")
    ledger = Ledger(db)
    try:
        build_demo(ledger, parties, targets=120, inspectors=30, now=lambda: NOW)
    finally:
        ledger.close()
    return parties


def target_statements(signer: NoteSigner, n: int, seed: int) -> list[Submission]:
    """``n`` signed ``target.added`` statements, each a new entity of the department:
    any number of them is valid in any order."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out = []
    now = datetime.now(UTC)
    while len(out) < n:
        uscc = _uscc(rng)
        if uscc in seen:
            continue
        seen.add(uscc)
        body = {"uscc": uscc, "dept": DEPT, "registry": f"{DEPT}/F",
                "name": "淄博并发测试商贸有限公司", "industry": "F5299", "region": "370302",
                "risk": "B", "status": "存续", "unit": "般阳路街道市场监管所"}
        out.append(sign_statement(signer, "target.added", f"target/{uscc}", DEPT, body,
                                  now=now))
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """``python -m api`` in its own session (its workers with it), so that it can be
    killed whole with SIGKILL."""

    def __init__(self, db: str, keys: Path, workers: int, port: int | None = None) -> None:
        self.db, self.keys, self.workers = db, keys, workers
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "api", "--db", self.db, "--keys", str(self.keys),
             "--port", str(self.port), "--workers", str(self.workers), "--no-access-log"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        wait_ready(self.base, self.proc, timeout)

    def kill(self) -> None:
        """SIGKILL to the server and every worker: no shutdown, no cleanup."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        _wait_port_free(self.port)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Until every worker can answer: ``/healthz`` 200 a few times in a row."""
    deadline = time.monotonic() + timeout
    ok = 0
    while ok < 8:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"the API exited with {proc.returncode}: {err[-2000:]}")
        try:
            ok = ok + 1 if httpx.get(f"{base}/healthz", timeout=2).status_code == 200 else 0
        except httpx.HTTPError:
            ok = 0
        if time.monotonic() > deadline:
            raise RuntimeError("the API did not start")
        time.sleep(0.05 if ok else 0.2)


def _wait_port_free(port: int) -> None:
    for _ in range(200):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return
        time.sleep(0.05)


@dataclass
class Sent:
    """One statement posted: the status (None: no reply) and the reply's bytes."""

    statement: Submission
    status: int | None
    body: bytes
    latency: float


@dataclass
class Load:
    """What a load run sent and how long it ran."""

    sent: list[Sent] = field(default_factory=list)
    seconds: float = 0.0

    def answered(self, *statuses: int) -> list[Sent]:
        return [s for s in self.sent if s.status in statuses]

    def latencies(self, status: int = 201) -> list[float]:
        return sorted(s.latency for s in self.sent if s.status == status)


def percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(p * len(values)))]


class _Connection:
    """One keep-alive HTTP/1.1 connection, by hand: httpx's async pool slows down by an
    order of magnitude at 50 concurrent connections (one process: ~200 requests/s to a
    bare endpoint that serves 1,300 to 10 clients), which would measure the client."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, timeout: float) -> tuple[int, bytes]:
        return await asyncio.wait_for(self._post(path, body), timeout)

    async def _post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(b"POST %b HTTP/1.1\r\nHost: %b:%d\r\nContent-Type: application/json"
                          b"\r\nContent-Length: %d\r\n\r\n%b" % (
                              path.encode(), self.host.encode(), self.port, len(body), body))
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in lines[1:] if line)}
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                chunks.append(await self.reader.readexactly(size + 2))
                if size == 0:
                    break
            content = b"".join(c[:-2] for c in chunks)
        else:
            content = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, content

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _client(base: str, path: str, todo: Iterator[bytes | Submission],
                  out: list[Sent], stop_at: float, stop_on_error: bool,
                  timeout: float) -> None:
    url = urlsplit(base)
    conn = _Connection(url.hostname or "127.0.0.1", url.port or 80)
    try:
        for item in todo:
            if time.monotonic() >= stop_at:
                return
            body = item if isinstance(item, bytes) else json.dumps(
                item.to_json(), ensure_ascii=False).encode()
            t0 = time.perf_counter()
            try:
                status, content = await conn.post(path, body, timeout)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                    TimeoutError, ValueError, IndexError):
                conn.close()
                status, content = None, b""
            out.append(Sent(item if isinstance(item, Submission) else _NONE, status, content,
                            time.perf_counter() - t0))
            if status is None and stop_on_error:
                return  # the server is gone: this client's last statement had no reply
    finally:
        conn.close()


_NONE: Any = None


def run_load(base: str, items: Sequence[bytes | Submission], *, clients: int, seconds: float,
             path: str = "/v1/statements", timeout: float = 30,
             stop_on_error: bool = False) -> Load:
    """``clients`` concurrent clients posting ``items`` in turn for ``seconds`` (or until
    they run out); a statement whose connection broke has status None (and with
    ``stop_on_error`` its client posts no more)."""
    async def main() -> Load:
        load = Load()
        todo = iter(items)
        t0 = time.monotonic()
        await asyncio.gather(*(_client(base, path, todo, load.sent, t0 + seconds,
                                       stop_on_error, timeout) for _ in range(clients)))
        load.seconds = time.monotonic() - t0
        return load

    return asyncio.run(main())
