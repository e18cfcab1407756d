"""``drawledger [--db PATH] COMMAND ...``: the operator's command line.

Commands: ``init`` (keys and genesis), ``demo`` (a small district log), ``checkpoint``
(sign the current tree), ``export OUT_DIR`` (entries, checkpoints, trust). The API is
served by ``python -m api`` (ledger never imports api).
Exit status: 0 done, 1 refused (bad input, the message says which field), 2 storage error,
64 usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from ledger._app import Ledger
from ledger._demo import DEFAULT_ORIGIN, LogKeys, build_demo, init_log
from ledger._errors import InputError, KeyFileError, LedgerError, StorageError

__all__ = ["main"]

DEFAULT_DB = "var/drawledger.sqlite"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        print(f"{self.prog}: 用法错误 / usage error: {message}", file=sys.stderr)
        raise SystemExit(64)


def _keys(args: argparse.Namespace) -> LogKeys:
    if args.keys:
        return LogKeys(Path(args.keys))
    if args.db.startswith(("postgres://", "postgresql://")):
        return LogKeys(Path("var/keys"))
    return LogKeys(Path(args.db).parent / "keys")


def _run(args: argparse.Namespace) -> int:
    ledger = Ledger(args.db)
    try:
        keys = _keys(args)
        if args.command == "init":
            init_log(ledger, keys, args.origin)
            print(f"已创建日志 / log created: origin {args.origin}, keys in {keys.directory}")
        elif args.command == "demo":
            if ledger.refresh():
                print(f"日志已有 {ledger.size} 条，不再生成演示数据 / log already has "
                      f"{ledger.size} entries; demo not rebuilt")
                return 0
            stats = build_demo(ledger, keys, targets=args.targets, inspectors=args.inspectors)
            print(f"演示日志 / demo log: {stats['entries']} entries, "
                  f"{stats['checkpoints']} checkpoints in {args.db}")
        elif args.command == "checkpoint":
            note = ledger.checkpoint(keys.load("log"), keys.witnesses())
            print(note if note is not None else "已是最新 / already up to date", end="")
            if note is None:
                print()
        elif args.command == "export":
            stats = ledger.export(Path(args.out_dir))
            print(json.dumps(stats))
        return 0
    finally:
        ledger.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(prog="drawledger", description="drawledger: 双随机、一公开 audit ledger")
    parser.add_argument("--db", default=DEFAULT_DB,
                        help=f"SQLite file or postgresql:// URL (default {DEFAULT_DB})")
    parser.add_argument("--keys", help="key directory (default: keys/ next to the database)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("init", help="create the log keys and the genesis entry")
    p.add_argument("--origin", default=DEFAULT_ORIGIN)
    p = sub.add_parser("demo", help="build a small demo district log")
    p.add_argument("--targets", type=int, default=240)
    p.add_argument("--inspectors", type=int, default=48)
    sub.add_parser("checkpoint", help="sign a checkpoint of the current log")
    p = sub.add_parser("export", help="write entries.jsonl, checkpoints/ and trust.json")
    p.add_argument("out_dir")
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except (InputError, KeyFileError) as exc:
        print(f"拒绝 / refused: {exc}", file=sys.stderr)
        return 1
    except StorageError as exc:
        print(f"存储错误 / storage error: {exc}", file=sys.stderr)
        return 2
    except LedgerError as exc:
        print(f"错误 / error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
