"""``drawledger``: run ``ledger._cli``, or say plainly that the server extra is missing.

``pip install drawledger`` installs the verifier (``python -m verifier``), the department
client and the witness; the operator's command needs the ``server`` extra
(eventsourcing and the rest). Without it, importing ``ledger._cli`` fails on the first
missing package; that becomes one message, Chinese first, naming the package and the
install command, and exit status 69 (EX_UNAVAILABLE), instead of a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["EX_UNAVAILABLE", "SERVER_INSTALL", "main"]

EX_UNAVAILABLE = 69
SERVER_INSTALL = "pip install 'drawledger[server]'"
# A missing module of these is a broken install, not a missing extra: let it show.
_OURS = frozenset({"drawledger", "ledger", "verifier", "regfile", "api", "client", "witness"})


def missing_extra(exc: ModuleNotFoundError) -> str | None:
    """The third-party package whose absence stopped the import, or None when it is one
    of ours (or unnamed)."""
    top = (exc.name or "").split(".")[0]
    return None if not top or top in _OURS else top


def main(argv: Sequence[str] | None = None) -> int:
    try:
        from ledger._cli import main as run
    except ModuleNotFoundError as exc:
        package = missing_extra(exc)
        if package is None:
            raise
        print(f"drawledger 命令需要服务器端组件：缺少 Python 包 {package}。安装：{SERVER_INSTALL}\n"
              f"the drawledger command needs the server extra: the Python package {package} "
              f"is missing. Install it with: {SERVER_INSTALL}\n"
              "（仅核验无需安装 / verifying needs nothing more: python -m verifier --help）",
              file=sys.stderr)
        return EX_UNAVAILABLE
    return run(argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
