"""``python -m witness serve|keygen``: the audit body's witness, on its own machine."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from verifier import FormatError, KeyFileError, NoteSigner, load_key, save_key
from verifier._note import COSIGNATURE_TYPE
from verifier._witness import StateError, WitnessState
from witness._errors import WitnessError
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
    return parser


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
        return _serve(args) if args.command == "serve" else _keygen(args)
    except (WitnessError, KeyFileError, StateError) as exc:
        print(f"拒绝 / refused: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
