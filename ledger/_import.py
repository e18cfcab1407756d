"""Registry files parsed in a forked child (the parse itself is ``regfile._parse``, one
parser for the log and the department client).

``ParseInChild`` runs ``parse_file`` in a forked child that streams the good rows back, so
an import encodes them on another core; with ``cells`` the child only reads a workbook.
This module re-exports the parser's names the ledger has always imported from here.
"""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

from ledger import _pipes as pipes
from ledger._errors import InputError
from ledger._pipes import wide_pipe
from regfile._errors import RegistryFileError
from regfile._parse import (
    _SHARED_KINDS,
    INSPECTOR_COLUMNS,
    KIND_ALIASES,
    KINDS,
    MAX_ERRORS,
    TARGET_COLUMNS,
    Column,
    ParsedImport,
    ParseStream,
    RowError,
    _xlsx_rows,
    conflict_errors,
    fast_inline_strings,
    format_errors,
    parse_file,
)

__all__ = [
    "INSPECTOR_COLUMNS",
    "KINDS",
    "KIND_ALIASES",
    "MAX_ERRORS",
    "TARGET_COLUMNS",
    "Column",
    "ParseInChild",
    "ParseStream",
    "ParsedImport",
    "RowError",
    "conflict_errors",
    "format_errors",
    "parse_file",
]


# Rows a streamed parse hands over at a time: small enough (about 50 KB pickled) that a
# chunk fits in the pipe while the reader is busy with the one before, so neither waits.
_CHUNK = 200


class ParseInChild:
    """``parse_file`` in a forked child, its good rows streamed back while this process
    works on them (an import encodes them meanwhile: two cores instead of one). With
    ``cells``, the child only reads a workbook (openpyxl, the slow part) and streams its
    cell values for ``parse_file(..., xlsx_rows=job.xlsx_rows)`` here.

    Use as a context manager: ``rows()`` yields the bodies in file order, then
    ``result()`` is the ParsedImport (errors, warnings, digest; ``rows`` empty, and
    ``row_numbers`` those of every yielded body). A child that fails raises here as it
    would have inline (InputError for the file's faults); leaving early kills it. A
    child that dies, stops answering (``ledger._pipes.CHILD_TIMEOUT``) or fails in its
    own code raises ChildFailedError, naming it and the file, and is reaped. Only where
    ``os.fork`` exists and no other thread runs: see ``available``.
    """

    def __init__(self, path: Path, kind: str, dept: str, *, cells: bool = False) -> None:
        self.path, self.kind, self.dept, self.cells = Path(path), kind, dept, cells
        self.pid = 0
        self._pipe: pipes.Reader | None = None
        self._peer: pipes.Peer | None = None
        self._result: ParsedImport | None = None
        self._numbers: list[int] = []
        self._finished = False

    @staticmethod
    def available() -> bool:
        """A fork copies only the calling thread: a lock another thread held at that
        instant would stay held in the child. So no fork beside other threads, such
        as a PostgreSQL connection pool's workers (a log on PostgreSQL parses inline)."""
        return hasattr(os, "fork") and threading.active_count() == 1

    def __enter__(self) -> ParseInChild:
        timeout = pipes.child_timeout()
        read, write = wide_pipe()
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover - the child, whose coverage is not collected
            os.close(read)
            self._child(write, timeout)
        os.close(write)
        name = self.path.name
        self._peer = pipes.Peer(self.pid, "读取文件的子进程", "the file-reading process",
                                timeout)
        if self.cells:
            self._peer.doing(f"读取 {name}", f"reading {name}")
        else:
            self._peer.doing(f"读取并检查 {name}", f"reading and checking {name}")
        self._pipe = pipes.Reader(read, self._peer)
        return self

    def _child(self, fd: int, timeout: float) -> None:  # pragma: no cover - in the child
        """Parse, send, exit without returning into the parent's code."""
        status = 1
        try:
            gc.freeze()  # the inherited heap is never scanned, so never copied
            out = pipes.Writer(fd, pipes.Peer(os.getppid(), "导入进程", "the importing process",
                                              timeout, parent=True))
            try:
                send = out.send
                try:
                    if self.cells:
                        fast_inline_strings()  # this process only reads this workbook
                        problems: list[RowError] = []
                        chunk: list[Sequence[object]] = []
                        for cells in _xlsx_rows(self.path, problems):
                            chunk.append(cells)
                            if len(chunk) >= _CHUNK:
                                send(("cells", chunk))
                                chunk = []
                        send(("cells", chunk))
                        send(("cells_done", problems))
                    else:
                        result = parse_file(self.path, self.kind, self.dept,
                                            sink=lambda rows, numbers: send(("rows",
                                                                             (rows, numbers))))
                        send(("done", result))
                except (InputError, RegistryFileError) as exc:
                    send(("input_error", str(exc)))
                except Exception as exc:  # reported to the parent as it is
                    send(("error", f"{type(exc).__name__}: {exc}"))
                out.flush()
            finally:
                out.close()
            status = 0
        finally:
            os._exit(status)

    def _message(self) -> tuple[str, Any]:
        assert self._pipe is not None and self._peer is not None
        message = self._pipe.receive()
        if message is None:
            raise self._peer.ended()
        return message

    def rows(self) -> Iterator[dict[str, Any]]:
        # Unpickled chunks share no strings with each other: repeated values are shared
        # again here as the parser shares them (a few hundred values among 100,000 rows).
        kind = KIND_ALIASES.get(self.kind, self.kind)
        fields = [c.field for c in KINDS[kind][1] if c.kind in _SHARED_KINDS] \
            if kind in KINDS else []
        shared: dict[str, str] = {}
        while True:
            what, payload = self._message()
            if what == "rows":
                bodies, numbers = payload
                self._numbers.extend(numbers)
                for body in bodies:
                    body["dept"] = shared.setdefault(body["dept"], body["dept"])
                    for name in fields:
                        value = body.get(name)
                        if type(value) is str:
                            body[name] = shared.setdefault(value, value)
                        elif type(value) is list:
                            body[name] = [shared.setdefault(v, v) for v in value]
                    yield body
            elif what == "done":
                payload.row_numbers = self._numbers
                self._result = payload
                self._finished = True
                return
            else:
                self._fail(what, payload)

    def xlsx_rows(self, path: Path, problems: list[RowError]
                  ) -> Generator[Sequence[object], None, None]:
        """With ``cells``: the workbook's rows of cell values as the child reads them
        (an ``XlsxRows`` for ``parse_file``; ``path`` is the child's)."""
        while True:
            what, payload = self._message()
            if what == "cells":
                yield from payload
            elif what == "cells_done":
                problems.extend(payload)
                self._finished = True
                return
            else:
                self._fail(what, payload)

    def _fail(self, what: str, payload: Any) -> NoReturn:
        if what == "input_error":
            raise InputError(payload)
        assert self._peer is not None
        raise self._peer.failure(f"出错：{payload}", f"it failed: {payload}")

    def result(self) -> ParsedImport:
        if self._result is None:
            for _ in self.rows():
                pass
        assert self._result is not None
        return self._result

    def __exit__(self, *exc: object) -> None:
        if self._pipe is not None:
            self._pipe.close()
        if self._peer is not None:
            if self._finished:  # it has sent everything: let it exit
                self._peer.reap()
            self._peer.stop()  # one still running is killed
            self.pid = 0
