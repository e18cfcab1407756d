"""C2SP signed notes, checkpoints and Ed25519 cosignatures.

Implements signed-note v1.0.0 (Ed25519, type 0x01), tlog-checkpoint v1.0.0 and the
Ed25519 form of tlog-cosignature v1.0.1 (type 0x04). Parsing is strict: every encoding
must be the canonical one, so a given note has exactly one accepted byte string and a
malformed one fails with a FormatError that names the line, never a stray ValueError.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from verifier._errors import FormatError, SignatureError, TrustError

__all__ = [
    "COSIGNATURE_TYPE",
    "ED25519_TYPE",
    "MAX_SIGNATURES",
    "Checkpoint",
    "Note",
    "NoteSignature",
    "NoteSigner",
    "NoteVerifier",
    "cosign",
    "cosignature_message",
    "key_id",
    "parse_checkpoint",
    "parse_note",
    "sign_note",
    "verify_cosignatures",
    "verify_note",
]

ED25519_TYPE = 0x01
COSIGNATURE_TYPE = 0x04
_SIGTYPES = (ED25519_TYPE, COSIGNATURE_TYPE)
MAX_SIGNATURES = 100  # the spec asks verifiers to bound this and accept at least 16
MAX_TIMESTAMP = 2**63 - 1
_SIG_PREFIX = "\u2014 "
_CONTROL_RE = re.compile(r"[\x00-\x09\x0b-\x1f]")
_ANY_CONTROL_RE = re.compile(r"[\x00-\x1f]")
_DECIMAL_RE = re.compile(r"0|[1-9][0-9]*")
_HEX8_RE = re.compile(r"[0-9a-f]{8}")


def _b64decode(text: str, what: str) -> bytes:
    """Strict standard base64: padded, canonical (re-encodes to the same text)."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise FormatError(f"{what}: not valid base64") from None
    if base64.b64encode(raw).decode() != text:
        raise FormatError(f"{what}: not canonical base64")
    return raw


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _check_name(name: str, what: str) -> None:
    """Key names: non-empty, no Unicode spaces, no '+', no control characters."""
    if not name:
        raise FormatError(f"{what}: key name is empty")
    if "+" in name or any(c.isspace() for c in name) or _CONTROL_RE.search(name):
        raise FormatError(f"{what}: key name {name!r} contains a space, '+' or control "
                          "character")
    try:
        name.encode()
    except UnicodeEncodeError:
        raise FormatError(f"{what}: key name is not valid Unicode") from None


def key_id(name: str, sigtype: int, public_key: bytes) -> bytes:
    """The 4-byte key ID: SHA-256(name || 0x0A || sigtype || public key)[:4].

    It commits to the name and the signature type, so one key cannot be confused across
    names or between note signatures and cosignatures.
    """
    return hashlib.sha256(name.encode() + b"\n" + bytes([sigtype]) + public_key).digest()[:4]


def _split_key(text: str, what: str) -> tuple[str, bytes, int, bytes]:
    """Parse ``<name>+<hex8 id>+<base64(type || key)>`` shared by vkeys and skeys."""
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise FormatError(f"{what}: not <name>+<key id>+<base64 key>")
    name, hex_id, b64 = parts
    _check_name(name, what)
    if not _HEX8_RE.fullmatch(hex_id):
        raise FormatError(f"{what}: key id {hex_id!r} is not 8 lowercase hex digits")
    raw = _b64decode(b64, f"{what}: key")
    if len(raw) != 33:
        raise FormatError(f"{what}: key is {len(raw)} bytes, expected a type byte and 32 "
                          "bytes of Ed25519 key")
    if raw[0] not in _SIGTYPES:
        raise FormatError(f"{what}: signature type 0x{raw[0]:02x} is not supported "
                          "(0x01 Ed25519, 0x04 Ed25519 cosignature)")
    return name, bytes.fromhex(hex_id), raw[0], raw[1:]


@dataclass(frozen=True)
class NoteVerifier:
    """A trusted public key, identified in signature lines by (name, key_id)."""

    name: str
    sigtype: int
    key_id: bytes
    public_key: bytes

    def __post_init__(self) -> None:
        _check_name(self.name, "verifier key")
        if self.sigtype not in _SIGTYPES:
            raise FormatError(f"verifier key {self.name}: signature type {self.sigtype} is not "
                              "supported")
        if len(self.public_key) != 32:
            raise FormatError(f"verifier key {self.name}: public key is "
                              f"{len(self.public_key)} bytes, not 32")
        if self.key_id != key_id(self.name, self.sigtype, self.public_key):
            raise FormatError(f"verifier key {self.name}: key id {self.key_id.hex()} does "
                              "not match the key")
        try:
            _ = self._key  # load now, so a bad key fails here and not inside verify()
        except ValueError:
            raise FormatError(f"verifier key {self.name}: not an Ed25519 public key") from None

    @cached_property
    def _key(self) -> Ed25519PublicKey:
        """The loaded key, built once (cached_property writes ``__dict__``, frozen or not)."""
        return Ed25519PublicKey.from_public_bytes(self.public_key)

    @classmethod
    def from_vkey(cls, text: str) -> NoteVerifier:
        """Parse a vkey ``<name>+<hex8 id>+<base64(type || key)>``, checking the id."""
        name, kid, sigtype, public = _split_key(text, "vkey")
        if kid != key_id(name, sigtype, public):
            raise FormatError(f"vkey: key id {kid.hex()} does not match the key")
        return cls(name, sigtype, kid, public)

    @property
    def vkey(self) -> str:
        """The vkey text form."""
        return f"{self.name}+{self.key_id.hex()}+{_b64(bytes([self.sigtype]) + self.public_key)}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this key's Ed25519 signature over ``message``."""
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


class NoteSigner:
    """A private key that signs notes (type 0x01) or cosigns checkpoints (type 0x04)."""

    __slots__ = ("_key", "_verifier")

    def __init__(self, name: str, private_key: Ed25519PrivateKey,
                 sigtype: int = ED25519_TYPE) -> None:
        public = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self._key = private_key
        self._verifier = NoteVerifier(name, sigtype, key_id(name, sigtype, public), public)

    @classmethod
    def generate(cls, name: str, sigtype: int = ED25519_TYPE) -> NoteSigner:
        """A fresh random key."""
        return cls(name, Ed25519PrivateKey.generate(), sigtype)

    @classmethod
    def from_skey(cls, text: str) -> NoteSigner:
        """Parse ``PRIVATE+KEY+<name>+<hex8 id>+<base64(type || 32-byte seed)>``."""
        prefix = "PRIVATE+KEY+"
        if not text.startswith(prefix):
            raise FormatError("skey: does not start with PRIVATE+KEY+")
        name, kid, sigtype, seed = _split_key(text[len(prefix):], "skey")
        signer = cls(name, Ed25519PrivateKey.from_private_bytes(seed), sigtype)
        if signer.verifier.key_id != kid:
            raise FormatError(f"skey: key id {kid.hex()} does not match the key")
        return signer

    @property
    def name(self) -> str:
        """The key name used in signature lines."""
        return self._verifier.name

    @property
    def sigtype(self) -> int:
        """0x01 for note signatures, 0x04 for cosignatures."""
        return self._verifier.sigtype

    @property
    def verifier(self) -> NoteVerifier:
        """The matching public key."""
        return self._verifier

    @property
    def skey(self) -> str:
        """The skey text form (a secret: keep it out of logs)."""
        seed = self._key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        v = self._verifier
        return f"PRIVATE+KEY+{v.name}+{v.key_id.hex()}+{_b64(bytes([v.sigtype]) + seed)}"

    def sign(self, message: bytes) -> bytes:
        """The raw 64-byte Ed25519 signature over ``message``."""
        return self._key.sign(message)

    def __repr__(self) -> str:
        return f"NoteSigner({self._verifier.vkey!r})"


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: the key name, its 4-byte id and the signature after the id."""

    name: str
    key_id: bytes
    signature: bytes

    @property
    def line(self) -> str:
        """The signature line, newline included."""
        return f"{_SIG_PREFIX}{self.name} {_b64(self.key_id + self.signature)}\n"


@dataclass(frozen=True)
class Note:
    """A parsed signed note: the signed text (ending in a newline) and its signatures."""

    text: str
    signatures: tuple[NoteSignature, ...]

    @property
    def data(self) -> str:
        """The note as text: the signed text, a blank line, the signature lines."""
        return self.text + "\n" + "".join(s.line for s in self.signatures)


def _check_text(text: str, first_line: int = 1) -> None:
    """Reject what signed-note forbids: non-UTF-8 (lone surrogates) and control characters."""
    try:
        text.encode()
    except UnicodeEncodeError as exc:
        line = text.count("\n", 0, exc.start) + first_line
        raise FormatError(f"line {line}: not valid Unicode") from None
    bad = _CONTROL_RE.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + first_line
        raise FormatError(f"line {line}: control character U+{ord(bad.group()):04X}")


def sign_note(text: str, signers: Sequence[NoteSigner]) -> str:
    """Sign ``text`` (which must end with a newline) with each of ``signers`` in order."""
    if not text.endswith("\n"):
        raise FormatError("note text does not end with a newline")
    _check_text(text)
    if not signers:
        raise TrustError("no signer given for the note")
    message = text.encode()
    lines = []
    for signer in signers:
        if signer.sigtype != ED25519_TYPE:
            raise TrustError(f"signer {signer.name} is a cosignature key: use cosign()")
        sig = NoteSignature(signer.name, signer.verifier.key_id, signer.sign(message))
        lines.append(sig.line)
    return text + "\n" + "".join(lines)


def _decode(data: str | bytes, first_line: int = 1) -> str:
    """Strict UTF-8 decoding, FormatError naming the line of the first bad byte."""
    if isinstance(data, str):
        return data
    try:
        return data.decode()
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + first_line
        raise FormatError(f"line {line}: not UTF-8") from None


def _parse_note(raw: str | bytes, first_line: int = 1) -> Note:
    """``parse_note`` with line numbers starting at ``first_line`` (for embedded notes)."""
    data = _decode(raw, first_line)
    _check_text(data, first_line)
    if not data.endswith("\n"):
        raise FormatError("note does not end with a newline")
    split = data.rfind("\n\n")
    if split < 0:
        raise FormatError("note has no blank line before its signatures")
    text = data[:split + 1]
    block = data[split + 2:]
    if not block:
        raise FormatError("note has no signature lines after its last blank line")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise FormatError(f"note has {len(lines)} signatures, over the limit of "
                          f"{MAX_SIGNATURES}")
    lineno = text.count("\n") + 1 + first_line
    sigs = []
    for line in lines:
        where = f"line {lineno}"
        if not line.startswith(_SIG_PREFIX):
            raise FormatError(f"{where}: signature line does not start with an em dash "
                              "and a space")
        parts = line[len(_SIG_PREFIX):].split(" ")
        if len(parts) != 2:
            raise FormatError(f"{where}: signature line is not '\u2014 <name> <base64>'")
        name, b64 = parts
        _check_name(name, where)
        raw = _b64decode(b64, f"{where}: signature")
        if len(raw) < 5:
            raise FormatError(f"{where}: signature is {len(raw)} bytes, too short for a key "
                              "id and a signature")
        sigs.append(NoteSignature(name, raw[:4], raw[4:]))
        lineno += 1
    return Note(text, tuple(sigs))


def parse_note(data: str | bytes) -> Note:
    """Parse a signed note strictly; FormatError names the line at fault.

    The text is everything up to the last blank line (it may contain blank lines itself);
    every line after it must be a well-formed signature line.
    """
    return _parse_note(data)


def _known(keys: Sequence[NoteVerifier], sigtype: int) -> dict[tuple[str, bytes], NoteVerifier]:
    return {(k.name, k.key_id): k for k in keys if k.sigtype == sigtype}


def verify_note(note: Note, verifiers: Sequence[NoteVerifier]) -> list[NoteVerifier]:
    """The verifiers whose signatures on ``note`` verify, per signed-note rules.

    Signatures by unknown keys (name and id not both matching) are ignored, so logs can
    rotate keys and witnesses can add cosignatures; a bad signature by a known key, or a
    note no known key signed, raises SignatureError. Cosignature keys (0x04) sign a
    different message, so they are skipped here: see ``verify_cosignatures``.
    """
    known = _known(verifiers, ED25519_TYPE)
    if not known:
        raise TrustError("no note verifier key (type 0x01) given")
    message = note.text.encode()
    good: list[NoteVerifier] = []
    for sig in note.signatures:
        v = known.get((sig.name, sig.key_id))
        if v is None:
            continue
        if v in good:
            raise FormatError(f"note has two signatures by key {v.name}")
        if not v.verify(message, sig.signature):
            raise SignatureError(f"signature by key {v.name} ({v.key_id.hex()}) does not "
                                 "verify")
        good.append(v)
    if not good:
        names = ", ".join(sorted(k.name for k in known.values()))
        raise SignatureError(f"note is not signed by any trusted key ({names})")
    return good


@dataclass(frozen=True)
class Checkpoint:
    """A tlog-checkpoint body: origin, tree size, root hash and extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or _ANY_CONTROL_RE.search(self.origin):
            raise FormatError("checkpoint origin: empty or contains a control character")
        if not 0 <= self.size < 2**64:
            raise FormatError(f"checkpoint size {self.size}: not an unsigned 64-bit integer")
        if len(self.root) != 32:
            raise FormatError(f"checkpoint root: {len(self.root)} bytes, not 32")
        for i, ext in enumerate(self.extensions):
            if not ext or _ANY_CONTROL_RE.search(ext):
                raise FormatError(f"checkpoint extension {i}: empty or contains a control "
                                  "character")

    @property
    def text(self) -> str:
        """The note text of this checkpoint."""
        lines = [self.origin, str(self.size), _b64(self.root), *self.extensions]
        return "\n".join(lines) + "\n"


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a checkpoint note text strictly; FormatError names the line at fault."""
    return _parse_checkpoint(text)


def _parse_checkpoint(text: str, first_line: int = 1) -> Checkpoint:
    """``parse_checkpoint`` with line numbers starting at ``first_line``."""
    if not text.endswith("\n"):
        raise FormatError("checkpoint does not end with a newline")
    _check_text(text, first_line)
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise FormatError(f"checkpoint has {len(lines)} lines, needs origin, size and root")
    origin, size, root = lines[:3]
    if not origin:
        raise FormatError(f"line {first_line}: checkpoint origin is empty")
    if not _DECIMAL_RE.fullmatch(size) or len(size) > 20 or int(size) >= 2**64:
        raise FormatError(f"line {first_line + 1}: tree size {size!r} is not a decimal "
                          "without leading zeros below 2^64")
    raw_root = _b64decode(root, f"line {first_line + 2}: root hash")
    if len(raw_root) != 32:
        raise FormatError(f"line {first_line + 2}: root hash is {len(raw_root)} bytes, not 32")
    for i, ext in enumerate(lines[3:], first_line + 3):
        if not ext:
            raise FormatError(f"line {i}: empty extension line")
    return Checkpoint(origin, int(size), raw_root, tuple(lines[3:]))


def cosignature_message(checkpoint_text: str, timestamp: int) -> bytes:
    """What an Ed25519 cosigner signs: a header, the time, then the checkpoint text."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise FormatError(f"cosignature timestamp {timestamp} not within 0..2^63-1")
    return f"cosignature/v1\ntime {timestamp}\n".encode() + checkpoint_text.encode()


def cosign(checkpoint_text: str, signer: NoteSigner, timestamp: int) -> str:
    """One cosignature line over a (valid) checkpoint: key id || u64 time || signature."""
    if signer.sigtype != COSIGNATURE_TYPE:
        raise TrustError(f"signer {signer.name} is not a cosignature (type 0x04) key")
    parse_checkpoint(checkpoint_text)
    sig = signer.sign(cosignature_message(checkpoint_text, timestamp))
    payload = timestamp.to_bytes(8, "big") + sig
    return NoteSignature(signer.name, signer.verifier.key_id, payload).line


def verify_cosignatures(note: Note, witnesses: Sequence[NoteVerifier]) -> dict[str, int]:
    """Witness name -> timestamp for each trusted witness whose cosignature verifies.

    Unknown cosigners are ignored; a known witness whose cosignature is malformed or does
    not verify raises SignatureError. Policy (how many witnesses are enough) is the
    caller's.
    """
    for w in witnesses:
        if w.sigtype != COSIGNATURE_TYPE:
            raise TrustError(f"witness key {w.name} is not a cosignature (type 0x04) key")
    known = _known(witnesses, COSIGNATURE_TYPE)
    out: dict[str, int] = {}
    for sig in note.signatures:
        cosigner = known.get((sig.name, sig.key_id))
        if cosigner is None:
            continue
        name = cosigner.name
        if name in out:
            raise FormatError(f"note has two cosignatures by witness {name}")
        if len(sig.signature) != 72:
            raise SignatureError(f"cosignature by {name}: {len(sig.signature) + 4} bytes, "
                                 "an Ed25519 cosignature is 76")
        timestamp = int.from_bytes(sig.signature[:8], "big")
        if timestamp > MAX_TIMESTAMP:
            raise SignatureError(f"cosignature by {name}: timestamp over 2^63-1")
        if not cosigner.verify(cosignature_message(note.text, timestamp), sig.signature[8:]):
            raise SignatureError(f"cosignature by {name} ({cosigner.key_id.hex()}) does not "
                                 "verify")
        out[name] = timestamp
    return out
