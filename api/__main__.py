"""``python -m api [--db PATH] [--keys DIR] [--host H] [--port P] [--workers N]``: serve
the API.

``--workers N`` runs N uvicorn worker processes on one port; they all append to the one
chain (each write takes the chain lock, checks against the log as it stands, inserts and
commits in one transaction) and each groups its concurrent submissions into one
transaction. Use PostgreSQL for several workers: SQLite has one writer at a time and
makes the others wait for its lock.

``--keys`` is the log's key store, a folder holding ``log.skey`` (the log key signs the
receipts' promises; no other secret belongs on the server). Without it the API is
read-only and refuses submissions (503).

Exit status: 66 when ``--db`` holds no log (a mistyped path is refused, never served as an
empty log), 2 when the database cannot be read, 64 usage.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import NoReturn

import uvicorn

from api._app import AUDIT_ENV, DB_ENV, KEYS_ENV, create_app
from ledger import InputError, NoLogError, StorageError
from ledger._app import require_log
from verifier import KeyFileError

EXIT_NO_LOG = 66  # as `drawledger`: sysexits EX_NOINPUT


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        print(f"{self.prog}: 用法错误 / usage error: {message}", file=sys.stderr)
        raise SystemExit(64)


parser = _Parser(prog="python -m api", description="drawledger API: reads, signed submissions")
parser.add_argument("--db", default="var/drawledger.sqlite",
                    help="SQLite file or postgresql:// URL (must already hold a log)")
parser.add_argument("--keys", type=Path, help="the log's key store: a folder with log.skey "
                    "(without it the API is read-only)")
parser.add_argument("--witnesses", type=Path, help="witnesses.json: publish checkpoints "
                    "through these witness services once the genesis quorum cosigned (with "
                    "--keys; one worker: with several, run `drawledger checkpoint --witnesses` "
                    "from cron)")
parser.add_argument("--audit-report", type=Path, help="an audit report (python -m verifier "
                    "audit DIR --json): the portal's /audit page shows its summary, re-read "
                    "when the file changes")
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, default=8000)
parser.add_argument("--workers", type=int, default=1,
                    help="worker processes (default 1; several: use PostgreSQL)")
parser.add_argument("--no-access-log", action="store_true",
                    help="no line per request on stderr (the log itself records every write)")
args = parser.parse_args()
if args.workers < 1:
    parser.error("--workers: at least 1")
if args.witnesses is not None and (args.keys is None or args.workers > 1):
    parser.error("--witnesses: needs --keys and one worker (--workers 1)")
try:
    require_log(args.db)
except NoLogError as exc:
    print(f"拒绝 / refused: {exc}", file=sys.stderr)
    sys.exit(EXIT_NO_LOG)
except StorageError as exc:
    print(f"存储错误 / storage error: {exc}", file=sys.stderr)
    sys.exit(2)
try:
    # a bad key store is refused here, before any worker
    app = create_app(args.db, args.keys, witnesses=args.witnesses,
                     audit_report=args.audit_report)
except KeyFileError as exc:
    print(f"拒绝 / refused: {exc}", file=sys.stderr)
    sys.exit(EXIT_NO_LOG)
except InputError as exc:  # a key that is not the log's, a witness list the genesis denies
    print(f"拒绝 / refused: {exc}", file=sys.stderr)
    sys.exit(64)
if args.workers == 1:
    uvicorn.run(app, host=args.host, port=args.port, log_level="info",
                access_log=not args.no_access_log)
else:
    os.environ[DB_ENV] = args.db
    if args.keys is not None:
        os.environ[KEYS_ENV] = str(args.keys.resolve())
    else:
        os.environ.pop(KEYS_ENV, None)
    if args.audit_report is not None:
        os.environ[AUDIT_ENV] = str(args.audit_report.resolve())
    else:
        os.environ.pop(AUDIT_ENV, None)
    uvicorn.run("api._app:app_from_env", factory=True, workers=args.workers,
                host=args.host, port=args.port, log_level="info",
                access_log=not args.no_access_log)
