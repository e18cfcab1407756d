"""``drawledger-client``: a department's own tool, on its own machine, with its own key.

It makes a key, signs statements offline (a statement file can travel on a USB stick to
an office that signs without a network), submits them over HTTP, keeps and checks every
receipt, and asks the log what is due. It imports the verifier (the rules, the formats,
the signatures) and never the ledger or the API: a department needs none of the server.

Exit status: 0 done, 1 refused (the message names the field or the rule), 2 a receipt that
does not verify (evidence against the log: keep it), 64 usage, 69 no answer from the server
(safe to retry: a statement already written gets its original receipt again).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import sys
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from client import _http
from client._kinds import KINDS, OfflineError, prepare
from client._receipts import ReceiptError, check_receipt, summary
from regfile import RegistryFileError
from verifier import (
    SPEC_VERSION,
    FormatError,
    KeyFileError,
    NoteSigner,
    VerifierError,
    __version__,
    canonical,
    load_key,
    load_trust,
    save_key,
    sign_statement,
)
from verifier._canonical import bounded_int
from verifier._keyfile import KEY_SUFFIX

__all__ = ["EXIT_NO_REPLY", "EXIT_RECEIPT", "EXIT_REFUSED", "EXIT_USAGE", "main"]

EXIT_REFUSED = 1
EXIT_RECEIPT = 2
EXIT_USAGE = 64
EXIT_NO_REPLY = 69  # sysexits EX_UNAVAILABLE
KEY_ENV = "DRAWLEDGER_CLIENT_KEY"
MAX_BODY_FILE = 2 << 20  # a body file: a statement's entry is at most 1 MiB


class Refused(Exception):
    """Bad input, a key problem or a server refusal: the message says which field."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        print(f"{self.prog}: 用法错误 / usage error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _read_json(path: Path, what: str) -> Any:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise Refused(f"{path}: 无法读取 / cannot read ({exc.strerror})") from None
    if len(data) > MAX_BODY_FILE:
        raise Refused(f"{path}: 超过 {MAX_BODY_FILE} 字节 / larger than {MAX_BODY_FILE} bytes")
    try:
        return json.loads(data.decode("utf-8"), parse_int=bounded_int)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Refused(f"{path}: 不是 {what} JSON / not a JSON {what} ({exc})") from None


def _signer(option: str | None) -> NoteSigner:
    """``--key``: an skey file, or a key store folder holding exactly one."""
    where = option or os.environ.get(KEY_ENV)
    if not where:
        raise Refused(f"需要 --key（私钥文件或密钥文件夹）/ --key is required (the skey file or "
                      f"its key folder; or set {KEY_ENV})")
    path = Path(where)
    if path.is_dir():
        found = sorted(path.glob(f"*{KEY_SUFFIX}"))
        if len(found) != 1:
            raise Refused(f"{path}: 密钥文件夹应恰有一个 {KEY_SUFFIX} 文件，实有 {len(found)} 个 / "
                          f"a key folder holds exactly one {KEY_SUFFIX} file, found {len(found)}")
        path = found[0]
    return load_key(path, 1)


def _write_new(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write a file that must not exist yet (a statement signed twice gets two sids)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise Refused(f"{path}: 已存在，不覆盖 / already exists, not overwritten (use --out)"
                      ) from None
    except OSError as exc:
        raise Refused(f"{path}: 无法写入 / cannot write ({exc.strerror})") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _keygen(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.exists() and any(out.glob(f"*{KEY_SUFFIX}")):
        raise Refused(f"{out}: 已有私钥；一个密钥文件夹只放一把私钥 / already holds a secret key; "
                      "a key folder holds exactly one")
    try:
        signer = NoteSigner.generate(args.name)
    except FormatError as exc:
        raise Refused(f"--name: {exc}") from None
    save_key(out / f"{args.name}{KEY_SUFFIX}", signer)
    (out / f"{args.name}.vkey").write_text(signer.verifier.vkey + "\n", encoding="ascii")
    print(f"已生成私钥 / secret key written: {out / (args.name + KEY_SUFFIX)} (0600)")
    print("请把下面的公钥交给登记机关（register-key）/ hand this vkey to the authority "
          "(register-key):")
    print(signer.verifier.vkey)
    return 0


def _sign(args: argparse.Namespace) -> int:
    if args.kind == "registry":
        from client._registry import sign_registry  # openpyxl only when a workbook is read

        signer = _signer(args.key)
        source = Path(args.file)
        batch, name = sign_registry(signer, args.registry_kind, source, args.dept,
                                    seal=args.seal)
        out = Path(args.out) if args.out else source.with_name(source.name + ".statement.json")
        _write_new(out, canonical(batch.to_json()))
        print(f"已签名批量声明 / signed batch: {len(batch.members)} 行 rows of {name} -> {out}")
        return 0
    body_path = Path(args.body)
    body = _read_json(body_path, "body")
    if not isinstance(body, dict):
        raise Refused(f"{body_path}: 应为 JSON 对象 / must be a JSON object")
    extra: dict[str, bytes] = {}
    if getattr(args, "attachment", None):
        body.setdefault("attachments", [])
        for name in args.attachment:
            body["attachments"].append(hashlib.sha256(_file(name)).hexdigest())
    if getattr(args, "record", None):
        body["record_sha256"] = hashlib.sha256(_file(args.record)).hexdigest()
    if getattr(args, "details", None):
        salt = secrets.token_bytes(32)
        body["commitment"] = hashlib.sha256(salt + _file(args.details)).hexdigest()
        extra[".salt"] = salt.hex().encode() + b"\n"
    try:
        type_, stream, actor, body = prepare(args.kind, body)
    except OfflineError as exc:
        raise Refused(f"{body_path}: {exc}") from None
    signer = _signer(args.key)
    statement = sign_statement(signer, type_, stream, actor, body, seal=args.seal)
    out = Path(args.out) if args.out else body_path.with_name(
        body_path.stem + ".statement.json")
    _write_new(out, canonical(statement.to_json()))
    for suffix, data in extra.items():
        # The salt proves later what the lead said: kept by the department, never sent.
        _write_new(out.with_name(out.name + suffix), data, 0o600)
    print(f"已签名 / signed: {type_} {stream} (sid {statement.sig['sid']}) -> {out}")
    return 0


def _file(name: str) -> bytes:
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        raise Refused(f"{name}: 无法读取 / cannot read ({exc.strerror})") from None


def _trust(option: str | None) -> Any:
    if not option:
        return None
    try:
        return load_trust(Path(option).read_bytes())
    except OSError as exc:
        raise Refused(f"--trust {option}: 无法读取 / cannot read ({exc.strerror})") from None
    except VerifierError as exc:
        raise Refused(f"--trust {option}: {exc}") from None


def _problem_text(reply: _http.Reply) -> str:
    problem = reply.json()
    if not isinstance(problem, dict):
        return f"HTTP {reply.status}"
    parts = [f"HTTP {reply.status} {problem.get('type', '')}: {problem.get('detail', '')} / "
             f"{problem.get('detail_en', '')}"]
    for item in problem.get("errors", []) if isinstance(problem.get("errors"), list) else []:
        if isinstance(item, dict):
            parts.append(f"  {item.get('field', '')}: {item.get('detail', '')} / "
                         f"{item.get('detail_en', '')}")
    for name in ("field", "rule", "seq"):
        if name in problem:
            parts.append(f"  {name}: {problem[name]}")
    return "\n".join(parts)


def _submit(args: argparse.Namespace) -> int:
    trust = _trust(args.trust)
    url = args.server.rstrip("/") + "/v1/statements"
    status = 0
    for name in args.files:
        path = Path(name)
        data = _file(name)
        try:
            reply = _http.post(url, data)
        except _http.NoReply as exc:
            print(f"{path}: 未收到服务器答复（{exc}）；可原样重新提交，已写入的声明会得到原回执 / "
                  f"no reply from {args.server} ({exc}); submit the same file again: a "
                  "statement already written gets its original receipt", file=sys.stderr)
            return EXIT_NO_REPLY
        if reply.status not in (200, 201) or reply.is_problem:
            print(f"{path}: 拒绝 / refused\n{_problem_text(reply)}", file=sys.stderr)
            status = status or EXIT_REFUSED
            continue
        receipt_path = path.with_name(path.name + ".receipt.json")
        tmp = receipt_path.with_name(f".{receipt_path.name}.tmp")
        tmp.write_bytes(reply.body)
        os.replace(tmp, receipt_path)  # a retry's receipt is the same bytes
        again = " (重复提交，原回执 / a retry: the original receipt)" if reply.status == 200 else ""
        print(f"{path}: 已受理 / accepted{again} -> {receipt_path}")
        try:
            receipt = check_receipt(reply.body, trust)
        except ReceiptError as exc:
            print(f"{receipt_path}: 回执无效，请保留作为证据 / the receipt does not verify; "
                  f"keep it as evidence: {exc}", file=sys.stderr)
            status = EXIT_RECEIPT
            continue
        print(summary(receipt, verified=trust is not None))
    return status


def _verify_receipt(args: argparse.Namespace) -> int:
    trust = _trust(args.trust)
    data = _file(args.receipt)
    try:
        receipt = check_receipt(data, trust)
    except ReceiptError as exc:
        print(f"{args.receipt}: 回执无效 / the receipt does not verify: {exc}", file=sys.stderr)
        return EXIT_RECEIPT
    print(summary(receipt, verified=True))
    return 0


def _todo(args: argparse.Namespace) -> int:
    from client._todo import print_todo

    code = urllib.parse.quote(args.dept, safe="")
    url = f"{args.server.rstrip('/')}/v1/departments/{code}/todo" + (
        "?all=true" if args.all else "")
    try:
        reply = _http.get(url)
    except _http.NoReply as exc:
        print(f"未收到服务器答复 / no reply from {args.server}: {exc}", file=sys.stderr)
        return EXIT_NO_REPLY
    if reply.status != 200 or not isinstance(reply.json(), dict):
        raise Refused(_problem_text(reply))
    if args.json:
        print(json.dumps(reply.json(), ensure_ascii=False, indent=1))
    else:
        print_todo(reply.json(), show_all=args.all)
    return 0


def _kind_parsers(sign: Any) -> None:
    for name, kind in KINDS.items():
        p = sign.add_parser(name, help=f"{kind.zh} / {kind.en}", description=kind.help_text(),
                            formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("body", metavar="BODY.json", help="事件内容 / the statement's body")
        _key_out(p)
        if kind.type in ("result.recorded", "result.corrected"):
            p.add_argument("--attachment", action="append", default=[], metavar="FILE",
                           help="附件：只记录其 SHA-256 / a file whose SHA-256 is recorded")
        if kind.type == "result.published":
            p.add_argument("--record", metavar="FILE",
                           help="公示的记录原文 / the record exactly as publicised")
        if kind.type == "lead.received":
            p.add_argument("--details", metavar="FILE",
                           help="线索详情：只记录加盐哈希，盐另存 / the lead's details: only a "
                                "salted SHA-256 is signed, the salt is kept beside the file")

    p = sign.add_parser("registry", help="名录文件作为一个批量声明 / a registry file as one batch",
                        description="检查对象或执法检查人员名录（.xlsx/.csv），每行都通过检查才签名，"
                                    "与 drawledger import 相同 / a registry file (.xlsx or .csv), "
                                    "signed only when every row passes the checks of drawledger "
                                    "import (layout: docs/IMPORT.md)")
    p.add_argument("registry_kind", choices=["targets", "inspectors"])
    p.add_argument("file", metavar="FILE.xlsx|FILE.csv")
    req = p.add_argument_group("必填 / required")
    req.add_argument("--dept", required=True, help="本部门代码 / the department's code")
    _key_out(p)


def _key_out(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seal", action="store_true",
                   help="规范第 2 版日志：封存内部字段（风险分类、证件有效期、回避关系），开启值"
                        "随声明文件交给日志、不公开 / a v2 log: seal the internal fields, their "
                        "openings going with the statement file to the log, never public")
    p.add_argument("--key", help=f"私钥文件或密钥文件夹（默认 ${KEY_ENV}）/ the skey file or "
                                 f"its key folder (default ${KEY_ENV})")
    p.add_argument("--out", help="声明文件（默认 BODY.statement.json）/ the statement file "
                                 "written (default: beside the input, .statement.json)")


def _server(p: argparse.ArgumentParser) -> Any:
    """The action's required options, ``--server`` first (help lists them apart)."""
    req = p.add_argument_group("必填 / required")
    req.add_argument("--server", required=True, help="日志服务地址 / the log's URL")
    return req


def parser() -> argparse.ArgumentParser:
    top = _Parser(prog="drawledger-client",
                  description="部门客户端：生成密钥、离线签名、提交声明、核验回执、查询待办 / "
                              "the department client: keys, offline signing, submission, "
                              "receipts, what is due",
                  epilog="退出码 / exit codes: 0 完成 done, 1 拒绝 refused, 2 回执无效 receipt "
                         "does not verify, 64 用法错误 usage, 69 服务器无答复 no reply (retry)")
    top.add_argument("--version", action="version",
                     version=f"drawledger-client {__version__} (规范 / spec {SPEC_VERSION})")
    sub = top.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("keygen", help="生成新的声明密钥 / a new statement key",
                       description="在自己的密钥文件夹中生成 Ed25519 声明密钥（0600），并打印公钥"
                                   "交给登记机关 / a new Ed25519 statement key in its own folder "
                                   "(0600); prints the vkey to hand to the authority")
    req = p.add_argument_group("必填 / required")
    req.add_argument("--name", required=True, help="密钥名称 / the key's name, e.g. scjg-2026")
    req.add_argument("--out", required=True, help="密钥文件夹 / the key folder (one key)")
    p = sub.add_parser("sign", help="离线签名一条声明 / sign a statement offline",
                       description="离线签名：事件内容先按核验器的规则检查 / sign offline; the "
                                   "body is first checked with the verifier's rules")
    _kind_parsers(p.add_subparsers(dest="kind", required=True, metavar="KIND",
                                   parser_class=_Parser))
    p = sub.add_parser("submit", help="提交声明文件，保存并核验回执 / submit statement files, keep "
                                      "and check the receipts",
                       description="逐个提交；回执存为 FILE.receipt.json / each file in turn; the "
                                   "receipt is stored as FILE.receipt.json")
    p.add_argument("files", nargs="+", metavar="FILE")
    req = _server(p)
    p.add_argument("--trust", help="trust.json：据此核验回执；缺省则回执未核验 / pinned keys to "
                                   "check each receipt; without it a receipt is unverified")
    p = sub.add_parser("verify-receipt", help="离线核验回执 / check a receipt offline",
                       description="不连服务器核验回执 / check a receipt without the server")
    p.add_argument("receipt", metavar="RECEIPT")
    req = p.add_argument_group("必填 / required")
    req.add_argument("--trust", required=True, help="trust.json（固定的日志公钥与 origin）/ "
                                                    "the pinned log key and origin")
    p = sub.add_parser("todo", help="本部门的待办与期限 / what is drawn and due",
                       description="本部门被抽中的检查对象与结果录入（3 个工作日）、公示（20 个"
                                   "工作日）期限 / targets drawn for the department and the "
                                   "result (3 working days) and publication (20) deadlines")
    req = _server(p)
    req.add_argument("--dept", required=True, help="本部门代码 / the department's code")
    p.add_argument("--all", action="store_true", help="也列出已完成的 / list finished ones too")
    p.add_argument("--json", action="store_true", help="原样输出 JSON / print the JSON")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    run = {"keygen": _keygen, "sign": _sign, "submit": _submit,
           "verify-receipt": _verify_receipt, "todo": _todo}[args.command]
    try:
        return run(args)
    except (Refused, KeyFileError, VerifierError, RegistryFileError) as exc:
        print(f"拒绝 / refused: {exc}", file=sys.stderr)
        return EXIT_REFUSED
