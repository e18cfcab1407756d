"""The trust policy an auditor pins (SPEC.md section 8).

Keys are never taken from the data being verified: the genesis entry must repeat exactly
what the policy pins, so a log that rewrites its genesis is caught.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from verifier._beacon import KNOWN_CHAINS, Chain
from verifier._canonical import canonical, decode_json, decode_text, encode_text
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
    beacons: tuple[Chain, ...] = field(default=())  # beyond the pinned League of Entropy

    @staticmethod
    def builtin_chains() -> dict[str, Chain]:
        return {c.chain_hash: c for c in KNOWN_CHAINS.values()}

    def chains(self) -> dict[str, Chain]:
        """Every beacon chain trusted, by chain hash: the League of Entropy chains pinned
        in the verifier and those the policy adds (a dev chain only when named here)."""
        known = {c.chain_hash: c for c in KNOWN_CHAINS.values()}
        known.update({c.chain_hash: c for c in self.beacons})
        return known

    def to_json(self) -> dict[str, Any]:
        """The trust.json object (SPEC.md section 8)."""
        return {
            "version": 1,
            "origin": self.origin,
            "log_key": self.log_key.vkey,
            "authority_keys": [k.vkey for k in self.authority_keys],
            "witnesses": [w.vkey for w in self.witnesses],
            "quorum": self.quorum,
            **({"beacons": [chain_to_json(c) for c in self.beacons]} if self.beacons else {}),
        }

    def canonical_bytes(self) -> bytes:
        """trust.json as the log publishes it: the canonical JSON (section 2) of
        ``to_json``, so that one policy has one byte string and one fingerprint."""
        return canonical(self.to_json())

    def fingerprint(self) -> str:
        """SHA-256 (hex) of ``canonical_bytes``: what a plan publication or a witness
        prints, so anyone can pin trust.json from a channel the log does not control."""
        return hashlib.sha256(self.canonical_bytes()).hexdigest()


def chain_to_json(chain: Chain) -> dict[str, Any]:
    return {"name": chain.name, "chain_hash": chain.chain_hash, "scheme": chain.scheme,
            "public_key": chain.public_key, "genesis": chain.genesis, "period": chain.period}


def chain_from_json(obj: Any, where: str) -> Chain:
    if not isinstance(obj, dict):
        raise FormatError(f"{where}: not an object")
    try:
        return Chain(str(obj["name"]), str(obj["chain_hash"]), str(obj["scheme"]),
                     str(obj["public_key"]), obj["genesis"], obj["period"])
    except (KeyError, TypeError, FormatError) as exc:
        raise FormatError(f"{where}: {exc}") from None


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
    beacons = obj.get("beacons", [])
    if not isinstance(beacons, list):
        raise FormatError("trust.beacons: not a list")
    chains = tuple(chain_from_json(b, f"trust.beacons[{i}]") for i, b in enumerate(beacons))
    return Trust(origin, log_key, authority, witnesses, quorum, chains)


def load_trust(data: bytes) -> Trust:
    """Parse trust.json bytes with the canonical parser's bounds (integers within +-2^53,
    counted before conversion; nesting; no NaN), so a crafted file is a usage error, never
    a traceback. The file itself need not be in canonical form."""
    try:
        obj = decode_json(decode_text(data))
        encode_text(obj).encode()
    except FormatError as exc:
        raise FormatError(f"trust.json: {exc}") from None
    except UnicodeEncodeError:  # "\udc00" escaped: parses, but is no text to print or compare
        raise FormatError("trust.json: a string holds a lone surrogate (not Unicode text)") \
            from None
    return parse_trust(obj)


def require(trust: Trust | None) -> Trust:
    """Fail closed when a check needs trust inputs that were not given."""
    if trust is None:
        raise TrustError("no trust policy: pass --trust FILE or --log-key/--authority-key")
    return trust
