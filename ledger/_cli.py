"""``drawledger [--db PATH] COMMAND ...``: the operator's command line.

Commands: ``init`` (keys and genesis), ``demo`` (a small district log), ``checkpoint``
(sign the current tree), ``export OUT_DIR`` (entries, checkpoints, trust), ``import``,
``calendar``, ``matters``, ``plan``, ``draws`` (one line per draw) and ``bundle DRAW_ID
FILE`` (a draw's offline proof). The API is
served by ``python -m api`` (ledger never imports api).
Exit status: 0 done, 1 refused (bad input, the message says which field), 2 storage error,
64 usage, 66 no log at ``--db`` (only ``init`` and ``demo`` create one).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

from ledger._admin import (
    calendar_from_file,
    file_plan,
    import_file,
    publish_calendar,
    publish_matters,
    publish_plan,
    receive_plan,
)
from ledger._app import Ledger
from ledger._bundle import draw_lines, draw_status_text, make_bundle
from ledger._demo import DEFAULT_ORIGIN, LogKeys, build_demo, init_log
from ledger._errors import InputError, KeyFileError, LedgerError, NoLogError, StorageError
from ledger._import import format_errors
from ledger._results import (
    complete_inspection,
    correct_result,
    publish_result,
    receive_lead,
    record_result,
    submit_signed,
)
from ledger._statements import load_key
from ledger._witness import ForkError, Witness
from verifier import SPEC_VERSION, __version__, canonical
from verifier._results import OUTCOMES

__all__ = ["main"]

DEFAULT_DB = "var/drawledger.sqlite"
EXIT_NO_LOG = 66  # sysexits EX_NOINPUT: the --db given holds no log
_CREATING = ("init", "demo")  # the only commands that may create a log where there is none


def version_text() -> str:
    """``drawledger --version``: the package's version and the SPEC version its verifier
    checks, from the one place ``python -m verifier --version`` reads them too."""
    return f"drawledger {__version__} (规范 / spec {SPEC_VERSION})"


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
    ledger = Ledger(args.db, create=args.command in _CREATING)
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
            stats = build_demo(ledger, keys, targets=args.targets, inspectors=args.inspectors,
                               year=args.year, violations=args.violations)
            print(f"演示日志 / demo log: {stats['entries']} entries, "
                  f"{stats['checkpoints']} checkpoints in {args.db}")
        elif args.command == "checkpoint":
            # The local witnesses cosign through their state check (a rolled-back or
            # forked database is refused, nothing is cosigned).
            note = ledger.checkpoint(keys.load("log"), keys.witness_tools())
            print(note if note is not None else "已是最新 / already up to date", end="")
            if note is None:
                print()
        elif args.command == "export":
            stats = ledger.export(Path(args.out_dir))
            print(json.dumps(stats))
        elif args.command == "import":
            result, warnings = import_file(ledger, keys.load(f"dept-{args.department}"),
                                           args.department, args.kind, Path(args.file))
            if warnings:
                print(format_errors(warnings), file=sys.stderr)
            if result.already:
                print(f"该文件已导入（第 {result.seq} 条），未重复写入 / already imported at "
                      f"entry {result.seq}; nothing written")
            else:
                print(f"已导入 {result.rows} 行（导入记录为第 {result.seq} 条） / imported "
                      f"{result.rows} rows (import record at entry {result.seq})")
        elif args.command == "calendar":
            seq = publish_calendar(ledger, keys.load("authority"),
                                   calendar_from_file(Path(args.file)), amend=args.amend)
            print(f"日历已发布于第 {seq} 条 / calendar published at entry {seq}")
        elif args.command == "matters":
            matters = _json_file(Path(args.file))
            if not isinstance(matters, list):
                raise InputError(f"{args.file}: expected a JSON list of matters")
            seqs = publish_matters(ledger, keys.load("authority"), matters)
            print(f"已发布 {len(seqs)} 项抽查事项 / published {len(seqs)} matters")
        elif args.command == "plan":
            _plan(args, ledger, keys)
        elif args.command in ("inspection", "result", "lead"):
            seq = _result(args, ledger, keys)
            print(f"已写入第 {seq} 条 / written as entry {seq}")
        elif args.command == "witness":
            tools = ([Witness(load_key(Path(args.key)), Path(args.state))] if args.key
                     else keys.witness_tools())
            if not tools:
                raise InputError("no witness key: pass --key FILE --state FILE")
            for tool in tools:
                line = ledger.witness_latest(tool)
                print(f"已联署 / cosigned: {line}", end="")
        elif args.command == "draws":
            try:
                for line in draw_lines(ledger):
                    draw_id, day, status, rest = line.split("\t", 3)
                    print(f"{draw_id}\t{day}\t{draw_status_text(status)}\t{rest}")
                sys.stdout.flush()
            except BrokenPipeError:  # `drawledger draws | head`: the reader has enough
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        elif args.command == "bundle":
            data = canonical(make_bundle(ledger, args.draw_id))
            Path(args.out_file).write_bytes(data)
            print(f"已写出抽取证明包 / wrote the draw-proof bundle {args.out_file} "
                  f"({len(data)} bytes); 核验 / check: python -m verifier bundle "
                  f"{args.out_file}")
        return 0
    finally:
        ledger.close()


def _json_file(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable JSON file ({exc})") from None


def _date(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        raise InputError(f"{name}: {text!r} is not an ISO date (YYYY-MM-DD)") from None


def _result(args: argparse.Namespace, ledger: Ledger, keys: LogKeys) -> int:
    """inspection complete, result record|publish|correct, lead receive: signed here with
    the department's key (``--key`` or the key directory), or ``--statement FILE`` signed
    elsewhere."""
    if args.statement:
        return submit_signed(ledger, Path(args.statement))
    if not args.department:
        raise InputError("--department is required (or --statement FILE)")
    signer = load_key(Path(args.key)) if args.key else keys.load(f"dept-{args.department}")
    dept = args.department
    if args.command == "lead":
        if not (args.case and args.source and args.received_on and args.details):
            raise InputError("lead receive needs --case, --source, --received-on, --details")
        return receive_lead(ledger, signer, dept, case_id=args.case, source=args.source,
                            received_on=_date(args.received_on, "--received-on"),
                            details=Path(args.details).read_bytes(),
                            salt=secrets.token_bytes(32))
    if args.command == "inspection":
        if not (args.uscc and args.ended_on and args.inspectors):
            raise InputError("inspection complete needs --uscc, --ended-on, --inspectors")
        return complete_inspection(ledger, signer, dept, uscc=args.uscc,
                                   ended_on=_date(args.ended_on, "--ended-on"),
                                   inspectors=[c for c in args.inspectors.split(",") if c],
                                   plan_id=args.plan, batch_id=args.batch, case_id=args.case)
    if not args.inspection:
        raise InputError("--inspection is required (the inspection id)")
    if args.action == "publish":
        if not (args.record and args.url):
            raise InputError("result publish needs --record FILE (as publicised) and --url")
        return publish_result(ledger, signer, dept, args.inspection,
                              record=Path(args.record).read_bytes(), url=args.url)
    if not (args.outcome and args.findings):
        raise InputError("--outcome and --findings are required")
    if args.action == "correct":
        if args.corrects is None or not args.reason:
            raise InputError("result correct needs --corrects SEQ and --reason")
        return correct_result(ledger, signer, dept, args.inspection, corrects=args.corrects,
                              outcome=args.outcome, findings=args.findings, reason=args.reason)
    return record_result(ledger, signer, dept, args.inspection, outcome=args.outcome,
                         findings=args.findings,
                         attachments=[Path(a).read_bytes() for a in args.attachment])


def _plan(args: argparse.Namespace, ledger: Ledger, keys: LogKeys) -> None:
    if args.action == "file":
        plan = _json_file(Path(args.target))
        if not isinstance(plan, dict) or plan.get("dept") != args.department:
            raise InputError(f"{args.target}: a plan object whose dept is {args.department}")
        seq = file_plan(ledger, keys.load(f"dept-{args.department}"), plan)
    elif args.action == "receive":
        seq = receive_plan(ledger, keys.load("authority"), args.target)
    else:
        if not args.url:
            raise InputError("plan publish needs --url (where the plan is public)")
        seq = publish_plan(ledger, keys.load(f"dept-{args.department}"), args.department,
                           args.target, args.url)
    print(f"plan {args.action}: entry {seq}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(prog="drawledger", description="drawledger: 双随机、一公开 audit ledger")
    parser.add_argument("--db", default=DEFAULT_DB,
                        help=f"SQLite file or postgresql:// URL (default {DEFAULT_DB})")
    parser.add_argument("--keys", help="key directory (default: keys/ next to the database)")
    parser.add_argument("--version", action="version", version=version_text())
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("init", help="create the log keys and the genesis entry")
    # Required: a log's origin is its name for ever (in every checkpoint); the demo's example
    # origin would make a real log look like the demo's.
    p.add_argument("--origin", required=True,
                   help="the log's origin, a name for ever, e.g. market.example.gov.cn/ssj "
                        f"(the demo uses {DEFAULT_ORIGIN})")
    p = sub.add_parser("demo", help="build a demo district year")
    p.add_argument("--targets", type=int, default=20_000)
    p.add_argument("--inspectors", type=int, default=300)
    p.add_argument("--year", type=int, help="the year replayed (default: last year)")
    p.add_argument("--violations", action="store_true",
                   help="plant a late plan, a re-draw, a pool removal that changed a draw, "
                        "a conflicted substitute and a team of one")
    sub.add_parser("checkpoint", help="sign a checkpoint of the current log")
    p = sub.add_parser("export", help="write entries.jsonl, checkpoints/ and trust.json")
    p.add_argument("out_dir")
    p = sub.add_parser("import", help="import a registry file (.xlsx or .csv), all or nothing")
    p.add_argument("kind", choices=["targets", "inspectors"])
    p.add_argument("file")
    p.add_argument("--department", required=True, help="importing department code")
    p = sub.add_parser("calendar", help="publish an official working-day calendar")
    p.add_argument("action", choices=["publish"])
    p.add_argument("file", help="cn-YYYY.json in the bundled format")
    p.add_argument("--amend", action="store_true", help="replace a published year")
    p = sub.add_parser("matters", help="publish the random-inspection matter list")
    p.add_argument("action", choices=["publish"])
    p.add_argument("file", help="JSON list of matters")
    p = sub.add_parser("plan", help="file, receive or publish an annual plan")
    p.add_argument("action", choices=["file", "receive", "publish"])
    p.add_argument("target", help="plan JSON file (file) or plan id (receive, publish)")
    p.add_argument("--department", help="the plan's department (file, publish)")
    p.add_argument("--url", help="where the plan is published (publish)")
    for name, actions, what in (("inspection", ["complete"], "an inspection's end"),
                                ("result", ["record", "publish", "correct"], "a result"),
                                ("lead", ["receive"], "a lead for a targeted inspection")):
        p = sub.add_parser(name, help=f"state {what}, signed by the department")
        p.add_argument("action", choices=actions)
        p.add_argument("--statement", help="a statement signed elsewhere (JSON) to submit")
        p.add_argument("--department", help="the department stating it")
        p.add_argument("--key", help="the department's skey file (default: key directory)")
        p.add_argument("--inspection", help="inspection id: plan_id/batch_id/uscc (random)")
        p.add_argument("--uscc")
        p.add_argument("--plan")
        p.add_argument("--batch")
        p.add_argument("--case", help="the lead's case id (targeted)")
        p.add_argument("--ended-on", help="YYYY-MM-DD")
        p.add_argument("--inspectors", help="执法证号 of those who went, comma-separated")
        p.add_argument("--outcome", choices=sorted(OUTCOMES))
        p.add_argument("--findings", help="the findings text")
        p.add_argument("--attachment", action="append", default=[],
                       help="a file whose SHA-256 is recorded (the file stays off the log)")
        p.add_argument("--record", help="the record file exactly as publicised")
        p.add_argument("--url", help="where it is publicised")
        p.add_argument("--corrects", type=int, help="seq of the record corrected")
        p.add_argument("--reason")
        p.add_argument("--source", choices=["complaint", "referral", "monitoring"])
        p.add_argument("--received-on", help="YYYY-MM-DD")
        p.add_argument("--details", help="file with the lead's details (only a salted "
                                         "SHA-256 is written)")
    p = sub.add_parser("witness", help="a witness checks the latest checkpoint extends what "
                                       "it cosigned last, then cosigns it (refuses a fork)")
    p.add_argument("action", choices=["cosign"])
    p.add_argument("--key", help="the witness's skey file (default: local witness keys)")
    p.add_argument("--state", help="the witness's state file (with --key)")
    sub.add_parser("draws", help="list the draws, one a line, the draw id first")
    p = sub.add_parser("bundle", help="write the self-contained proof bundle of one draw")
    p.add_argument("draw_id", help="plan_id/batch_id, as `drawledger draws` prints it")
    p.add_argument("out_file")
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except (InputError, KeyFileError) as exc:
        print(f"拒绝 / refused: {exc}", file=sys.stderr)
        return 1
    except ForkError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except NoLogError as exc:
        print(f"拒绝 / refused: {exc}", file=sys.stderr)
        return EXIT_NO_LOG
    except StorageError as exc:
        print(f"存储错误 / storage error: {exc}", file=sys.stderr)
        return 2
    except LedgerError as exc:
        print(f"错误 / error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
