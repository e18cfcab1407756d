"""Messages between an importer and the children it forks: pickled, length-prefixed, and
every wait on the other end bounded.

Both ends are the same program (a fork), so pickle carries nothing foreign. A pipe read
or write that cannot proceed waits in steps of ``_STEP`` seconds, checking between
steps that the process at the other end (a ``Peer``) still exists; a peer that is gone
or has let ``child_timeout()`` seconds pass without a byte either way raises
``ChildFailedError``, naming the process and what it was doing, instead of waiting for
ever (a stopped or wedged child, a parent that went away).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import time
from typing import Any

from ledger._errors import InputError, LedgerError

__all__ = ["CHILD_TIMEOUT", "ChildFailedError", "Peer", "Reader", "Writer", "child_timeout",
           "wide_pipe"]

_PIPE_SIZE = 1 << 20  # asked of Linux for more slack (F_SETPIPE_SZ); a hint elsewhere
_IO_SIZE = 1 << 20  # bytes per read or write call
_STEP = 0.2  # seconds between checks that the other end still exists

CHILD_TIMEOUT = 120.0
"""Seconds without progress on a pipe after which the other process counts as wedged,
unless ``DRAWLEDGER_CHILD_TIMEOUT`` says otherwise. Every message is one chunk of rows, so
an honest peer is never silent for that long."""


def child_timeout() -> float:
    """``DRAWLEDGER_CHILD_TIMEOUT`` (seconds, positive) or CHILD_TIMEOUT; read before a
    fork, so that a bad value refuses the import before any child exists."""
    text = os.environ.get("DRAWLEDGER_CHILD_TIMEOUT", "").strip()
    if not text:
        return CHILD_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise InputError(f"DRAWLEDGER_CHILD_TIMEOUT 应为正的秒数，而不是 {text!r} / "
                         f"DRAWLEDGER_CHILD_TIMEOUT must be a positive number of seconds, "
                         f"not {text!r}")
    return value


class ChildFailedError(LedgerError):
    """A forked helper of an import died, stopped answering or reported a failure; the
    message (Chinese, then English) names it, what it was doing and what was written."""


def wide_pipe() -> tuple[int, int]:
    """``os.pipe()``, widened where the platform allows so a writer rarely waits."""
    read, write = os.pipe()
    with contextlib.suppress(ImportError, AttributeError, OSError):  # Linux; optional
        import fcntl
        fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
    return read, write


def _how(status: int) -> tuple[str, str]:
    """A wait status in words."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        with contextlib.suppress(ValueError):
            name = signal.Signals(number).name
            return f"被信号 {number}（{name}）终止", f"killed by signal {number} ({name})"
        return f"被信号 {number} 终止", f"killed by signal {number}"
    if os.WIFEXITED(status):
        code = os.WEXITSTATUS(status)
        return f"退出码 {code}", f"exit status {code}"
    return "状态未知", "status unknown"


class Peer:
    """The process at the other end of a pipe: a child (``pid``) or, in a child, its
    parent (``parent=True``). ``doing`` says what it is busy with, for the messages;
    ``outcome`` what a failure now leaves in the log."""

    def __init__(self, pid: int, zh: str, en: str, timeout: float, *, parent: bool = False,
                 outcome: tuple[str, str] = ("未写入任何内容", "nothing was written")) -> None:
        self.pid, self.zh, self.en, self.parent = pid, zh, en, parent
        self.timeout = timeout
        self.doing_zh = self.doing_en = ""
        self.outcome = outcome
        self.status: int | None = None  # the wait status, once reaped

    def doing(self, zh: str, en: str) -> None:
        self.doing_zh, self.doing_en = zh, en

    def alive(self) -> bool:
        """Whether the process still runs (a child that ended is reaped here)."""
        if self.parent:
            return os.getppid() == self.pid
        if self.status is not None:
            return False
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:  # reaped elsewhere
            self.status = 0
            return False
        if pid == 0:
            return True
        self.status = status
        return False

    def reap(self, grace: float = 5.0) -> None:
        """Let a child that has sent everything exit (up to ``grace`` seconds), then
        ``stop`` it."""
        deadline = time.monotonic() + grace
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.002)
        self.stop()

    def stop(self) -> None:
        """Kill the child if it still runs and reap it (no zombie, no orphan)."""
        if self.parent or self.status is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            self.status = os.waitpid(self.pid, 0)[1]
        if self.status is None:
            self.status = 0

    def _who(self) -> tuple[str, str]:
        zh = f"{self.zh}（pid {self.pid}）" + (f"在{self.doing_zh}时" if self.doing_zh else "")
        en = f"{self.en} (pid {self.pid})" + (f" while {self.doing_en}" if self.doing_en
                                              else "")
        return zh, en

    def failure(self, zh: str, en: str) -> ChildFailedError:
        """``ChildFailedError`` naming this process, what it was doing, ``zh``/``en``
        (what went wrong) and the outcome."""
        who_zh, who_en = self._who()
        return ChildFailedError(f"{who_zh}{zh}，{self.outcome[0]} / {who_en}: {en}; "
                                f"{self.outcome[1]}")

    def ended(self) -> ChildFailedError:
        """The failure for a peer that closed its end without the expected message."""
        if self.parent:
            return self.failure("已退出", "went away")
        self.alive()
        if self.status is None:  # alive but closed its end: make sure it is gone
            self.stop()
        how_zh, how_en = _how(self.status or 0)
        return self.failure(f"意外结束（{how_zh}）", f"it ended unexpectedly ({how_en})")

    def wait(self, fd: int, event: int) -> None:
        """Until ``fd`` is ready for ``event`` (select.POLLIN or POLLOUT), the peer
        has gone (ChildFailedError) or ``timeout`` passed (ChildFailedError, after
        stopping a child)."""
        poller = select.poll()
        poller.register(fd, event)
        deadline = time.monotonic() + self.timeout
        while True:
            if poller.poll(_STEP * 1000):
                return  # ready, or the other end closed (POLLHUP / POLLERR)
            if not self.alive():
                raise self.ended()
            if time.monotonic() >= deadline:
                self.stop()
                raise self.failure(f" {self.timeout:g} 秒没有回应，已终止",
                                   f"no progress for {self.timeout:g} s, stopped")


class Reader:
    """Messages from a pipe's read end, each wait bounded by its ``Peer``."""

    def __init__(self, fd: int, peer: Peer) -> None:
        self.fd, self.peer = fd, peer
        self._buf = bytearray()
        self._pos = 0

    def _fill(self, n: int) -> bool:
        """At least ``n`` unread bytes buffered, or False at the end of the pipe."""
        while len(self._buf) - self._pos < n:
            if self._pos:
                del self._buf[:self._pos]
                self._pos = 0
            self.peer.wait(self.fd, select.POLLIN)
            chunk = os.read(self.fd, max(_IO_SIZE, n - len(self._buf)))
            if not chunk:
                return False
            self._buf += chunk
        return True

    def receive(self) -> tuple[str, Any] | None:
        """The next message, or None when the other end closed its side."""
        if not self._fill(8):
            return None
        size = int.from_bytes(self._buf[self._pos:self._pos + 8], "big")
        if not self._fill(8 + size):
            return None
        start = self._pos + 8
        message: tuple[str, Any] = pickle.loads(memoryview(self._buf)[start:start + size])
        self._pos = start + size
        return message

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


class Writer:
    """Messages to a pipe's write end (non-blocking), each wait bounded by its ``Peer``.
    Raises BrokenPipeError when the reader has closed its end."""

    def __init__(self, fd: int, peer: Peer) -> None:
        self.fd, self.peer = fd, peer
        os.set_blocking(fd, False)
        self._buf = bytearray()

    def send(self, message: tuple[str, Any], *, flush: bool = False) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        self._buf += len(data).to_bytes(8, "big")
        self._buf += data
        if flush or len(self._buf) >= _IO_SIZE:
            self.flush()

    def flush(self) -> None:
        view, done = memoryview(self._buf), 0
        try:
            while done < len(view):
                try:
                    done += os.write(self.fd, view[done:done + _IO_SIZE])
                except BlockingIOError:
                    self.peer.wait(self.fd, select.POLLOUT)
        finally:
            view.release()
            del self._buf[:done]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)
