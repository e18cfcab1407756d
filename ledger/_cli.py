"""``drawledger [--db PATH] COMMAND ...``: the operator's command line.

Commands: ``init`` (keys and genesis), ``demo`` (a small district log), ``checkpoint``
(sign the current tree), ``export OUT_DIR`` (entries, checkpoints, trust), ``import``,
``calendar``, ``matters``, ``plan``, ``draws`` (one line per draw) and ``bundle DRAW_ID
FILE`` (a draw's offline proof), ``entity-proof DRAW_ID USCC FILE`` (one entity's). The API is
served by ``python -m api`` (ledger never imports api).
Exit status: 0 done, 1 refused (bad input, the message says which field), 2 storage error,
64 usage, 66 no log at ``--db`` (only ``init`` and ``demo`` create one).
"""

from __future__ import annotations

import argparse
import base64
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
from ledger._app import Ledger, require_log
from ledger._bundle import draw_lines, draw_status_text
from ledger._bundlecache import bundle_bytes
from ledger._checkpointer import Checkpointer, load_witnesses
from ledger._demo import DEFAULT_ORIGIN, TRIAL_PARTIES, Parties, build_demo, init_log
from ledger._entityproof import make_entity_proof
from ledger._errors import (
    InputError,
    KeyFileError,
    LedgerError,
    NoLogError,
    RejectedError,
    StorageError,
)
from ledger._import import format_errors
from ledger._results import (
    complete_inspection,
    correct_result,
    publish_result,
    receive_lead,
    record_result,
)
from ledger._tiles import write_tiles
from ledger._witness import ForkError, Witness
from verifier import (
    SPEC_VERSION,
    BatchSubmission,
    FormatError,
    LogState,
    NoteSigner,
    Submission,
    __version__,
    canonical,
    load_key,
    parse_statement_file,
    save_key,
)
from verifier._errors import VerifierError
from verifier._results import OUTCOMES
from verifier._statements import check_origin

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


def _parties(args: argparse.Namespace) -> Parties:
    """``--keys DIR`` is the log key's store only (what the operator's server holds);
    the other parties' stores of a single-machine trial are ``--parties DIR`` (default:
    the folder around the log's store, ``parties/`` beside the database)."""
    if args.keys:
        log_store = Path(args.keys)
        root = Path(args.parties) if args.parties else log_store.resolve().parent
        return Parties(root, log_store)
    if args.parties:
        return Parties(Path(args.parties))
    if args.db.startswith(("postgres://", "postgresql://")):
        return Parties(Path("var/parties"))
    return Parties(Path(args.db).parent / "parties")


def _signer(args: argparse.Namespace, keys: Parties, party: str) -> NoteSigner:
    """``--key FILE`` when given, else ``party``'s store of the trial layout."""
    key = getattr(args, "key", None)
    return load_key(Path(key), 1) if key else keys.load(party)


def _run(args: argparse.Namespace) -> int:
    if args.command == "log-keygen":
        return _keygen(args.origin, 1, Path(args.out) / "log.skey", ("日志私钥", "log key"),
                       ("权威机构写入创世声明", "the authority for the genesis"))
    if args.command == "witness" and args.action == "keygen":
        return _keygen(args.name, 4, Path(args.out) / f"{args.name}.skey",
                       ("见证人私钥", "witness key"),
                       ("权威机构写入创世声明的 witnesses", "the authority for the genesis's "
                        "witnesses"))
    keys = _parties(args)
    if args.command == "init":
        _refuse_existing_log(args.db)
    # Checked before the database is created: a refused init leaves no empty log behind.
    genesis = _genesis(args, keys) if args.command == "init" else None
    ledger = Ledger(args.db, create=args.command in _CREATING)
    try:
        if args.command == "init":
            _init(args, ledger, keys, genesis)
        elif args.command == "demo":
            if ledger.refresh():
                print(f"日志已有 {ledger.size} 条，不再生成演示数据 / log already has "
                      f"{ledger.size} entries; demo not rebuilt")
                return 0
            stats = build_demo(ledger, keys, targets=args.targets, inspectors=args.inspectors,
                               year=args.year, violations=args.violations, spec=args.spec)
            print(f"演示日志 / demo log: {stats['entries']} entries, "
                  f"{stats['checkpoints']} checkpoints in {args.db}; "
                  f"各方密钥库 / party key stores in {keys.root}")
        elif args.command == "checkpoint" and args.witnesses:
            _checkpoint_remote(ledger, keys.load("log"), Path(args.witnesses))
        elif args.command == "checkpoint":
            # The local witnesses cosign through their state check (a rolled-back or
            # forked database is refused, nothing is cosigned).
            note = ledger.checkpoint(keys.load("log"), keys.witness_tools())
            print(note if note is not None else "已是最新 / already up to date", end="")
            if note is None:
                print()
        elif args.command == "submit":
            _submit(ledger, [Path(f) for f in args.files])
        elif args.command == "export":
            stats = ledger.export(Path(args.out_dir), auditor=args.auditor)
            print(json.dumps(stats))
        elif args.command == "tiles":
            print(json.dumps(write_tiles(ledger, Path(args.out_dir))))
        elif args.command == "import":
            result, warnings = import_file(ledger, _signer(args, keys, f"dept-{args.department}"),
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
            seq = publish_calendar(ledger, _signer(args, keys, "authority"),
                                   calendar_from_file(Path(args.file)), amend=args.amend)
            print(f"日历已发布于第 {seq} 条 / calendar published at entry {seq}")
        elif args.command == "matters":
            matters = _json_file(Path(args.file))
            if not isinstance(matters, list):
                raise InputError(f"{args.file}: expected a JSON list of matters")
            seqs = publish_matters(ledger, _signer(args, keys, "authority"), matters)
            print(f"已发布 {len(seqs)} 项抽查事项 / published {len(seqs)} matters")
        elif args.command == "plan":
            _plan(args, ledger, keys)
        elif args.command in ("inspection", "result", "lead"):
            seq = _result(args, ledger, keys)
            print(f"已写入第 {seq} 条 / written as entry {seq}")
        elif args.command == "witness":
            if bool(args.key) != bool(args.state):
                raise InputError("witness cosign: --key and --state go together")
            tools = ([Witness(load_key(Path(args.key), 4), Path(args.state))] if args.key
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
            data = bundle_bytes(ledger, args.draw_id)  # built once, then from the cache
            Path(args.out_file).write_bytes(data)
            print(f"已写出抽取证明包 / wrote the draw-proof bundle {args.out_file} "
                  f"({len(data)} bytes); 核验 / check: python -m verifier bundle "
                  f"{args.out_file}")
        elif args.command == "entity-proof":
            data = canonical(make_entity_proof(ledger, args.draw_id, args.uscc))
            Path(args.out_file).write_bytes(data)
            print(f"已写出企业证明 / wrote the entity proof {args.out_file} ({len(data)} bytes); "
                  f"核验 / check: python -m verifier entity-proof {args.out_file} --trust "
                  "trust.json")
        return 0
    finally:
        ledger.close()


def _keygen(name: str, sigtype: int, path: Path, what: tuple[str, str],
            to: tuple[str, str]) -> int:
    """A new key in its own store, on the host of the party it belongs to; prints the vkey
    (the part that is handed on) on stdout."""
    try:
        signer = NoteSigner.generate(check_origin(name), sigtype)
    except FormatError as exc:
        raise InputError(f"--name/--origin: {exc}") from None
    save_key(path, signer)
    print(signer.verifier.vkey)
    print(f"{what[0]}已写入 {path}（仅存本机，权限 0600），请将上面一行公钥交给{to[0]} / "
          f"{what[1]} written to {path} (this host only, mode 0600); hand the vkey above to "
          f"{to[1]}", file=sys.stderr)
    return 0


def _refuse_existing_log(db: str) -> None:
    """``init`` on a database that already holds a log says so first (not that some key
    store is taken, which follows from it)."""
    try:
        require_log(db)
    except NoLogError:
        return
    ledger = Ledger(db, create=False)
    try:
        if ledger.refresh():
            raise InputError("日志非空：已有创世条目 / the log is not empty: it already has a "
                             "genesis")
    finally:
        ledger.close()


def _genesis(args: argparse.Namespace, keys: Parties) -> Submission | None:
    """What ``init`` will write, checked before anything is created: the trial's stores
    must be new; a ``--genesis`` file must be one log.genesis, name this log's key and
    pass the verifier's rules for entry 0."""
    if args.origin:
        for party in TRIAL_PARTIES:
            if keys.path(party).exists():
                raise InputError(f"key store {keys.store(party)} already holds a key: the "
                                 "trial creates every party's key afresh")
        return None
    path = Path(args.genesis)
    statements = _read_statements(path)
    genesis = statements[0]
    if len(statements) != 1 or genesis.type != "log.genesis":
        raise InputError(f"{path}: not one log.genesis statement")
    log_key = keys.load("log")
    if genesis.body.get("log_key") != log_key.verifier.vkey:
        raise InputError(f"{path}: body.log_key is {genesis.body.get('log_key')!r}, but the "
                         f"log key in {keys.store('log')} is {log_key.verifier.vkey}: the "
                         "genesis must name this log's key")
    findings = LogState().check(0, genesis.stream, 1, genesis.type, genesis.actor, genesis.body,
                                genesis.sig, genesis.signed_bytes(),
                                base64.b64decode(genesis.sig["value"]))
    if findings:
        raise InputError(f"{path}: " + "; ".join(f"{f.rule}: {f.zh} / {f.en}"
                                                 for f in findings))
    return genesis


def _init(args: argparse.Namespace, ledger: Ledger, keys: Parties,
          genesis: Submission | None) -> None:
    if genesis is None:
        init_log(ledger, keys, args.origin, spec=args.spec)
        print(f"已创建日志（单机试用：各方密钥都在本机）/ log created (single-machine trial: "
              f"every party's key is on this host): origin {args.origin}; 各方密钥库 / "
              f"party key stores: {keys.store('log')}, {keys.root}/authority, "
              f"{keys.root}/witness-*")
        return
    if ledger.refresh():
        raise InputError("the log is not empty: it already has a genesis")
    ledger.submit([genesis])
    print(f"已创建日志 / log created: origin {genesis.body.get('origin')}, genesis signed by "
          f"{genesis.sig['key']}")


def _read_statements(path: Path) -> list[Submission]:
    """The statements of one statement file (a batch submission gives its head and
    members in order)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        parsed = parse_statement_file(data, str(path))
    except FormatError as exc:
        raise InputError(str(exc)) from None
    return parsed.statements() if isinstance(parsed, BatchSubmission) else [parsed]


def _submit(ledger: Ledger, paths: list[Path]) -> None:
    """Statement files signed by their parties, appended in one transaction (all or none)."""
    files = [(path, _read_statements(path)) for path in paths]
    flat = [s for _, statements in files for s in statements]
    try:
        seqs = ledger.submit(flat)
    except RejectedError as exc:
        start = 0
        for path, statements in files:
            if exc.index < start + len(statements):
                reasons = "; ".join(f"{f.rule}: {f.zh} / {f.en}" for f in exc.findings)
                raise InputError(f"{path}（第 {exc.index - start + 1} 条声明 / statement "
                                 f"{exc.index - start + 1}）: {reasons}; 未写入任何内容 / "
                                 "nothing written") from None
            start += len(statements)
        raise
    start = 0
    for path, statements in files:
        got = seqs[start:start + len(statements)]
        start += len(statements)
        where = f"{got[0]}" if len(got) == 1 else f"{got[0]}-{got[-1]}"
        print(f"{path}: 已写入第 {where} 条 / written as entry {where}")


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


def _result(args: argparse.Namespace, ledger: Ledger, keys: Parties) -> int:
    """inspection complete, result record|publish|correct, lead receive: signed here with
    the department's key (``--key`` or its trial store); a statement signed elsewhere goes
    through ``drawledger submit FILE``."""
    signer = _signer(args, keys, f"dept-{args.department}")
    dept = args.department
    if args.command == "lead":
        return receive_lead(ledger, signer, dept, case_id=args.case, source=args.source,
                            received_on=_date(args.received_on, "--received-on"),
                            details=_read(args.details, "--details"),
                            salt=secrets.token_bytes(32))
    if args.command == "inspection":
        if not (args.plan and args.batch) and not args.case:
            raise InputError("inspection complete: --plan and --batch (a drawn target) or "
                             "--case (a targeted inspection)")
        return complete_inspection(ledger, signer, dept, uscc=args.uscc,
                                   ended_on=_date(args.ended_on, "--ended-on"),
                                   inspectors=[c for c in args.inspectors.split(",") if c],
                                   plan_id=args.plan, batch_id=args.batch, case_id=args.case)
    if args.action == "publish":
        return publish_result(ledger, signer, dept, args.inspection,
                              record=_read(args.record, "--record"), url=args.url)
    if args.action == "correct":
        return correct_result(ledger, signer, dept, args.inspection, corrects=args.corrects,
                              outcome=args.outcome, findings=args.findings, reason=args.reason)
    return record_result(ledger, signer, dept, args.inspection, outcome=args.outcome,
                         findings=args.findings,
                         attachments=[_read(a, "--attachment") for a in args.attachment])


def _read(path: str, option: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"{option} {path}: cannot be read ({exc.strerror})") from None


def _plan(args: argparse.Namespace, ledger: Ledger, keys: Parties) -> None:
    if args.action == "file":
        plan = _json_file(Path(args.file))
        if not isinstance(plan, dict) or plan.get("dept") != args.department:
            raise InputError(f"{args.file}: a plan object whose dept is {args.department}")
        seq = file_plan(ledger, _signer(args, keys, f"dept-{args.department}"), plan)
    elif args.action == "receive":
        seq = receive_plan(ledger, _signer(args, keys, "authority"), args.plan_id)
    else:
        seq = publish_plan(ledger, _signer(args, keys, f"dept-{args.department}"),
                           args.department, args.plan_id, args.url)
    print(f"plan {args.action}: entry {seq}")


_OUTCOME_HELP = "结果代码 / outcome codes (--outcome):\n" + "\n".join(
    f"  {code:<16} {zh} / {en}" for code, (zh, en) in OUTCOMES.items())


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


class _Actions:
    """Sub-commands with their own ``--help``: what each does (Chinese first) and which
    options it requires, argparse listing those under 必填 / required."""

    def __init__(self, sub: Any) -> None:
        self.sub = sub

    def add(self, name: str, zh: str, en: str, epilog: str | None = None
            ) -> tuple[argparse.ArgumentParser, Any]:
        parser = self.sub.add_parser(name, help=f"{zh} / {en}", description=f"{zh}\n{en}",
                                     epilog=epilog, formatter_class=_formatter)
        required = parser.add_argument_group("必填 / required")
        return parser, required


def _department_key(parser: argparse.ArgumentParser, required: Any) -> None:
    required.add_argument("--department", required=True, metavar="CODE",
                          help="声明部门代码 / the stating department's code, e.g. ZC-SCJGJ")
    parser.add_argument("--key", metavar="FILE",
                        help="该部门的私钥文件 / the department's skey file (default: its store "
                             "parties/dept-CODE of a single-machine trial)")


def _authority_key(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--key", metavar="FILE",
                        help="权威机构的私钥文件 / the authority's skey file (default: the "
                             "trial store parties/authority)")


def _add_results(sub: _Actions) -> None:
    p, req = sub.add("inspection", "检查", "an inspection")
    acts = _Actions(p.add_subparsers(dest="action", required=True, metavar="ACTION"))
    p, req = acts.add("complete", "记录检查结束：检查了哪个对象、哪天结束、哪些执法人员"
                      "到场（谁检查）",
                      "record an inspection's end: which target, the day it ended, who went")
    _department_key(p, req)
    req.add_argument("--uscc", required=True, help="检查对象统一社会信用代码 / the target's USCC")
    req.add_argument("--ended-on", required=True, metavar="YYYY-MM-DD",
                     help="检查结束日期 / the day it ended")
    req.add_argument("--inspectors", required=True, metavar="CERT,CERT",
                     help="到场执法人员执法证号，逗号分隔 / 执法证号 of those who went")
    p.add_argument("--plan", help="抽取所属计划（随机抽查）/ plan id (random inspection)")
    p.add_argument("--batch", help="抽取批次（随机抽查）/ batch id (random inspection)")
    p.add_argument("--case", help="线索编号（定向检查）/ the lead's case id (targeted)")

    p, req = sub.add("result", "检查结果", "an inspection's result")
    acts = _Actions(p.add_subparsers(dest="action", required=True, metavar="ACTION"))
    inspection = "检查编号 plan_id/batch_id/uscc / inspection id"
    p, req = acts.add("record", "录入检查结果（谁录入）：结果代码、检查情况，附件只记 SHA-256",
                      "record an inspection's outcome: code, findings, attachments by SHA-256",
                      epilog=_OUTCOME_HELP)
    _department_key(p, req)
    req.add_argument("--inspection", required=True, help=inspection)
    req.add_argument("--outcome", required=True, choices=list(OUTCOMES), metavar="CODE",
                     help="结果代码，见下 / outcome code, listed below")
    req.add_argument("--findings", required=True, help="检查情况 / the findings text")
    p.add_argument("--attachment", action="append", default=[], metavar="FILE",
                   help="附件（只记录其 SHA-256，文件不上链）/ a file whose SHA-256 is recorded")
    p, req = acts.add("publish", "公示检查结果（谁公开）：记录所公示文本的 SHA-256 和网址",
                      "publish a result: the SHA-256 of the record as publicised, and where")
    _department_key(p, req)
    req.add_argument("--inspection", required=True, help=inspection)
    req.add_argument("--record", required=True, metavar="FILE",
                     help="所公示的结果文本，原样 / the record file exactly as publicised")
    req.add_argument("--url", required=True, help="公示网址 / where it is publicised")
    p, req = acts.add("correct", "更正检查结果：新记录指向被更正的记录（从不修改原记录）",
                      "correct a result: a new record pointing at the one it corrects",
                      epilog=_OUTCOME_HELP)
    _department_key(p, req)
    req.add_argument("--inspection", required=True, help=inspection)
    req.add_argument("--corrects", required=True, type=int, metavar="SEQ",
                     help="被更正记录的条目号 / seq of the record corrected")
    req.add_argument("--outcome", required=True, choices=list(OUTCOMES), metavar="CODE",
                     help="结果代码，见下 / outcome code, listed below")
    req.add_argument("--findings", required=True, help="检查情况 / the findings text")
    req.add_argument("--reason", required=True, help="更正理由 / why")

    p, req = sub.add("lead", "定向检查线索", "a lead for a targeted inspection")
    acts = _Actions(p.add_subparsers(dest="action", required=True, metavar="ACTION"))
    p, req = acts.add("receive", "登记线索：只上链加盐 SHA-256，详情留在部门",
                      "receive a lead: only a salted SHA-256 of its details is written")
    _department_key(p, req)
    req.add_argument("--case", required=True, help="线索编号 / case id")
    req.add_argument("--source", required=True, choices=["complaint", "referral", "monitoring"],
                     help="来源：投诉举报、转办交办、监测 / source")
    req.add_argument("--received-on", required=True, metavar="YYYY-MM-DD",
                     help="收到日期 / the day received")
    req.add_argument("--details", required=True, metavar="FILE",
                     help="线索详情文件 / file with the lead's details")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="drawledger", formatter_class=_formatter,
                     description="drawledger：双随机、一公开 可审计日志（运营方命令行）\n"
                                 "drawledger: the operator's command line of the audit ledger\n"
                                 "每个命令有自己的 --help / each command has its own --help")
    parser.add_argument("--db", default=DEFAULT_DB,
                        help=f"SQLite 文件或 postgresql:// 地址 / SQLite file or postgresql:// "
                             f"URL (default {DEFAULT_DB})")
    parser.add_argument("--keys", metavar="DIR",
                        help="日志私钥库（只含 log.skey）/ the log key's store, holding only "
                             "log.skey (default: parties/log beside the database)")
    parser.add_argument("--parties", metavar="DIR",
                        help="单机试用时各方密钥库所在文件夹 / the party stores of a "
                             "single-machine trial (default: the folder around --keys, or "
                             "parties/ beside the database)")
    parser.add_argument("--version", action="version", version=version_text())
    sub = _Actions(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    p, req = sub.add("log-keygen", "生成日志私钥（部署第一步，在运营方服务器上）；输出公钥"
                     "交给权威机构",
                     "make the log key (deployment, on the operator's server); prints the vkey "
                     "for the authority's genesis")
    req.add_argument("--origin", required=True, help="日志名称，永久不变 / the log's origin, "
                     "for ever, e.g. market.example.gov.cn/ssj")
    req.add_argument("--out", required=True, metavar="DIR",
                     help="日志私钥库文件夹 / the log key's store (new log.skey, mode 0600)")
    p, req = sub.add("init", "创建日志：--genesis 提交权威机构离线签署的创世声明（部署）；--origin "
                     "在本机生成各方全部密钥（仅限单机试用）",
                     "create the log: --genesis submits a genesis the authority signed offline "
                     "(deployment); --origin makes every party's key on this host (single-"
                     "machine trial only)")
    how = p.add_argument_group("必填其一 / one of these is required").add_mutually_exclusive_group(
        required=True)
    # A log's origin is its name for ever (in every checkpoint); the demo's example origin
    # would make a real log look like the demo's.
    how.add_argument("--genesis", metavar="FILE",
                     help="权威机构签署的创世声明文件 / the signed log.genesis statement file "
                          "(drawledger-client genesis); the log key is --keys")
    how.add_argument("--origin", help="单机试用：日志名称，永久不变 / trial: the log's origin, "
                     f"a name for ever (the demo uses {DEFAULT_ORIGIN})")
    p.add_argument("--spec", type=int, choices=(1, 2), default=1,
                   help="单机试用的规范版本：2 封存内部字段（风险分类、执法证有效期、回避关系）/ "
                        "trial: the specification version; 2 seals internal fields (SPEC.md 21)")
    p, req = sub.add("demo", "生成演示用的区县全年日志（各方密钥分别存放在 parties/ 下）",
                     "build a demo district year (each party's key in its own parties/ folder)")
    p.add_argument("--targets", type=int, default=20_000)
    p.add_argument("--spec", type=int, choices=(1, 2), default=1,
                   help="规范版本：2 封存内部字段，开启值存于运营方内部库 / the specification "
                        "version: 2 seals internal fields, their openings in the internal store")
    p.add_argument("--inspectors", type=int, default=300)
    p.add_argument("--year", type=int, help="演示年份 / the year replayed (default: last year)")
    p.add_argument("--violations", action="store_true",
                   help="植入违规：逾期计划、重复抽取、影响结果的对象移除、有利害关系的替补、"
                        "单人检查组 / plant a late plan, a re-draw, a pool removal that changed "
                        "a draw, a conflicted substitute and a team of one")
    p, req = sub.add("submit", "提交各方签好的声明文件（单条声明或批量声明），全部写入或全部不写",
                     "submit statement files signed by their parties (a statement or a batch "
                     "submission), all or none")
    req.add_argument("files", nargs="+", metavar="FILE", help="声明文件 / statement file")
    p, _ = sub.add("checkpoint", "签署当前日志树的检查点，并由见证人联署（达到法定数才发布）",
                   "sign a checkpoint of the current log; witnesses cosign it (published "
                   "only with the quorum)")
    p.add_argument("--witnesses", metavar="FILE", help="见证人服务列表 witnesses.json（不给则用"
                   "本机试用见证人）/ the witness services, witnesses.json (default: the trial's "
                   "local witnesses)")
    p, req = sub.add("export", "导出 entries.jsonl、checkpoints/ 和 trust.json",
                     "write entries.jsonl, checkpoints/ and trust.json")
    req.add_argument("out_dir", metavar="OUT_DIR")
    p.add_argument("--auditor", action="store_true",
                   help="审计导出：另写 openings.jsonl（内部字段的开启值），只交给登记的审计机构 / "
                        "auditor export: also openings.jsonl, the sealed fields' openings, for "
                        "a registered auditor only")
    p, req = sub.add("tiles", "把已发布的日志树写成 C2SP tlog-tiles 静态文件"
                     "（可由 nginx 或对象存储直接提供）",
                     "write the published tree as C2SP tlog-tiles static files (served by "
                     "nginx or an object store as they are)")
    req.add_argument("out_dir", metavar="OUT_DIR")
    p, req = sub.add("import", "导入名录库文件（.xlsx 或 .csv），全部或全不",
                     "import a registry file (.xlsx or .csv), all rows or none")
    req.add_argument("kind", choices=["targets", "inspectors"])
    req.add_argument("file", metavar="FILE")
    _department_key(p, req)
    p, req = sub.add("calendar", "工作日历", "working-day calendars")
    acts = _Actions(p.add_subparsers(dest="action", required=True, metavar="ACTION"))
    p, req = acts.add("publish", "发布官方工作日历（权威机构签署）",
                      "publish an official working-day calendar (signed by the authority)")
    req.add_argument("file", metavar="FILE", help="cn-YYYY.json")
    p.add_argument("--amend", action="store_true", help="替换已发布年份 / replace a published year")
    _authority_key(p)
    p, req = sub.add("matters", "随机抽查事项清单", "the random-inspection matter list")
    acts = _Actions(p.add_subparsers(dest="action", required=True, metavar="ACTION"))
    p, req = acts.add("publish", "发布抽查事项清单（权威机构签署）",
                      "publish the matter list (signed by the authority)")
    req.add_argument("file", metavar="FILE", help="JSON 事项列表 / JSON list of matters")
    _authority_key(p)
    p, req = sub.add("plan", "年度抽查计划", "annual plans")
    acts = _Actions(p.add_subparsers(dest="action", required=True, metavar="ACTION"))
    p, req = acts.add("file", "报送年度计划（部门签署）", "file an annual plan (by its department)")
    req.add_argument("file", metavar="FILE", help="计划 JSON 文件 / plan JSON file")
    _department_key(p, req)
    p, req = acts.add("receive", "登记收到计划（权威机构签署）",
                      "record a plan as received (by the authority)")
    req.add_argument("plan_id", metavar="PLAN_ID")
    _authority_key(p)
    p, req = acts.add("publish", "公示计划（部门签署）", "publish a plan (by its department)")
    req.add_argument("plan_id", metavar="PLAN_ID")
    _department_key(p, req)
    req.add_argument("--url", required=True, help="公示网址 / where the plan is public")
    _add_results(sub)
    p, req = sub.add("witness", "见证人", "witnesses")
    acts = _Actions(p.add_subparsers(dest="action", required=True, metavar="ACTION"))
    p, req = acts.add("keygen", "生成见证人联署密钥（在见证机构自己的机器上）；输出公钥交给"
                      "权威机构",
                      "make a witness cosignature key (on the witness's own machine); prints "
                      "the vkey for the genesis")
    req.add_argument("--name", required=True, help="见证人密钥名称 / the witness key's name, "
                     "e.g. zichuan-audit-bureau")
    req.add_argument("--out", required=True, metavar="DIR",
                     help="见证人的密钥库文件夹 / the witness's key store (new NAME.skey, 0600)")
    p, req = acts.add("cosign", "见证人核对最新检查点是否延续其上次联署的日志树，然后联署"
                      "（拒绝分叉）",
                      "a witness checks the latest checkpoint extends what it cosigned last, "
                      "then cosigns it (refuses a fork)")
    p.add_argument("--key", metavar="FILE", help="见证人私钥文件 / the witness's skey file "
                   "(default: the local witnesses of a trial)")
    p.add_argument("--state", metavar="FILE", help="见证人状态文件（与 --key 同用）/ the "
                   "witness's state file (with --key)")
    sub.add("draws", "列出抽取，每行一个，抽取编号在前", "list the draws, one a line, the draw id "
            "first")
    p, req = sub.add("bundle", "写出一次抽取的完整证明包，可离线核验",
                     "write the self-contained proof bundle of one draw")
    req.add_argument("draw_id", metavar="DRAW_ID", help="plan_id/batch_id（见 drawledger draws）")
    req.add_argument("out_file", metavar="FILE")
    p, req = sub.add("entity-proof", "写出一家企业在一次抽取中的简短证明（SPEC 22），可离线核验",
                     "write one entity's compact proof for one draw (SPEC 22)")
    req.add_argument("draw_id", metavar="DRAW_ID", help="plan_id/batch_id（见 drawledger draws）")
    req.add_argument("uscc", metavar="USCC", help="统一社会信用代码 / the entity's USCC")
    req.add_argument("out_file", metavar="FILE")
    return parser


def _checkpoint_remote(ledger: Ledger, log_key: NoteSigner, witnesses: Path) -> None:
    """One publication round through the witness services (SPEC.md "Publication"); the
    quorum missed is an error (exit 1) that says which witness failed and why."""
    checkpointer = Checkpointer(ledger, log_key, load_witnesses(witnesses, ledger.trust()))
    outcome = checkpointer.publish()
    status = checkpointer.status()
    for w in status["witnesses"]:
        state = (f"已联署 / cosigned size {w['cosigned_size']}" if not w["last_error"]
                 else w["last_error"])
        print(f"{w['name']} ({w['url']}): {state}", file=sys.stderr)
    if outcome is None:
        print(f"已是最新 / already up to date (published size {status['published_size']})")
    elif outcome.published:
        print(f"已发布检查点 {outcome.size}（{len(outcome.cosigners)}/{outcome.quorum} 见证人联署）"
              f" / published checkpoint {outcome.size} ({len(outcome.cosigners)} cosigners, "
              f"quorum {outcome.quorum})")
    else:
        raise InputError(f"{status['message_zh']} / {status['message_en']}")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except (InputError, KeyFileError) as exc:
        print(f"拒绝 / refused: {exc}", file=sys.stderr)
        return 1
    except ForkError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except VerifierError as exc:  # e.g. a stored checkpoint the log key did not sign
        print(f"拒绝 / refused: {exc}", file=sys.stderr)
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
