"""``python -m api [--db PATH] [--host H] [--port P]``: serve the read-only API."""

from __future__ import annotations

import argparse

import uvicorn

from api._app import create_app

parser = argparse.ArgumentParser(prog="python -m api", description="drawledger read-only API")
parser.add_argument("--db", default="var/drawledger.sqlite",
                    help="SQLite file or postgresql:// URL")
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, default=8000)
args = parser.parse_args()
uvicorn.run(create_app(args.db), host=args.host, port=args.port, log_level="info")
