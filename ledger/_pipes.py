"""Messages between an importer and the children it forks: pickled, length-prefixed.

Both ends are the same program (a fork), so pickle carries nothing foreign.
"""

from __future__ import annotations

import contextlib
import os
import pickle
from typing import IO, Any

_PIPE_SIZE = 1 << 20  # asked of Linux for more slack (F_SETPIPE_SZ); a hint elsewhere


def wide_pipe() -> tuple[int, int]:
    """``os.pipe()``, widened where the platform allows so a writer rarely waits."""
    read, write = os.pipe()
    with contextlib.suppress(ImportError, AttributeError, OSError):  # Linux; optional
        import fcntl
        fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
    return read, write


def send(out: IO[bytes], message: tuple[str, Any], *, flush: bool = False) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(len(data).to_bytes(8, "big") + data)
    if flush:
        out.flush()


def receive(inp: IO[bytes]) -> tuple[str, Any] | None:
    """The next message, or None when the other end closed its side."""
    head = inp.read(8)
    if len(head) != 8:
        return None
    message: tuple[str, Any] = pickle.loads(inp.read(int.from_bytes(head, "big")))
    return message
