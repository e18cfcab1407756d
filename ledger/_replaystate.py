"""The write side's replay state, saved at checkpoints (issue 17 item 6).

A ``Ledger`` replays the whole log into memory when it opens (its ``LogState`` and Merkle
tree): 46 s for a district's million-entry year, on every start of the API and every
``drawledger`` command. So the replay is saved beside the database (``<db>.state``, in the
audit state's format, verifier._resume: an HMAC under the key in ``<db>.state.key``, made
0600 on the first save, and a restricted unpickler) when a checkpoint of the whole
replayed tree is stored, and at close; the next open loads it and replays only the
entries after it.

A state is used only when it is this log's and this code's: the header names the genesis
entry's hash, the code that wrote it (a hash of the verifier's and ledger's sources: any
other version, whose objects may differ, is refused) and the checkpoint it stands at,
whose root must equal the saved tree's and the stored checkpoint's of that size; and the
database's entry just before that point must hash to the tree's last leaf (each entry's
``prev`` chains it to every one before, so this ties the whole prefix). Anything else is
refused, logged, and the log replayed in full: a state is never trusted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import verifier
from verifier import LogState, MerkleTree
from verifier._entry import entry_hash
from verifier._resume import AuditState, StateError, dumps, load_state, loads, save_state

if TYPE_CHECKING:
    from ledger._app import Ledger

__all__ = ["STATE_ENV", "code_id", "load", "save", "saved_size", "state_path"]

STATE_ENV = "DRAWLEDGER_STATE"  # where a PostgreSQL log's state goes (no file to sit beside)
_OPTIONS = {"ledger": True}  # never an audit's options: an audit refuses this state
log = logging.getLogger("drawledger.ledger")


def state_path(db: str) -> Path | None:
    """``<db>.state`` beside a SQLite file; for PostgreSQL ``$DRAWLEDGER_STATE``, if set."""
    if db.startswith(("postgres://", "postgresql://")):
        named = os.environ.get(STATE_ENV)
        return Path(named) if named else None
    return Path(db + ".state")


@cache
def code_id() -> str:
    """SHA-256 over the verifier's and the ledger's sources: the state's objects are
    these modules' classes, so another version of them never loads it."""
    h = hashlib.sha256()
    for package in (Path(verifier.__file__).parent, Path(__file__).parent):
        for path in sorted(package.glob("*.py")):
            h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _genesis_id(ledger: Ledger) -> str:
    first = ledger.chain.read_entries(0, 1)
    return "genesis:" + (entry_hash(first[0][1]).hex() if first else "none")


def saved_size(path: Path, ledger: Ledger) -> int:
    """The size the state file's header claims for a state of this code and this log, 0
    if none (not authenticated: only to skip saving a state no larger than the one
    there)."""
    try:
        with path.open("rb") as fh:
            fh.readline()
            head = json.loads(fh.readline())
        ours = head.get("code") == code_id() and head.get("trust") == _genesis_id(ledger)
        return int(head["size"]) if ours else 0
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return 0


def save(ledger: Ledger, path: Path) -> None:
    """Save the ledger's replay (call with its lock held, the tree at a stored
    checkpoint's size)."""
    tree = ledger.tree
    state = AuditState(tree.size, tree.root(), ledger.state.origin, _genesis_id(ledger),
                       dict(_OPTIONS), 0, dumps((ledger.state, tree.pack())), code=code_id())
    save_state(path, state)


def load(ledger: Ledger, path: Path) -> tuple[LogState, MerkleTree] | None:
    """The saved replay of this log, None when there is none; StateError (in Chinese and
    English) for a state that is not this log's, this code's, or intact."""
    if not path.exists():
        return None
    saved = load_state(path)

    def refuse(zh: str, en: str) -> StateError:
        return StateError(f"重放状态 {path} 不可用：{zh}", f"replay state {path} refused: {en}")
    if saved.code != code_id() or saved.options != _OPTIONS:
        raise refuse("由另一版本的程序写入", "written by another version of the code")
    if saved.trust != _genesis_id(ledger):
        raise refuse("属于另一个日志（创世条目不同）", "it is another log's (another genesis)")
    size = saved.size
    if not 0 < size <= ledger.chain.head()[0]:
        raise refuse(f"状态有 {size} 条，数据库没有这么多", f"it holds {size} entries, the "
                     "database fewer")
    try:
        state, packed = loads(saved.payload)
        tree = MerkleTree.unpack(packed)
    except Exception as exc:  # any failure to unpickle is a refusal, never a traceback
        raise refuse(f"内容无法读取（{exc}）", f"its content cannot be read ({exc})") from None
    if not isinstance(state, LogState) or tree.size != size or tree.root() != saved.root \
            or state.origin != saved.origin:
        raise refuse("内容与其头部不符", "its content differs from its header")
    last = ledger.chain.read_entries(size - 1, size)
    if not last or entry_hash(last[0][1]) != tree.leaf(size - 1):
        raise refuse(f"数据库第 {size - 1} 条与状态不符（日志被改写或回滚）",
                     f"entry {size - 1} in the database is not the state's (the log was "
                     "rewritten or rolled back)")
    stored = {s: root for s, root, _ in ledger.chain.checkpoints()}
    if stored.get(size) != saved.root:
        raise refuse(f"数据库中没有根哈希与之相同的 {size} 条检查点",
                     f"the database holds no checkpoint of size {size} with its root")
    return state, tree
