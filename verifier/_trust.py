"""The trust policy an auditor pins (SPEC.md section 8).

Keys are never taken from the data being verified: the genesis entry must repeat exactly
what the policy pins, so a log that rewrites its genesis is caught.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from verifier._errors import FormatError, TrustError
from verifier._note import NoteVerifier

__all__ = ["Trust", "load_trust", "parse_trust"]


@dataclass(frozen=True)
class Trust:
    """Pinned trust inputs: log origin and key, authority keys, witnesses and quorum."""

    origin: str
    log_key: NoteVerifier
    authority_keys: tuple[NoteVerifier, ...]
    witnesses: tuple[NoteVerifier, ...] = field(default=())
    quorum: int = 0

    def to_json(self) -> dict[str, Any]:
        """The trust.json object (SPEC.md section 8)."""
        return {
            "version": 1,
            "origin": self.origin,
            "log_key": self.log_key.vkey,
            "authority_keys": [k.vkey for k in self.authority_keys],
            "witnesses": [w.vkey for w in self.witnesses],
            "quorum": self.quorum,
        }


def _vkey(value: Any, where: str) -> NoteVerifier:
    if not isinstance(value, str):
        raise FormatError(f"{where}: not a vkey string")
    try:
        return NoteVerifier.from_vkey(value)
    except FormatError as exc:
        raise FormatError(f"{where}: {exc}") from None


def parse_trust(obj: Any) -> Trust:
    """Build a Trust from the trust.json object, naming the field at fault."""
    if not isinstance(obj, dict):
        raise FormatError("trust: not a JSON object")
    if obj.get("version") != 1:
        raise FormatError("trust.version: must be 1")
    origin = obj.get("origin")
    if not isinstance(origin, str) or not origin:
        raise FormatError("trust.origin: not a non-empty string")
    log_key = _vkey(obj.get("log_key"), "trust.log_key")
    auth = obj.get("authority_keys")
    if not isinstance(auth, list) or not auth:
        raise FormatError("trust.authority_keys: not a non-empty list")
    authority = tuple(_vkey(k, f"trust.authority_keys[{i}]") for i, k in enumerate(auth))
    wit = obj.get("witnesses", [])
    if not isinstance(wit, list):
        raise FormatError("trust.witnesses: not a list")
    witnesses = tuple(_vkey(k, f"trust.witnesses[{i}]") for i, k in enumerate(wit))
    quorum = obj.get("quorum", 0)
    if type(quorum) is not int or not 0 <= quorum <= len(witnesses):
        raise FormatError(f"trust.quorum: not an integer between 0 and {len(witnesses)}")
    return Trust(origin, log_key, authority, witnesses, quorum)


def load_trust(data: bytes) -> Trust:
    """Parse trust.json bytes."""
    try:
        obj = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(f"trust.json: not JSON ({exc})") from None
    return parse_trust(obj)


def require(trust: Trust | None) -> Trust:
    """Fail closed when a check needs trust inputs that were not given."""
    if trust is None:
        raise TrustError("no trust policy: pass --trust FILE or --log-key/--authority-key")
    return trust
