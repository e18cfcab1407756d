"""Shared test helpers: build small demo logs and exports, edit exports like an attacker."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ledger import Ledger, Parties, build_demo
from verifier import (
    Checkpoint,
    MerkleTree,
    NoteSigner,
    Report,
    audit,
    cosign,
    entry_hash,
    load_trust,
    make_entry,
    sign_note,
)
from verifier._cli import read_lines


def build_export(root: Path, *, targets: int = 40, inspectors: int = 10) -> tuple[Path, Parties]:
    """A demo log in ``root/db.sqlite`` exported to ``root/export``."""
    keys = Parties(root / "parties")
    ledger = Ledger(str(root / "db.sqlite"))
    try:
        build_demo(ledger, keys, targets=targets, inspectors=inspectors)
        ledger.export(root / "export")
    finally:
        ledger.close()
    return root / "export", keys


def copy_export(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def read_entries(export: Path) -> list[bytes]:
    return (export / "entries.jsonl").read_bytes().splitlines()


def write_entries(export: Path, lines: list[bytes]) -> None:
    (export / "entries.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))


def run_audit(export: Path, *, signatures: bool = True) -> Report:
    trust = load_trust((export / "trust.json").read_bytes())
    checkpoints = [(p.name, p.read_bytes()) for p in sorted((export / "checkpoints").iterdir())]
    with (export / "entries.jsonl").open("rb") as fh:
        return audit(read_lines(fh), checkpoints, trust, signatures=signatures)


def resign_checkpoint(export: Path, log_key: NoteSigner, lines: list[bytes]) -> str:
    """What a colluding log does after rewriting history: sign a checkpoint over it."""
    tree = MerkleTree(entry_hash(line) for line in lines)
    origin = json.loads(lines[0])["body"]["origin"]
    note = sign_note(Checkpoint(origin, tree.size, tree.root()).text, [log_key])
    (export / "checkpoints" / f"{tree.size:012d}.note").write_text(note, encoding="utf-8")
    return note


def entry_obj(line: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = json.loads(line)
    return obj


def rewrite_history(export: Path, log_key: NoteSigner, lines: list[bytes], start: int) -> None:
    """What a colluding log does: renumber and re-chain every entry from ``start`` on,
    drop the old checkpoints and sign one over the new history."""
    for j in range(start, len(lines)):
        o = entry_obj(lines[j])
        lines[j] = make_entry(j, entry_hash(lines[j - 1]) if j else bytes(32), o["time"],
                              o["stream"], o["version"],
                              {f: o[f] for f in ("actor", "body", "sig", "type")})
    write_entries(export, lines)
    for p in (export / "checkpoints").iterdir():
        p.unlink()
    resign_checkpoint(export, log_key, lines)


def audit_export(export: Path, **options: Any) -> Report:
    """``run_audit`` with the audit's other options (``outside``, ``now``, ``trust``...)."""
    trust = options.pop("trust", None) or load_trust((export / "trust.json").read_bytes())
    checkpoints = [(p.name, p.read_bytes()) for p in sorted((export / "checkpoints").iterdir())]
    with (export / "entries.jsonl").open("rb") as fh:
        return audit(read_lines(fh), checkpoints, trust, **options)


def note_size(path: Path) -> int:
    """The tree size a checkpoint file of an export is named after (SPEC.md 9.1)."""
    return int(path.name.split(".")[0])


def truncate_export(export: Path, keep: int) -> None:
    """What a log that hides its tail hands the auditor: entries ``0..keep-1`` and only the
    checkpoints that do not cover a dropped entry."""
    write_entries(export, read_entries(export)[:keep])
    for p in (export / "checkpoints").iterdir():
        if note_size(p) > keep:
            p.unlink()


def add_cosignature(export: Path, witness: NoteSigner, size: int, timestamp: int) -> Path:
    """What the holder of a witness key can add: one more cosignature of the export's
    checkpoint of ``size``, dated ``timestamp``, as a note of its own (SPEC.md 9.1)."""
    cp_dir = export / "checkpoints"
    text, _, sigs = (cp_dir / f"{size:012d}.note").read_text(encoding="utf-8").partition("\n\n")
    log_line = sigs.splitlines()[0]
    n = sum(1 for p in cp_dir.iterdir() if p.name.count(".") == 2)
    path = cp_dir / f"{size:012d}.{900000 + n:06d}.note"
    line = cosign(text + "\n", witness, timestamp)
    path.write_text(f"{text}\n\n{log_line}\n{line}", encoding="utf-8")
    return path


def require_tool(name: str, env: str, why: str) -> str:
    """The path of a program the test needs: skipped when it is missing, or failed when
    ``env`` is set to 1 (as .ci/run sets it after installing the program)."""
    import os
    import shutil

    import pytest
    found = shutil.which(name)
    if found is None:
        if os.environ.get(env) == "1":
            pytest.fail(why)
        pytest.skip(why)
    return found


def wait_until_up(url: str, proc: Any, log: Path, timeout: float = 60) -> None:
    """Poll ``url``/healthz until the server answers; its log when it dies or never does."""
    import time
    import urllib.request
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url + "/healthz", timeout=2).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(log.read_text()) from None
            time.sleep(0.2)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def uvicorn_serving(app: Any) -> Iterator[int]:
    """``app`` under real uvicorn on a free port in a thread of this process (its locks
    in reach); yields the port, waits at most 30 s for the start and for the stop."""
    import uvicorn

    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield port
    finally:
        srv.should_exit = True
        thread.join(timeout=30)
