"""``python -m verifier``: audit an export from the command line.

Exit codes (SPEC.md section 9): 0 clean, 1 rule violations, 2 integrity failure (tampered or
corrupt), 3 unverifiable (a trust input is missing), 64 usage (not an export, bad arguments).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import time
import unicodedata
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any, NoReturn

from verifier._audit import EXIT_UNVERIFIABLE, EXIT_USAGE, Oversize, Report, audit
from verifier._auditcli import add_parser as add_auditor_parser
from verifier._auditcli import run as run_auditor_request
from verifier._beacon import Chain
from verifier._bundle import FORMAT, entity_report, not_a_bundle, verify_bundle
from verifier._canonical import decode_json
from verifier._entry import MAX_ENTRY_BYTES
from verifier._eproofcli import UsageError as EntityProofUsage
from verifier._eproofcli import add_entity_proof_parser, run_entity_proof
from verifier._errors import CanonicalError, FormatError, VerifierError
from verifier._fork import check_fork
from verifier._grouping import causes, groups
from verifier._html import render_html
from verifier._note import NoteVerifier
from verifier._receipt import Receipt, verify_receipt
from verifier._registry import check_uscc
from verifier._resume import AuditState, StateError, load_state, save_state
from verifier._state import INTEGRITY, UNVERIFIABLE, VIOLATION, Finding
from verifier._tiles import TileReplay, TileSource, tile_checkpoints
from verifier._trust import Trust, chain_from_json, load_trust
from verifier._version import SPEC_VERSION, __version__, version_info

__all__ = ["main", "read_lines"]

MAX_CHECKPOINT_BYTES = 64 * 1024
MAX_RECEIPT_BYTES = 8 * 1024 * 1024  # an entry (1 MiB) JSON-escaped in a string, and more
FETCH_TIMEOUT = 10  # seconds to connect and to wait for each read of a --checkpoint URL
_SHANGHAI = timezone(timedelta(hours=8))
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})")
# Findings about what anchors the history: shown in the report's first lines.
_ANCHORING = ("V1.unwitnessed", "V1.truncated")


class _Usage(Exception):
    """Bad arguments, or an input that is not what the command takes: exit 64, with the
    reason in both languages (as a JSON error object on stdout under --json)."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh, self.en = zh, en


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        raise _Usage(f"{self.prog}: 参数错误：{message}", f"{self.prog}: {message}")


def _usage_exit(error: _Usage, as_json: bool) -> int:
    """Report a usage error: always on stderr, and under --json also as the documented
    error object on stdout, so a script reading stdout is never left with nothing."""
    print(f"用法错误 / usage error: {error.zh} / {error.en}", file=sys.stderr)
    if as_json:
        _dump({"exit_code": EXIT_USAGE, "verifier": version_info(),
               "error": {"zh": error.zh, "en": error.en}})
    return EXIT_USAGE


def _dump(obj: dict[str, Any]) -> None:
    json.dump(obj, sys.stdout, ensure_ascii=False, indent=1)
    print()


def read_lines(stream: IO[bytes], chunk_size: int = 1 << 20) -> Iterator[bytes | Oversize]:
    """Lines with their newline (the last may lack it), reading in chunks.

    A line longer than the entry size limit is never held whole: it is skipped and
    reported as ``Oversize``, so memory stays bounded by the limit plus one chunk.
    """
    limit = MAX_ENTRY_BYTES + 1  # the longest acceptable line, newline included
    pending: list[bytes] = []  # pieces of the line being read, across chunks
    pending_len = 0
    skipped = 0  # length so far of an oversize line being skipped, else 0
    while chunk := stream.read(chunk_size):
        parts = chunk.split(b"\n")
        for part in parts[:-1]:
            if skipped:
                yield Oversize(skipped + len(part) + 1)
                skipped = 0
            elif pending:
                pending.append(part)
                line = b"".join(pending) + b"\n"
                pending, pending_len = [], 0
                yield line if len(line) <= limit else Oversize(len(line))
            else:
                yield part + b"\n" if len(part) < limit else Oversize(len(part) + 1)
        tail = parts[-1]
        if skipped:
            skipped += len(tail)
        elif pending_len + len(tail) > limit:
            skipped, pending, pending_len = pending_len + len(tail), [], 0
        elif tail:
            pending.append(tail)
            pending_len += len(tail)
    if skipped:
        yield Oversize(skipped)
    elif pending:
        yield b"".join(pending)


def _progress(lines: Iterator[bytes | Oversize], total: int, out: IO[str]
              ) -> Iterator[bytes | Oversize]:
    """Pass the lines through, drawing a progress bar on ``out`` twice a second."""
    done = count = 0
    last = time.monotonic()
    for line in lines:
        done += line.length if isinstance(line, Oversize) else len(line)
        count += 1
        if count % 4096 == 0 and (now := time.monotonic()) - last >= 0.5:
            last = now
            share = done / total if total else 1.0
            bar = "#" * int(share * 30)
            print(f"\r审计中 / auditing [{bar:<30}] {share:6.1%} {count:,} 条 / entries",
                  end="", file=out, flush=True)
        yield line
    if count >= 4096:
        print("\r" + " " * 72 + "\r", end="", file=out, flush=True)


def _beacon_arg(text: str) -> Chain:
    try:
        return chain_from_json(decode_json(text), "--beacon")
    except CanonicalError as exc:
        raise FormatError(f"--beacon: {exc}") from None


def _trust(args: argparse.Namespace, export: Path | TileSource) -> tuple[Trust | None, str]:
    if args.trust:
        return load_trust(Path(args.trust).read_bytes()), f"--trust {args.trust}"
    if args.log_key or args.authority_key:
        if not (args.log_key and args.authority_key and args.origin):
            raise FormatError("--log-key, --authority-key and --origin go together")
        witnesses = tuple(NoteVerifier.from_vkey(w) for w in args.witness)
        return Trust(args.origin, NoteVerifier.from_vkey(args.log_key),
                     tuple(NoteVerifier.from_vkey(k) for k in args.authority_key),
                     witnesses, args.quorum,
                     tuple(_beacon_arg(b) for b in args.beacon)), "command line"
    if isinstance(export, TileSource):  # the tile log's own, as an export's
        data = export.get("trust.json", MAX_CHECKPOINT_BYTES)
        return (None, "none") if data is None else (
            load_trust(data), "the tile log's trust.json (compare its keys with the published "
            "ones)")
    path = export / "trust.json"
    if path.is_file():
        return (load_trust(path.read_bytes()),
                "export trust.json (compare its keys with the published ones)")
    return None, "none"


def _print_report(report: Report, trust_source: str, out: IO[str]) -> None:
    verdict = {0: ("通过", "clean"), 1: ("发现违规", "rule violations"),
               2: ("完整性失败（被篡改或损坏）", "integrity failure (tampered or corrupt)"),
               3: ("无法验证（缺少信任输入）", "unverifiable (a trust input is missing)")}
    zh, en = verdict[report.exit_code]
    print(f"审计结论 / verdict: {zh} / {en} (exit {report.exit_code})", file=out)
    print(f"验证程序 / verifier: {__version__}, 依据规范 / checks {SPEC_VERSION}", file=out)
    print(f"条目 / entries: {report.entries}; 检查点 / checkpoints: {report.checkpoints} "
          f"({report.checkpoints_verified} verified); 签名 / signatures checked: "
          f"{report.signatures_checked}; 信任来源 / trust: {trust_source}", file=out)
    _print_anchoring(report, out)
    for name, ts in sorted(report.cosignatures.items()):
        when = datetime.fromtimestamp(ts, _SHANGHAI).isoformat()
        print(f"见证 / witness {name}: 最近联署 / latest cosignature {when}", file=out)
    if report.departments:
        print("部门 / department: 计划按时 plans on time, 抽取已核验 draws verified, "
              "结果按时 results on time, 已公示 published, 发现 findings", file=out)
        for code, d in report.departments.items():
            if d["plans"] or d["draws"] or d["results"] or d["findings"]:
                print(f"  {code} {d['name']}: {d['plans_on_time']}/{d['plans']}, "
                      f"{d['draws_verified']}/{d['draws']}, {d['results_on_time']}/"
                      f"{d['results']}, {d['published']}, {d['findings']}", file=out)
    for test in report.statistics.get("tests", []):
        value, limit = test["statistic"], test["threshold"]
        print(f"统计 / statistic {test['name']}: {value:.3g} (阈值 / threshold "
              f"{'-' if limit is None else format(limit, '.3g')}): {test['verdict']}; "
              f"{test['detail']}", file=out)
    _print_findings(report.findings, out)
    if report.dropped:
        print(f"另有 {report.dropped} 条发现未列出 / {report.dropped} more findings not shown",
              file=out)


def _print_findings(findings: list[Finding], out: IO[str]) -> None:
    """Causes first (integrity, then violations, then what could not be checked), each
    with a count of the findings that follow from it (SPEC.md 9.3); --json lists each."""
    cause = causes(findings)
    rank = {INTEGRITY: 0, VIOLATION: 1, UNVERIFIABLE: 2}
    for group in sorted(groups(cause), key=lambda g: rank.get(findings[g["cause"]].kind, 3)):
        f = findings[group["cause"]]
        where = "-" if f.seq is None else str(f.seq)
        if f.seq_end is not None:
            where += f"..{f.seq_end}"
        extra = f" [{f.dept}]" if f.dept else ""
        extra += f" ({f.evidence})" if f.evidence else ""
        print(f"[{f.kind}] {f.rule} seq={where}{extra}: {f.zh} / {f.en}", file=out)
        if group["count"]:
            rules = Counter(findings[j].rule for j in group["consequences"])
            print(f"    └ 由此引起 {group['count']} 条后果 / {group['count']} consequences of "
                  f"this: {', '.join(f'{r} x{n}' for r, n in sorted(rules.items()))} "
                  "(--json 逐条列出 / --json lists each)", file=out)


def _print_anchoring(report: Report, out: IO[str]) -> None:
    """What the verdict rests on: the checkpoint relied on, the time "by now" is judged at,
    and any entries beyond what the witnesses vouch for."""
    cp = report.relied_on
    if cp is not None:
        when = cp["witnessed"] or "未获法定数量见证联署 / not cosigned by the quorum"
        print(f"依据的检查点 / checkpoint relied on: {cp['size']} 条 / entries, 根 / root "
              f"{cp['root']}, 来源 / from {cp['source']}, 见证时间 / witnessed {when}",
              file=out)
    if report.now is not None:
        basis = {"given": ("--now 给定", "given by --now"),
                 "witnessed": ("见证联署时间", f"witnessed, {report.now_source}"),
                 "last_entry": ("最后一条的时间（日志自述）", "the last entry's time, the log's "
                                "own claim")}.get(report.now_basis or "", ("", ""))
        when = datetime.fromtimestamp(report.now, _SHANGHAI).isoformat()
        print(f"审计时间 / judged as of: {when} ({basis[0]} / {basis[1]})", file=out)
    for f in report.findings:
        if f.rule in _ANCHORING:
            print(f"[{f.kind}] {f.rule} seq={f.seq}..{f.seq_end}: {f.zh} / {f.en}", file=out)


def _read_checkpoint(arg: str) -> tuple[str, bytes]:
    """A --checkpoint note: a file, or an http(s) URL read with a timeout; at most
    MAX_CHECKPOINT_BYTES either way (more is left to the audit to refuse as malformed)."""
    try:
        if arg.startswith(("http://", "https://")):
            with urllib.request.urlopen(arg, timeout=FETCH_TIMEOUT) as response:
                data: bytes = response.read(MAX_CHECKPOINT_BYTES + 1)
        elif "://" in arg:
            raise _Usage(f"--checkpoint {arg}：检查点只能是文件路径或 http(s) 地址",
                         f"--checkpoint {arg}: only a file path or an http(s) URL")
        else:
            with open(arg, "rb") as fh:
                data = fh.read(MAX_CHECKPOINT_BYTES + 1)
    except (OSError, ValueError) as exc:
        raise _Usage(f"无法读取检查点 --checkpoint {arg}：{exc}",
                     f"cannot read --checkpoint {arg}: {exc}") from None
    return arg, data


def _now_arg(text: str) -> datetime:
    """--now: an RFC 3339 time with offset, or a date (the end of that day, Asia/Shanghai)."""
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            d = date.fromisoformat(text)
            return datetime(d.year, d.month, d.day, 23, 59, 59, tzinfo=_SHANGHAI)
        if _RFC3339.fullmatch(text):
            return datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        pass
    raise _Usage(f"--now {text}：应为带时区的 RFC 3339 时间（如 2026-03-01T09:00:00+08:00）或日期"
                 "（如 2026-03-01）",
                 f"--now {text}: not an RFC 3339 time with offset "
                 "(2026-03-01T09:00:00+08:00) or a date (2026-03-01)")


def _workers(args: argparse.Namespace) -> int:
    """``--workers``, by default one per core (1 or less: the audit in this process)."""
    return args.workers if args.workers >= 0 else os.cpu_count() or 1


def _audit_tiles(args: argparse.Namespace) -> tuple[Report, str]:
    """``audit --tiles``: the entries rebuilt from the entry bundles, every hash tile
    checked against them, then the audit of an export (SPEC.md 19.5)."""
    try:
        source = TileSource(args.tiles)
        trust, trust_source = _trust(args, source)
        size, checkpoints, found = tile_checkpoints(source)
    except (OSError, FormatError) as exc:
        raise _Usage(f"无法读取瓦片日志 --tiles {args.tiles}：{exc}",
                     f"cannot read the tile log --tiles {args.tiles}: {exc}") from None
    outside = [_read_checkpoint(arg) for arg in args.checkpoint]
    promises = [(name, _read_receipt(name, trust).promise) for name in args.receipt]
    now = _now_arg(args.now) if args.now is not None else None
    replay = TileReplay(source, size)
    workers = _workers(args)
    try:
        report = audit(replay.lines(), checkpoints, trust, signatures=not args.no_signatures,
                       body_rules=not args.no_body_rules, workers=workers,
                       outside=outside, now=now, receipts=promises)
        found += replay.finish()
    except OSError as exc:
        raise _Usage(f"读取瓦片日志 --tiles {args.tiles} 中断：{exc}",
                     f"reading the tile log --tiles {args.tiles} failed: {exc}") from None
    for finding in found:
        report.add(finding)
    return report, trust_source


def _audit(args: argparse.Namespace) -> int:
    if (args.export is None) == (args.tiles is None):
        raise _Usage("audit 需要导出目录或 --tiles 二者之一", "audit takes an export directory "
                     "or --tiles URL_OR_DIR, one of them")
    if args.tiles is not None:
        if args.state:
            raise _Usage("--state 只用于导出目录，不用于 --tiles", "--state works on an export "
                         "directory, not with --tiles")
        report, source = _audit_tiles(args)
    else:
        report, source = _audit_export(args)
    return _report_out(args, report, source)


def _audit_export(args: argparse.Namespace) -> tuple[Report, str]:
    export = Path(args.export)
    entries = export / "entries.jsonl"
    if not entries.is_file():
        raise _Usage(f"{entries} 不存在：不是导出目录", f"{entries} not found: not an export "
                     "directory")
    try:
        trust, source = _trust(args, export)
    except (OSError, FormatError) as exc:
        raise _Usage(f"信任策略错误：{exc}", f"bad trust input: {exc}") from None
    checkpoints: list[tuple[str, bytes]] = []
    cp_dir = export / "checkpoints"
    if cp_dir.is_dir():
        for path in sorted(cp_dir.iterdir()):
            if path.is_file():
                with path.open("rb") as fh:
                    checkpoints.append((path.name, fh.read(MAX_CHECKPOINT_BYTES + 1)))
    outside = [_read_checkpoint(arg) for arg in args.checkpoint]
    promises = [(name, _read_receipt(name, trust).promise) for name in args.receipt]
    now = _now_arg(args.now) if args.now is not None else None
    total = entries.stat().st_size
    resume = _load_resume(args.state) if args.state else None
    openings_file = Path(args.openings) if args.openings else export / "openings.jsonl"
    if args.openings and not openings_file.is_file():
        raise _Usage(f"{openings_file} 不存在", f"{openings_file} not found")
    with contextlib.ExitStack() as stack:
        fh = stack.enter_context(entries.open("rb"))
        openings = (read_lines(stack.enter_context(openings_file.open("rb")))
                    if openings_file.is_file() else None)
        lines = read_lines(fh) if resume is None else _after(fh, resume, entries)
        total -= resume.offset if resume is not None else 0
        expect = (_count_lines(fh, resume.offset) + resume.size if resume is not None
                  else _count_lines(fh, 0)) if args.state else None
        if sys.stderr.isatty() or os.environ.get("DRAWLEDGER_PROGRESS"):
            lines = _progress(lines, total, sys.stderr)
        workers = _workers(args)
        try:
            report = audit(lines, checkpoints, trust, signatures=not args.no_signatures,
                           body_rules=not args.no_body_rules, workers=workers,
                           outside=outside, now=now, receipts=promises, resume=resume,
                           save=bool(args.state), expect=expect, openings=openings)
        except StateError as exc:
            raise _Usage(exc.zh, exc.en) from None
    if args.state:
        _save_resume(args.state, report)
    return report, source


def _load_resume(name: str) -> AuditState | None:
    """The saved state to continue (SPEC.md 9.4), None when the file does not exist yet."""
    if not Path(name).exists():
        return None
    try:
        state = load_state(name)
    except StateError as exc:
        raise _Usage(exc.zh, exc.en) from None
    return state


def _count_lines(fh: IO[bytes], start: int) -> int:
    """Newlines from byte ``start`` to the end (the file's position is kept): with --state
    the audit then saves its state once, at the last checkpoint, not at every one."""
    here = fh.tell()
    fh.seek(start)
    count = 0
    while block := fh.read(1 << 22):
        count += block.count(b"\n")
    fh.seek(here)
    return count


def _after(fh: IO[bytes], state: AuditState, entries: Path) -> Iterator[bytes | Oversize]:
    """The lines after the state's entries, which are not read again; checked when the
    audit first asks, so that its refusals of a state (SPEC.md 9.4) come first."""
    ok = state.offset <= entries.stat().st_size
    if ok and state.offset:
        fh.seek(state.offset - 1)
        ok = fh.read(1) == b"\n"
    if not ok:
        raise _Usage(f"{entries} 在第 {state.offset} 字节处没有审计状态的 {state.size} 条条目的结尾"
                     "（导出被截断或改写）；请不带 --state 审计",
                     f"{entries} does not end the audit state's {state.size} entries at byte "
                     f"{state.offset} (the export was truncated or rewritten); audit without "
                     "--state")
    fh.seek(state.offset)
    yield from read_lines(fh)


def _save_resume(name: str, report: Report) -> None:
    if report.state is None:
        print(f"未保存审计状态：没有与重算一致的检查点 / no audit state saved to {name}: no "
              "checkpoint matched the replay", file=sys.stderr)
        return
    try:
        save_state(name, report.state)
    except (OSError, StateError) as exc:
        raise _Usage(f"无法保存审计状态 {name}：{exc}", f"cannot save the audit state "
                     f"{name}: {exc}") from None
    print(f"审计状态已保存（{report.state.size} 条）/ audit state saved to {name} at "
          f"{report.state.size} entries", file=sys.stderr)


def _report_out(args: argparse.Namespace, report: Report, source: str) -> int:
    obj = report.to_json()
    obj["trust_source"] = source
    if args.html:
        try:
            Path(args.html).write_text(render_html(obj), encoding="utf-8")
        except OSError as exc:
            raise _Usage(f"无法写入 {args.html}：{exc}", f"cannot write {args.html}: {exc}") \
                from None
    try:
        if args.json:
            _dump(obj)
        else:
            _print_report(report, source, sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader (`| head`) stopped early; the verdict is still the exit status.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return report.exit_code


def _fork(args: argparse.Namespace) -> int:
    """Exit 2 when the evidence shows the log signed two histories, 0 when it refutes
    itself (the notes are consistent), 64 when it cannot be judged (SPEC.md 7.7)."""
    try:
        trust = load_trust(Path(args.trust).read_bytes())
        data = Path(args.file).read_bytes()
    except (OSError, FormatError) as exc:
        raise _Usage(f"无法读取输入：{exc}", f"cannot read the input: {exc}") from None
    verdict = check_fork(data, trust)
    print(f"分叉证据 / fork evidence: {verdict.zh} / {verdict.en} (exit {verdict.code})",
          file=sys.stdout if verdict.code != 64 else sys.stderr)
    return verdict.code


def _read_receipt(name: str, trust: Trust | None) -> Receipt:
    """A receipt file checked under the pinned log key, or a usage error naming it: a
    receipt the log key did not sign is no evidence of anything."""
    if trust is None:
        raise _Usage(f"核验收据 {name} 需要信任策略（--trust）",
                     f"checking receipt {name} needs a trust policy (--trust)")
    try:
        with open(name, "rb") as fh:
            data = fh.read(MAX_RECEIPT_BYTES + 1)
    except OSError as exc:
        raise _Usage(f"无法读取收据 {name}：{exc.strerror}",
                     f"cannot read receipt {name}: {exc.strerror}") from None
    if len(data) > MAX_RECEIPT_BYTES:
        raise _Usage(f"收据 {name} 超过 {MAX_RECEIPT_BYTES} 字节",
                     f"receipt {name} is over {MAX_RECEIPT_BYTES} bytes")
    try:
        return verify_receipt(data, trust)
    except VerifierError as exc:
        raise _Usage(f"收据 {name} 无效（不能作为证据）：{exc}",
                     f"receipt {name} is not valid (no evidence): {exc}") from None


def _receipt(args: argparse.Namespace) -> int:
    """``receipt FILE --trust trust.json``: one receipt checked offline."""
    try:
        trust = load_trust(Path(args.trust).read_bytes())
    except (OSError, FormatError) as exc:
        raise _Usage(f"信任策略错误：{exc}", f"bad trust input: {exc}") from None
    receipt = _read_receipt(args.file, trust)
    p, e = receipt.promise, receipt.entry
    due = receipt.due
    if args.json:
        _dump({"valid": True, "first": p.first, "last": p.last, "hash": p.hash.hex(),
               "time": p.time, "type": e.type, "stream": e.stream, "proved": receipt.proved,
               "due": due})
        return 0
    span = f"第 {p.first}..{p.last} 条" if p.first != p.last else f"第 {p.last} 条"
    print(f"收据有效：日志密钥承诺{span}已写入（{e.type}，{e.stream}），时间 {p.time}")
    print(f"valid receipt: the log key promises entries {p.first}..{p.last} ({e.type}, "
          f"{e.stream}), logged at {p.time}; entry hash {p.hash.hex()}")
    print("包含证明：已核验 / inclusion proof: verified" if receipt.proved else
          "尚无包含证明：稍后向 /v1/proof/{seq} 索取 / no inclusion proof yet: fetch "
          "/v1/proof/{seq} later".replace("{seq}", str(p.last)))
    if due is not None:
        print(f"结果录入截止 / record by: {due['record_by'] or '日历未公布 / no calendar'}"
              f"（{due['record_days']} 个工作日 / working days）；公示截止 / publish by: "
              f"{due['publish_by'] or '日历未公布 / no calendar'}（{due['publish_days']} 个工作日"
              " / working days）")
    return 0


# What a bundle check's exit status means for the answer built on it.
_BUNDLE_MEANS = {
    0: ("证明包核验通过：以上结论由签名检查点和固定的公钥支撑",
        "the bundle checks: this answer rests on signed checkpoints and the pinned keys"),
    1: ("证明包完整，但抽取违反了规则（见下列发现）：结论如实反映日志所记",
        "the bundle is intact but the draw broke a rule (findings below): the answer is what "
        "the log holds"),
    2: ("完整性失败：证明包被篡改或损坏，不能据此作答",
        "integrity failure: the bundle is tampered or corrupt, no answer can rest on it"),
    3: ("无法完全验证：结论取决于未能核验的输入（见下列发现；如未用 --trust 固定公开发布的"
        "密钥，则取决于证明包自带的密钥是否属实）",
        "unverifiable: the answer holds only if what could not be checked is genuine (see "
        "the findings; without --trust, the bundle's own keys)"),
}


def _entity_uscc(text: str) -> str:
    """The code as the registries hold it: NFKC (full-width to half-width), no spaces,
    upper case; an invalid code is refused with the reason (a mistyped code must not be
    told it was not in the pool)."""
    code = "".join(unicodedata.normalize("NFKC", text).split()).upper()
    errors, _ = check_uscc(code)
    if errors:
        raise _Usage(f"统一社会信用代码 {code} 无效：" + "；".join(p.zh for p in errors),
                     f"USCC {code} is not valid: " + "; ".join(p.en for p in errors))
    return code


def _read_bundle(name: str) -> bytes:
    path = Path(name)
    if path.is_dir():
        what = (("导出目录，请用 python -m verifier audit", "an export directory: use python -m "
                 "verifier audit") if (path / "entries.jsonl").is_file()
                else ("目录", "a directory"))
    else:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise _Usage(f"无法读取 {name}：{exc}", f"cannot read {name}: {exc}") from None
        found = not_a_bundle(data)
        if found is None:
            return data
        what = found
    raise _Usage(f"{name} 不是抽取证明包（{FORMAT}），而是{what[0]}",
                 f"{name} is not a draw-proof bundle ({FORMAT}) but {what[1]}")


def _bundle(args: argparse.Namespace) -> int:
    uscc = _entity_uscc(args.uscc) if args.command == "entity" else ""
    try:
        trust = load_trust(Path(args.trust).read_bytes()) if args.trust else None
    except (OSError, FormatError) as exc:
        raise _Usage(f"信任策略错误：{exc}", f"bad trust input: {exc}") from None
    data = _read_bundle(args.file)
    report, view = verify_bundle(data, trust, background=not args.serial)
    means = dict(zip(("zh", "en"), _BUNDLE_MEANS[report.exit_code], strict=True))
    if args.command == "entity":
        if view.execution is None or view.snapshot is None or report.exit_code == 2:
            code = report.exit_code or EXIT_UNVERIFIABLE
            if args.json:
                _dump({**report.to_json(), "exit_code": code, "answer": None,
                       "bundle_check": means})
            else:
                print(f"无法回答 / no answer: {means['zh']} / {means['en']}")
                _print_report(report, view.trust_source, sys.stdout)
            return code
        result = entity_report(view, uscc)
        if args.json:
            _dump({**result, "exit_code": report.exit_code, "verifier": version_info(),
                   "bundle_check": means, "findings": [f.to_json() for f in report.findings]})
        else:
            _print_entity(result, report, means)
        return report.exit_code
    if args.json:
        _dump({**report.to_json(), **view.to_json(), "bundle_check": means})
    else:
        info = view.to_json()
        if view.commit is not None:
            print(f"抽取 / draw: {view.draw}")
            when = (datetime.fromtimestamp(view.round_time, _SHANGHAI).isoformat()
                    if view.round_time is not None else "-")
            print(f"承诺 / commitment: 第 {info['commit_seq']} 条 / entry {info['commit_seq']}, "
                  f"{view.commit_time}; 信标轮次时间 / beacon round due {when}; 证据 / evidence: "
                  f"{'见证 / witnessed' if view.evidence == 'witnessed' else '日志自述 / claimed'}")
            print(f"抽中 / selected: {info['selected']}; 无法配齐 / unfillable: "
                  f"{info['unfillable']}; 重算 / recomputed: {report.draws.get('verified', 0)}")
        _print_report(report, view.trust_source, sys.stdout)
        print(f"含义 / meaning: {means['zh']} / {means['en']}")
    return report.exit_code


def _print_entity(r: dict[str, Any], report: Report, means: dict[str, str]) -> None:
    print(f"对象 / entity: {r['uscc']}  抽取 / draw: {r['draw']}")
    print(f"验证程序 / verifier: {__version__}, 依据规范 / checks {SPEC_VERSION}")
    print(f"检查对象池 / pool: {r['pool_size']} 家, 默克尔根 / root {r['pool_root']}")
    if r["in_pool"]:
        verdict = "被抽中 / drawn" if r["drawn"] else "未被抽中 / not drawn"
        print(f"在池中 / in the pool: 是 / yes, 第 {r['leaf_index']} 项, 分层 / stratum "
              f"{r['stratum']}")
        print(f"得分 / score: {r['score']}")
        print(f"本层分界 / cut-off: {r['cutoff']}")
        print(f"结论 / verdict: {verdict}" + (f", 检查组 / team {r['team']}" if r["team"]
                                             else ""))
        if not r["consistent"]:
            print("警告 / warning: 得分与分界不一致 / the score and cut-off disagree with the "
                  "outcome")
        print(f"包含证明 / inclusion proof: {len(r['proof'])} 个哈希 / hashes")
    else:
        why = ("因排除期被排除 / excluded by the exclusion window" if r["excluded"]
               else "不在池中 / not in the pool")
        print(f"结论 / verdict: {why}; 相邻条目 / neighbours: "
              + ", ".join(f"#{n['leaf_index']} {n['uscc']}" for n in r["neighbours"]))
    print(f"原因 / why: {r['reason']['zh']} / {r['reason']['en']}")
    print(f"证明包核验 / bundle check: {means['zh']} / {means['en']} (exit {report.exit_code})")
    _print_findings(report.findings, sys.stdout)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(prog="python -m verifier",
                     description=f"drawledger standalone verifier ({SPEC_VERSION})")
    version = f"python -m verifier {__version__} ({SPEC_VERSION})"
    parser.add_argument("--version", action="version", version=version)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("audit", help="replay and check an export directory")
    p.add_argument("export", nargs="?",
                   help="directory with entries.jsonl, checkpoints/, trust.json")
    p.add_argument("--tiles", metavar="URL_OR_DIR",
                   help="audit a log served as C2SP tlog-tiles instead of an export: "
                        "a directory (drawledger tiles) or an http(s) URL (the API root)")
    p.add_argument("--trust", help="trust.json to pin (default: the export's own)")
    p.add_argument("--origin", help="log origin (with --log-key)")
    p.add_argument("--log-key", help="the log's vkey")
    p.add_argument("--authority-key", action="append", default=[], help="authority vkey")
    p.add_argument("--witness", action="append", default=[], help="witness vkey")
    p.add_argument("--quorum", type=int, default=0, help="witness quorum")
    p.add_argument("--beacon", action="append", default=[],
                   help="a trusted beacon chain beyond the League of Entropy's, as the JSON "
                        "object of trust.json's beacons list (a dev chain only this way)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--workers", type=int, default=-1,
                   help="processes decoding, hashing and checking the signatures of the "
                        "entries while this one replays the rules in order (default: one "
                        "per core; 1: all in this process); the report is the same for any")
    p.add_argument("--html", metavar="FILE",
                   help="also write a self-contained report page (opens offline)")
    p.add_argument("--no-signatures", action="store_true",
                   help="skip statement signature checks (integrity and rules only)")
    p.add_argument("--no-body-rules", action="store_true",
                   help="skip the field rules of event bodies (integrity and roles only)")
    p.add_argument("--checkpoint", action="append", default=[], metavar="NOTE_OR_URL",
                   help="a signed checkpoint obtained elsewhere (a file, or an http(s) URL "
                        "such as the API's /v1/checkpoint or a witness's latest): the export "
                        "must reach and match it (repeatable)")
    p.add_argument("--now", metavar="TIME",
                   help="judge 'not done by now' at this RFC 3339 time or date (default: "
                        "the latest quorum cosignature, else the last entry's time)")
    p.add_argument("--receipt", action="append", default=[], metavar="FILE",
                   help="a receipt the log gave for a submission: the export must hold the "
                        "promised entry (V1.receipt otherwise; repeatable)")
    p.add_argument("--openings", metavar="FILE",
                   help="openings.jsonl of an auditor export (SPEC.md 21.6; default: the "
                        "export's own, when it has one)")
    p.add_argument("--state", metavar="FILE",
                   help="incremental audit: resume from the replay state in FILE (MAC key "
                        "in FILE.key) and read only the entries after it; save the state "
                        "at the last verified checkpoint (one process)")
    p = sub.add_parser("fork", help="check fork evidence: did the log sign two histories?")
    p.add_argument("file", help="the evidence (drawledger/fork-evidence/v1, SPEC.md 7.7)")
    p.add_argument("--trust", required=True, help="trust.json with the pinned log key")
    p = sub.add_parser("receipt", help="check a submission's receipt offline")
    p.add_argument("file", help="the receipt (JSON) the log returned")
    p.add_argument("--trust", required=True, help="trust.json with the pinned log key")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("bundle", help="check a draw-proof bundle offline")
    p.add_argument("file")
    p.add_argument("--trust", help="trust.json to pin (default: the bundle's own)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--serial", action="store_true",
                   help="one process: no forked child hashing the lists meanwhile")
    p = sub.add_parser("entity", help="was one entity in a draw's pool, and drawn?")
    p.add_argument("file", help="the draw-proof bundle")
    p.add_argument("uscc", help="统一社会信用代码")
    p.add_argument("--trust", help="trust.json to pin (default: the bundle's own)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--serial", action="store_true",
                   help="one process: no forked child hashing the lists meanwhile")
    add_auditor_parser(sub)
    add_entity_proof_parser(sub)
    for p in sub.choices.values():
        p.add_argument("--version", action="version", version=version)
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(words)
        if args.command == "audit":
            return _audit(args)
        if args.command == "receipt":
            return _receipt(args)
        if args.command == "fork":
            return _fork(args)
        if args.command == "auditor-request":
            return run_auditor_request(args)
        if args.command == "entity-proof":
            try:
                return run_entity_proof(args)
            except EntityProofUsage as exc:
                raise _Usage(exc.zh, exc.en) from None
        try:
            code = _bundle(args)
            sys.stdout.flush()
        except BrokenPipeError:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            code = EXIT_USAGE
        return code
    except _Usage as exc:
        return _usage_exit(exc, "--json" in words)

