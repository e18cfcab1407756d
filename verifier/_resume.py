"""The saved replay state of an incremental audit (SPEC.md 9.4, ``audit --state``).

A monitor that follows a live log must not replay the whole year each time: the audit
saves its replay state at the last checkpoint it verified, and the next run resumes
at that point, reading only the entries after it.

The state is Python objects (the rules' replay state holds the registries, indexes and
trackers), written with pickle because a faithful JSON form of all of it would be a second
encoding to keep exact. Unpickling untrusted bytes runs code, so the file is authenticated:
an HMAC-SHA256 under a key kept in a separate file beside it (created 0600, refused when
others may read it), checked before a byte is unpickled; and the unpickler accepts only
the verifier's own classes and plain containers. The header, readable JSON, says which
log, trust policy, checkpoint and options the state belongs to; a state that does not
match is refused, never trusted.
"""

from __future__ import annotations

import base64
import copyreg
import hashlib
import hmac
import io
import json
import os
import pickle
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from types import FunctionType
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from verifier._atomic import write_atomic
from verifier._errors import VerifierError
from verifier._trust import Trust
from verifier._version import __version__

__all__ = ["FORMAT", "AuditState", "StateError", "load_state", "save_state", "trust_id"]

FORMAT = 1  # bump when the saved objects change shape: an older verifier refuses a newer one
_MAGIC = b"drawledger-audit-state"


class StateError(VerifierError):
    """The state file is unusable or does not belong to this log (usage, exit 64)."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh, self.en = zh, en


@dataclass(frozen=True)
class AuditState:
    """A replay paused after entry ``size - 1``, where a checkpoint of root ``root`` matched.

    ``offset`` is the byte length of entries 0..size-1 in entries.jsonl, so the next run
    seeks past them; ``payload`` is the authenticated pickle of the replay."""

    size: int
    root: bytes
    origin: str | None
    trust: str  # trust_id of the pinned policy
    options: dict[str, bool]
    offset: int
    payload: bytes
    verifier: str = __version__
    # What wrote it, beyond the verifier's version: the write side keys its state by the
    # hash of its code (ledger._replaystate), so a state of other code is refused.
    code: str = ""

    def header(self) -> dict[str, Any]:
        head = {"format": FORMAT, "verifier": self.verifier, "size": self.size,
                "root": base64.b64encode(self.root).decode(), "origin": self.origin,
                "trust": self.trust, "options": self.options, "offset": self.offset}
        if self.code:
            head["code"] = self.code
        return head


def trust_id(trust: Trust | None) -> str:
    """SHA-256 of the pinned policy's JSON: a state is only valid under the same policy."""
    if trust is None:
        return "none"
    text = json.dumps(trust.to_json(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def ed25519_key(raw: bytes) -> Ed25519PublicKey:
    """Rebuild a saved public key from its raw bytes (the unpickler's only way to one)."""
    return Ed25519PublicKey.from_public_bytes(raw)


def _reduce_key(key: Ed25519PublicKey) -> tuple[Any, tuple[bytes]]:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return ed25519_key, (raw,)


def dumps(obj: Any) -> bytes:
    """Pickle the replay; the Ed25519 keys inside go as their raw 32 bytes."""
    out = io.BytesIO()
    pickler = pickle.Pickler(out, protocol=5)
    table = copyreg.dispatch_table.copy()
    # The concrete class is the Rust binding's; register it by the instance's type.
    table[type(Ed25519PublicKey.from_public_bytes(bytes(32)))] = _reduce_key
    pickler.dispatch_table = table
    pickler.dump(obj)
    return out.getvalue()


_ALLOWED = frozenset({("builtins", "frozenset"), ("builtins", "set"), ("builtins", "bytearray"),
                      ("builtins", "object"), ("copyreg", "_reconstructor"),
                      ("collections", "Counter"), ("collections", "OrderedDict"),
                      ("collections", "defaultdict"), ("collections", "deque"),
                      ("array", "array"), ("array", "_array_reconstructor"),
                      ("datetime", "date"), ("datetime", "datetime"),
                      ("datetime", "timedelta"), ("datetime", "timezone")})


class _Unpickler(pickle.Unpickler):
    """Only the verifier's own classes and functions (never a module or an imported
    name), plain containers and dates: defence in depth behind the MAC."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        if module.startswith("verifier.") and "." not in name:
            obj = super().find_class(module, name)
            if isinstance(obj, type | FunctionType) and obj.__module__ == module:
                return obj
        raise pickle.UnpicklingError(f"{module}.{name} is not part of an audit state")


def loads(payload: bytes) -> Any:
    return _Unpickler(io.BytesIO(payload)).load()


def _key_path(path: Path) -> Path:
    return path.with_name(path.name + ".key")


def _key(path: Path, create: bool) -> bytes:
    """The MAC key beside the state: made once (0600), refused if others can read it."""
    kp = _key_path(path)
    if create and not kp.exists():
        fd = os.open(kp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
    try:
        mode = kp.stat().st_mode
        text = kp.read_text(encoding="ascii").strip()
    except (OSError, UnicodeError) as exc:
        raise StateError(f"状态密钥文件 {kp} 无法读取：{exc}",
                         f"state key file {kp} cannot be read: {exc}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise StateError(f"状态密钥文件 {kp} 的权限过宽（{oct(mode & 0o777)}），应为 0600",
                         f"state key file {kp} is readable by others "
                         f"({oct(mode & 0o777)}); it must be 0600")
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise StateError(f"状态密钥文件 {kp} 不是 64 位十六进制密钥",
                         f"state key file {kp} does not hold a 64-hex-digit key")
    return key


def _mac(key: bytes, header: bytes, payload: bytes) -> str:
    return hmac.new(key, _MAGIC + b"\n" + header + b"\n" + payload, hashlib.sha256).hexdigest()


def save_state(path: str | os.PathLike[str], state: AuditState) -> None:
    """Write the state atomically (a temporary file renamed over it), MAC'd with the key
    beside it, created on first save."""
    p = Path(path)
    key = _key(p, create=True)
    header = json.dumps(state.header(), sort_keys=True, separators=(",", ":")).encode()
    write_atomic(p, _MAGIC + b"\n" + header + b"\n" + _mac(key, header, state.payload).encode()
                 + b"\n" + state.payload)


def load_state(path: str | os.PathLike[str]) -> AuditState:
    """Read and authenticate a state file; nothing is unpickled before its MAC verifies."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise StateError(f"无法读取审计状态 {p}：{exc}",
                         f"cannot read the audit state {p}: {exc}") from None
    magic, _, rest = data.partition(b"\n")
    header, _, rest = rest.partition(b"\n")
    mac, _, payload = rest.partition(b"\n")
    if magic != _MAGIC:
        raise StateError(f"{p} 不是审计状态文件", f"{p} is not an audit state file")
    try:
        head = json.loads(header)
        fmt = head["format"]
    except (ValueError, KeyError, TypeError):
        raise StateError(f"审计状态 {p} 的头部损坏", f"the header of audit state {p} is "
                         "damaged") from None
    if fmt != FORMAT:
        raise StateError(f"审计状态 {p} 的格式 {fmt} 不是本验证器的格式 {FORMAT}"
                         f"（由验证器 {head.get('verifier')} 写入）",
                         f"audit state {p} has format {fmt}, not this verifier's {FORMAT} "
                         f"(written by verifier {head.get('verifier')}): audit without "
                         "--state once to make a new one")
    key = _key(p, create=False)
    if not hmac.compare_digest(mac, _mac(key, header, payload).encode()):
        raise StateError(f"审计状态 {p} 的 MAC 不符：文件被改动或密钥不是它的",
                         f"audit state {p} fails its MAC: the file was altered, or the key "
                         f"{_key_path(p)} is not its key")
    try:
        return AuditState(int(head["size"]), base64.b64decode(head["root"], validate=True),
                          head["origin"], str(head["trust"]), dict(head["options"]),
                          int(head["offset"]), payload, str(head["verifier"]),
                          str(head.get("code", "")))
    except (ValueError, KeyError, TypeError):
        raise StateError(f"审计状态 {p} 的头部字段不全", f"the header of audit state {p} "
                         "lacks a field") from None
