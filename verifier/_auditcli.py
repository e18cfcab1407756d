"""``python -m verifier auditor-request``: an auditor fetches the internal data of a v2
log (SPEC.md 21.8) with a request signed by its own key, over plain HTTP(S)."""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from verifier._auditreq import sign_request
from verifier._keyfile import load_key
from verifier._note import ED25519_TYPE

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser("auditor-request",
                       help="an auditor's signed request for openings or an auditor bundle")
    p.add_argument("url", help="the log's API, e.g. http://127.0.0.1:8000")
    p.add_argument("--key", required=True, help="the auditor's key file (.skey, mode 0600)")
    p.add_argument("--what", choices=("openings", "bundle"), required=True)
    p.add_argument("--from", dest="start", type=int, default=0,
                   help="openings: of entries from this seq on")
    p.add_argument("--draw", help="bundle: the draw id plan_id/batch_id")
    p.add_argument("--out", required=True, help="where to write the answer")


def run(args: argparse.Namespace) -> int:
    """Exit 0 with the answer written; 69 when the log cannot be reached; 65 when it
    refuses (its problem+json detail printed, Chinese first)."""
    if args.what == "bundle" and not args.draw:
        print("--what bundle 需要 --draw / --what bundle needs --draw", file=sys.stderr)
        return 64
    signer = load_key(Path(args.key), ED25519_TYPE)
    params: dict[str, object] = ({"from": args.start} if args.what == "openings"
                                 else {"draw": args.draw})
    data = sign_request(signer, args.what, params)
    req = urllib.request.Request(args.url.rstrip("/") + "/v1/auditor/requests", data=data,
                                 headers={"Content-Type": "application/json"}, method="POST")
    out = Path(args.out)
    try:
        with urllib.request.urlopen(req, timeout=120) as resp, out.open("wb") as fh:
            while chunk := resp.read(1 << 20):
                fh.write(chunk)
    except urllib.error.HTTPError as exc:
        print(f"日志拒绝了请求 / the log refused the request ({exc.code}): "
              f"{exc.read().decode(errors='replace')}", file=sys.stderr)
        return 65
    except (urllib.error.URLError, OSError) as exc:
        print(f"无法连接日志 / cannot reach the log: {exc}", file=sys.stderr)
        return 69
    print(f"已写入 / written: {out}")
    return 0
