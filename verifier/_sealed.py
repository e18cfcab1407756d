"""Sealed fields (SPEC.md 21): internal facts in a public log, as hiding, binding commitments.

A v2 log (its genesis body has ``"spec": 2``) never carries a regulator's internal facts in
clear: a target's risk class, an inspector's validity, a declared conflict, a substitution's
reason, a draw's snapshot key. The statement's body holds ``sealed``, the hex SHA-256
over the statement's type and stream, a fresh 32-byte random salt and the canonical JSON
of the sealed fields; the *opening* (salt and fields) stays in the operator's internal
store and goes to auditors only. The type and stream in the hash let an opening open
statements about one stream only, and the fresh salt one statement only, so a swapped or
copied opening is caught.

An auditor's replay opens each sealed entry and continues on the *unsealed* body (the
public body without ``sealed``, plus the opened fields): exactly the body a v1 log would
have held, so every rule, view and draw check of v1 applies unchanged.

The draw snapshot's leaves seal their internal part under the draw's snapshot key, itself
sealed in ``draw.committed`` (``verifier._draw.leaf_seal``).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from verifier._canonical import dumps
from verifier._draw import lp

__all__ = [
    "COMMIT_DOMAIN",
    "SEALED_FIELDS",
    "SPEC_V2",
    "Opening",
    "SealError",
    "commitment",
    "log_spec",
    "parse_opening",
    "seal_body",
    "unseal",
]

SPEC_V2 = 2
COMMIT_DOMAIN = "drawledger/sealed/v2"

# type -> (fields it seals, of them those a statement of the type must seal). The rest of
# each body is public. A create type seals all its internal fields; an update seals those
# it changes.
SEALED_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "target.added": (("risk",), ("risk",)),
    "target.updated": (("risk",), ()),
    "inspector.added": (("valid_from", "valid_to"), ("valid_from", "valid_to")),
    "inspector.updated": (("valid_from", "valid_to"), ()),
    "conflict.declared": (("cert_no", "declared_on", "relation", "uscc"),
                          ("cert_no", "declared_on", "relation", "uscc")),
    "conflict.withdrawn": (("cert_no", "reason", "uscc"), ("cert_no", "reason", "uscc")),
    "draw.committed": (("snapshot_key",), ("snapshot_key",)),
    "draw.substituted": (("reason",), ("reason",)),
}

_HEX64 = re.compile(r"[0-9a-f]{64}\Z")


class SealError(ValueError):
    """A sealed body or an opening that does not hold: ``rule`` is the finding's rule."""

    def __init__(self, rule: str, zh: str, en: str) -> None:
        super().__init__(en)
        self.rule, self.zh, self.en = rule, zh, en


@dataclass(frozen=True, slots=True)
class Opening:
    """What opens one entry's ``sealed``: the 32-byte salt and the sealed fields."""

    salt: bytes
    fields: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"fields": self.fields, "salt": self.salt.hex()}


def log_spec(genesis_body: Mapping[str, Any]) -> int:
    """The specification version a log declares at its genesis (1 when it names none)."""
    spec = genesis_body.get("spec", 1)
    return spec if type(spec) is int else 0


def commitment(type_: str, stream: str, opening: Opening) -> str:
    """``sealed``: hex SHA-256(LP(domain, type, stream, salt, canonical fields))."""
    return hashlib.sha256(lp(COMMIT_DOMAIN, type_, stream, opening.salt,
                             dumps(opening.fields))).hexdigest()


def parse_opening(obj: Any) -> Opening:
    """An opening as carried in a statement file, a bundle or the export (without ``seq``)."""
    if type(obj) is not dict or not {"fields", "salt"} <= obj.keys():
        raise SealError("SEAL.format", "开启值须为含 salt 与 fields 的对象",
                        "an opening must be an object with salt and fields")
    salt, fields = obj["salt"], obj["fields"]
    if type(salt) is not str or not _HEX64.match(salt):
        raise SealError("SEAL.format", "开启值的 salt 须为 64 位小写十六进制（32 字节随机数）",
                        "an opening's salt must be 64 lowercase hex digits (32 random bytes)")
    if type(fields) is not dict or not fields:
        raise SealError("SEAL.format", "开启值的 fields 须为非空对象",
                        "an opening's fields must be a non-empty object")
    return Opening(bytes.fromhex(salt), fields)


def seal_body(type_: str, stream: str, body: Mapping[str, Any],
              salt: bytes | None = None) -> tuple[dict[str, Any], Opening | None]:
    """Split a logical (v1-shaped) body into the public body and its opening: the type's
    internal fields leave the body and ``sealed`` commits to them (None: nothing to seal)."""
    sealable = SEALED_FIELDS.get(type_, ((), ()))[0]
    inner = {k: body[k] for k in sealable if k in body}
    if not inner:
        return dict(body), None
    salt = os.urandom(32) if salt is None else salt
    if len(salt) != 32:
        raise ValueError("a seal needs a 32-byte random salt")
    opening = Opening(salt, inner)
    public = {k: v for k, v in body.items() if k not in inner}
    public["sealed"] = commitment(type_, stream, opening)
    return public, opening


def unseal(type_: str, stream: str, body: Mapping[str, Any],
           opening: Opening | None) -> dict[str, Any]:
    """The logical body of a v2 statement: checks that no internal field is in clear,
    that what must be sealed is, and that the opening opens this very statement."""
    rules = SEALED_FIELDS.get(type_)
    if rules is None and "sealed" not in body and opening is None:
        return dict(body)  # a type that seals nothing (most of a log's types)
    sealable, required = rules or ((), ())
    clear = sorted(k for k in sealable if k in body)
    if clear:
        raise SealError("SEAL.clear", f"内部字段 {', '.join(clear)} 以明文写入了公开日志"
                        "（签名时应封存：drawledger-client sign --seal）",
                        f"internal field(s) {', '.join(clear)} written in clear in the "
                        "public log (seal them when signing: drawledger-client sign --seal)")
    sealed = body.get("sealed")
    if sealed is None:
        if required:
            raise SealError("SEAL.absent", f"{type_} 须封存字段 {', '.join(required)}",
                            f"a {type_} must seal {', '.join(required)}")
        if opening is not None:
            raise SealError("SEAL.extra", "该条目没有封存值，却有开启值",
                            "an opening was given for an entry that seals nothing")
        return dict(body)
    if not sealable or type(sealed) is not str or not _HEX64.match(sealed):
        raise SealError("SEAL.format", "sealed 须为 64 位小写十六进制，且只用于有内部字段的类型",
                        "sealed must be 64 lowercase hex digits, on a type with internal "
                        "fields")
    if opening is None:
        raise SealError("SEAL.missing", "封存值没有对应的开启值（内部存储缺失）",
                        "no opening for the sealed fields (missing from the internal store)")
    names = set(opening.fields)
    if not names <= set(sealable) or not set(required) <= names:
        raise SealError("SEAL.opening", f"开启值的字段 {sorted(names)} 不是 {type_} 应封存的字段",
                        f"the opening's fields {sorted(names)} are not what a {type_} "
                        f"seals ({', '.join(sealable)})")
    if not hmac.compare_digest(commitment(type_, stream, opening), sealed):
        raise SealError("SEAL.opening", "开启值与封存值不符（内容、盐或所属条目不对）",
                        "the opening does not open the sealed value (wrong fields, salt or "
                        "entry)")
    out = {k: v for k, v in body.items() if k != "sealed"}
    out.update(opening.fields)
    return out

