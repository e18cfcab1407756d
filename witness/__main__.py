"""``python -m witness serve|keygen|monitor``: the audit body's witness, on its own machine,
and the monitor that catches split views."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from verifier import FormatError, KeyFileError, NoteSigner, load_key, load_trust, save_key
from verifier._note import COSIGNATURE_TYPE
from verifier._tiles import TileSource
from verifier._witness import StateError, WitnessState
from witness._errors import WitnessError
from witness._monitor import Monitor, Round
from witness._policy import load_log_policy
from witness._server import WitnessServer

EXIT_USAGE = 64
# Tests only: seconds to stall in the middle of each state write, so that a crash test
# can kill the witness inside the write window. Never set in a deployment.
_STALL_ENV = "DRAWLEDGER_WITNESS_TEST_STALL"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m witness",
        description="见证人服务（C2SP tlog-witness）/ a transparency-log witness service")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser("serve", help="运行见证服务 / run the witness service",
                           description="运行见证服务：POST /add-checkpoint / serve "
                                       "POST /add-checkpoint")
    serve.add_argument("--key", required=True, metavar="FILE",
                       help="见证私钥文件（签名类型 4，权限 0600）/ the witness key (sigtype 4)")
    serve.add_argument("--state", required=True, metavar="DIR",
                       help="见证状态文件夹 / the folder of the witness's state")
    serve.add_argument("--log-policy", required=True, metavar="FILE",
                       help="受理的日志：log <vkey> 行 / the logs served: log <vkey> lines")
    serve.add_argument("--listen", required=True, metavar="HOST:PORT",
                       help="监听地址（端口 0：任选）/ address to listen on (port 0: any)")
    keygen = sub.add_parser("keygen", help="生成见证私钥 / make the witness key",
                            description="生成见证私钥（签名类型 4），输出公钥 / make the "
                                        "witness key (sigtype 4); prints its vkey")
    keygen.add_argument("--name", required=True, metavar="N",
                        help="见证名称，如 audit.example.gov.cn/witness / the witness name")
    keygen.add_argument("--out", required=True, metavar="DIR",
                        help="密钥文件夹（新建）/ the key's folder")
    monitor = sub.add_parser("monitor", help="跟踪日志瓦片、发现分叉 / follow a log, catch forks",
                             description="跟踪日志的瓦片与检查点，审计新条目，交叉核对其他来源的"
                                         "检查点；发现分叉时写出证据 / follow a log's tiles and "
                                         "checkpoints, audit new entries, cross-check notes "
                                         "seen elsewhere; write fork evidence")
    monitor.add_argument("--tiles", required=True, metavar="URL_OR_DIR",
                         help="日志瓦片的地址或文件夹 / the log's tiles (http(s) URL or folder)")
    monitor.add_argument("--trust", required=True, metavar="FILE",
                         help="固定的 trust.json / the pinned trust.json")
    monitor.add_argument("--state", required=True, metavar="DIR",
                         help="监测状态与证据文件夹 / the monitor's state (evidence/ inside)")
    monitor.add_argument("--peer", action="append", default=[], metavar="URL_OR_FILE",
                         help="别处看到的检查点（可重复）/ a checkpoint note seen elsewhere "
                              "(repeatable)")
    monitor.add_argument("--interval", type=float, default=60.0, metavar="S",
                         help="轮询间隔秒数 / seconds between rounds (default 60)")
    monitor.add_argument("--once", action="store_true",
                         help="只运行一轮；退出码 0 无异常，1 有问题，2 分叉 / one round; exit "
                              "0 clean, 1 a problem, 2 a fork")
    return parser


def _print_round(result: Round) -> None:
    for zh, en in result.notes:
        print(f"{zh} / {en}", flush=True)
    for path in result.forks:
        print(f"发现分叉：日志签署了两份历史，证据已写入 {path} / FORK: the log signed two "
              f"histories, evidence written to {path}", file=sys.stderr, flush=True)
    for zh, en in result.problems:
        print(f"问题 / problem: {zh} / {en}", file=sys.stderr, flush=True)


def _monitor(args: argparse.Namespace) -> int:
    try:
        trust = load_trust(Path(args.trust).read_bytes())
    except OSError as exc:
        raise WitnessError(f"--trust {args.trust}: {exc.strerror}") from None
    except FormatError as exc:
        raise WitnessError(f"--trust {args.trust}: {exc}") from None
    if args.interval <= 0:
        raise WitnessError("--interval：应为正数 / must be positive")
    try:
        source = TileSource(args.tiles)
    except FormatError as exc:
        raise WitnessError(f"--tiles: {exc}") from None
    mon = Monitor(source, trust, Path(args.state), args.peer)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        result = mon.round()
        _print_round(result)
        if args.once:
            return result.exit_code
        try:
            time.sleep(args.interval)
        except KeyboardInterrupt:
            return 0


def _listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise WitnessError(f"--listen {text!r}：应为 HOST:PORT / expected HOST:PORT")
    return host.strip("[]"), int(port)


def _stall() -> float:
    text = os.environ.get(_STALL_ENV, "")
    try:
        return float(text) if text else 0.0
    except ValueError:
        raise WitnessError(f"{_STALL_ENV}={text!r}: not a number of seconds") from None


def _serve(args: argparse.Namespace) -> int:
    address = _listen(args.listen)
    signer = load_key(Path(args.key), COSIGNATURE_TYPE)
    policy = load_log_policy(Path(args.log_policy))
    stall = _stall()
    state_dir = Path(args.state)
    state = WitnessState(state_dir / "state.json", hold=True,
                         pause=(lambda _stage: time.sleep(stall)) if stall else None)
    try:
        server = WitnessServer(address, signer, state, policy, evidence=state_dir / "evidence")
    except OSError as exc:
        state.close()
        raise WitnessError(f"无法监听 {args.listen} / cannot listen on {args.listen}: "
                           f"{exc.strerror}") from None
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    host, port = str(server.server_address[0]), int(server.server_address[1])
    print(f"见证 {signer.name} 监听 / witness {signer.name} listening on "
          f"http://{host}:{port} ({len(policy.logs)} logs)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        state.close()
    return 0


def _keygen(args: argparse.Namespace) -> int:
    try:
        signer = NoteSigner.generate(args.name, COSIGNATURE_TYPE)
    except FormatError as exc:
        raise WitnessError(f"--name: {exc}") from None
    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        raise WitnessError(f"{out}：文件夹非空，密钥库只放一把私钥 / {out} is not empty: a key "
                           "store holds one key")
    path = out / f"{args.name.replace('/', '_')}.skey"
    save_key(path, signer)
    print(signer.verifier.vkey)
    print(f"见证私钥已写入 {path}（仅存本机，权限 0600），请将上面一行公钥交给主管部门写入创世"
          f"条目 / witness key written to {path} (this host only, mode 0600); hand the vkey "
          "above to the authority for the genesis", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code else 0
    try:
        if args.command == "monitor":
            return _monitor(args)
        return _serve(args) if args.command == "serve" else _keygen(args)
    except (WitnessError, KeyFileError, StateError) as exc:
        print(f"拒绝 / refused: {exc}", file=sys.stderr)
        return EXIT_USAGE if args.command == "monitor" else 1


if __name__ == "__main__":
    sys.exit(main())
