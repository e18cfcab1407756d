"""Signed submissions over HTTP on PostgreSQL, against two floors measured in the same run.

    python bench/submit.py [--seconds S] [--clients C] [--workers W] [--db URL]

Each variant is a real uvicorn server with W worker processes on a real port, driven by
C concurrent clients (asyncio tasks of one process, httpx, each posting its next
statement as soon as its last was answered) for S seconds with the same pre-signed
``target.added`` statements (a new entity each, ~600 bytes):

- bare: a FastAPI endpoint that reads the body and returns 201: the HTTP floor;
- INSERT+COMMIT: a FastAPI endpoint that stores the body with one PostgreSQL INSERT and
  COMMIT per request (a connection pool per worker): the database floor;
- drawledger: ``python -m api --workers W`` on a fresh log: each statement parsed, its
  Ed25519 signature and the rules checked under the chain lock, chained, committed with
  the statements that arrived meanwhile (group commit), answered with a signed receipt.

Prints requests per second and p50/p99 latency of each, and the ledger's throughput as a
ratio of the INSERT+COMMIT floor (the goal: at least 1.0, p99 under 100 ms). The load
generator runs on the same machine and shares its cores with the servers: the figures
are lower bounds of what the servers alone could do.
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from fastapi import FastAPI, Request  # noqa: E402
from fastapi.responses import Response  # noqa: E402
from psycopg_pool import ConnectionPool  # noqa: E402
from starlette.concurrency import run_in_threadpool  # noqa: E402

from tests.loadgen import (  # noqa: E402
    DEPT,
    Load,
    Server,
    free_port,
    make_log,
    percentile,
    run_load,
    target_statements,
)

DB_ENV, SCHEMA_ENV = "BENCH_SUBMIT_DB", "BENCH_SUBMIT_SCHEMA"


def bare_app() -> FastAPI:
    """The HTTP floor: read the body, answer 201."""
    app = FastAPI()

    @app.post("/v1/statements")
    async def statements(request: Request) -> Response:
        await request.body()
        return Response(b'{"ok":true}', status_code=201, media_type="application/json")

    return app


def insert_app() -> FastAPI:
    """The database floor: one INSERT and one COMMIT per request."""
    pool = ConnectionPool(os.environ[DB_ENV], min_size=4, max_size=10, open=True,
                          kwargs={"options": f"-c search_path={os.environ[SCHEMA_ENV]}"})
    app = FastAPI()

    def insert(body: bytes) -> None:
        with pool.connection() as conn:  # commits on leaving the block
            conn.execute("INSERT INTO floor_statements (body) VALUES (%s)", (body,))

    @app.post("/v1/statements")
    async def statements(request: Request) -> Response:
        await run_in_threadpool(insert, await request.body())
        return Response(b'{"ok":true}', status_code=201, media_type="application/json")

    return app


def _conninfo(url: str) -> str:
    """A libpq URL without drawledger's ``?schema=`` parameter."""
    return url.split("?", 1)[0]


def _floor(factory: str, workers: int, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--app-dir", str(ROOT / "bench"), "--factory",
         f"submit:{factory}", "--workers", str(workers), "--port", str(port),
         "--log-level", "warning"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    wait_ready_floor(base, proc)
    return proc, base


def wait_ready_floor(base: str, proc: subprocess.Popen[bytes]) -> None:
    """The floors have no /healthz: a POST that gets 201 a few times in a row."""
    import time

    import httpx

    deadline, ok = time.monotonic() + 60, 0
    while ok < 8:
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "exited")
        try:
            ok = ok + 1 if httpx.post(f"{base}/v1/statements", content=b"{}",
                                      timeout=2).status_code == 201 else 0
        except httpx.HTTPError:
            ok = 0
        if time.monotonic() > deadline:
            raise RuntimeError("the floor did not start")
        time.sleep(0.05 if ok else 0.2)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    import signal

    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _row(name: str, load: Load, status: int, floor: float | None) -> str:
    lat = load.latencies(status)
    rate = len(lat) / load.seconds
    ratio = f"{rate / floor:5.2f}" if floor else "    -"
    other = len(load.sent) - len(lat)
    return (f"{name:<16} {rate:9.0f} {percentile(lat, 0.5) * 1000:9.1f} "
            f"{percentile(lat, 0.99) * 1000:9.1f} {ratio:>8}  {len(lat):7d} ok"
            + (f", {other} other" if other else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--db", default=os.environ.get(
        "DRAWLEDGER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    schema = f"bench_submit_{uuid.uuid4().hex[:8]}"
    conninfo = _conninfo(args.db)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'CREATE TABLE "{schema}".floor_statements '
                     "(id bigserial PRIMARY KEY, body bytea NOT NULL)")
    try:
        root = Path(tempfile.mkdtemp(prefix="bench-submit-"))
        db = f"{conninfo}?schema={schema}"
        parties = make_log(db, root)
        n = int(args.seconds * 3000) + 2000
        print(f"signing {n} statements ...", file=sys.stderr)
        statements = target_statements(parties.load(f"dept-{DEPT}"), n, seed=13)
        import json

        bodies = [json.dumps(s.to_json(), ensure_ascii=False).encode() for s in statements]
        results: dict[str, Load] = {}
        env = {DB_ENV: conninfo, SCHEMA_ENV: schema}
        for name, factory in (("bare", "bare_app"), ("INSERT+COMMIT", "insert_app")):
            proc, base = _floor(factory, args.workers, env)
            try:
                results[name] = run_load(base, list(itertools.islice(
                    itertools.cycle(bodies), 10 * len(bodies))), clients=args.clients,
                                         seconds=args.seconds)
            finally:
                _stop(proc)
        server = Server(db, root / "parties" / "log", workers=args.workers)
        server.start()
        try:
            results["drawledger"] = run_load(server.base, statements, clients=args.clients,
                                             seconds=args.seconds)
        finally:
            server.stop()
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    floor = len(results["INSERT+COMMIT"].latencies()) / results["INSERT+COMMIT"].seconds
    print(f"POST /v1/statements, {args.clients} clients, {args.workers} workers, PostgreSQL, "
          f"{args.seconds:.0f} s each; {os.cpu_count()} cores shared with the load generator")
    print(f"{'variant':<16} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'x floor':>8}")
    print(_row("bare", results["bare"], 201, floor))
    print(_row("INSERT+COMMIT", results["INSERT+COMMIT"], 201, floor))
    print(_row("drawledger", results["drawledger"], 201, floor))
    p99 = percentile(results["drawledger"].latencies(), 0.99) * 1000
    rate = len(results["drawledger"].latencies()) / results["drawledger"].seconds
    print(f"goal: >= 1.00 x the INSERT+COMMIT floor ({rate / floor:.2f}), p99 < 100 ms "
          f"({p99:.0f} ms)")


if __name__ == "__main__":
    main()
