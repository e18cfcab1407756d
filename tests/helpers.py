"""Shared test helpers: build small demo logs and exports, edit exports like an attacker."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from ledger import Ledger, LogKeys, build_demo
from verifier import (
    Checkpoint,
    MerkleTree,
    NoteSigner,
    Report,
    audit,
    entry_hash,
    load_trust,
    make_entry,
    sign_note,
)
from verifier._cli import read_lines


def build_export(root: Path, *, targets: int = 40, inspectors: int = 10) -> tuple[Path, LogKeys]:
    """A demo log in ``root/db.sqlite`` exported to ``root/export``."""
    keys = LogKeys(root / "keys")
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
