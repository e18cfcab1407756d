"""Log entries and department statements (SPEC.md sections 3 and 4).

An entry is the canonical JSON of nine fields. Its hash, SHA-256(0x00 || bytes), is both
the next entry's ``prev`` and the entry's leaf in the RFC 9162 Merkle tree, so one hash
serves the chain and the proofs. The ``sig`` field carries the submitting party's
Ed25519 signature over its statement, which the log cannot forge or alter.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from verifier._canonical import (
    NOT_CANONICAL,
    UNSURE,
    check,
    check_unicode,
    decode_json,
    decode_text,
    dumps,
    fast_loads_canonical,
    reference_encode,
)
from verifier._errors import CanonicalError, FormatError

__all__ = [
    "BATCH_PREFIX",
    "ENTRY_FIELDS",
    "GENESIS_PREV",
    "MAX_ENTRY_BYTES",
    "SIG_FIELDS",
    "STATEMENT_PREFIX",
    "STATEMENT_STATE_FIELDS",
    "TIME_RE",
    "Entry",
    "batch_message",
    "entry_hash",
    "make_entry",
    "parse_entry",
    "splice_statement",
    "statement_bytes",
]

ENTRY_FIELDS = ("actor", "body", "prev", "seq", "sig", "stream", "time", "type", "version")
STATEMENT_STATE_FIELDS = ("actor", "body", "sig", "type")
SIG_FIELDS = ("ctime", "key", "sid", "value")
STATEMENT_PREFIX = b"drawledger/statement/v1\n"
BATCH_PREFIX = b"drawledger/batch/v1\n"
GENESIS_PREV = "0" * 64
MAX_ENTRY_BYTES = 1 << 20
# Log receive time: Asia/Shanghai, fixed width so that string order is time order.
# [0-9], not \d: \d also matches non-ASCII digits, which would break string order.
_TIME = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}\+08:00"
# The signer's clock (SPEC.md section 4): RFC 3339 narrowed to what every RFC 3339 parser
# reads the same way: upper-case T and Z, 1-6 fraction digits, fields in range, no leap
# second; _ctime_date_ok adds the real-date check (29..31 and year 0000).
_CTIME = (r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
          r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?"
          r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])")
_TYPE = r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+"
_SIG_VALUE = r"[A-Za-z0-9+/]{85}[AQgw]=="
TIME_RE = re.compile(rf"\A{_TIME}\Z")
_CTIME_RE = re.compile(rf"\A{_CTIME}\Z")
_TYPE_RE = re.compile(rf"\A{_TYPE}\Z")
_HEX64_RE = re.compile(r"\A[0-9a-f]{64}\Z")
# 64 bytes are 86 base64 digits (the last carrying 4 zero bits) and "==".
_SIG_VALUE_RE = re.compile(rf"\A{_SIG_VALUE}\Z")
# All five string formats of an entry in one match (the hot path); on a mismatch the
# individual checks below name the field.
_SHAPE_RE = re.compile(rf"\A[0-9a-f]{{64}}\n{_TIME}\n{_TYPE}\n{_CTIME}\n{_SIG_VALUE}\Z")
_ENTRY_KEYS = frozenset(ENTRY_FIELDS)
_SIG_KEYS = frozenset(SIG_FIELDS)


def _ctime_date_ok(ctime: str) -> bool:
    """Whether a ctime the grammar matched names a real day: only days 29-31 and year
    0000 need the calendar, so the common case costs two string comparisons."""
    if ctime[8:10] <= "28" and not ctime.startswith("0000"):
        return True
    try:
        date.fromisoformat(ctime[:10])
    except ValueError:
        return False
    return True


def entry_hash(entry: bytes) -> bytes:
    """RFC 9162 leaf hash of an entry's exact bytes."""
    return hashlib.sha256(b"\x00" + entry).digest()


def statement_bytes(type_: str, stream: str, actor: str, body: Any, sig: dict[str, Any]) -> bytes:
    """The bytes a party signs: the prefix, then the canonical statement.

    The prefix separates these signatures from every other use of the same key; the key
    name is inside so a signature cannot be re-attributed to another key.
    """
    return STATEMENT_PREFIX + dumps({
        "actor": actor, "body": body, "ctime": sig["ctime"], "key": sig["key"],
        "sid": sig["sid"], "stream": stream, "type": type_,
    })


def splice_statement(raw: bytes) -> bytes:
    """``statement_bytes`` of a canonical entry, cut from its bytes (no encoding).

    The canonical entry is ``{"actor":A,"body":B,"prev":..,"seq":..,"sig":{"ctime":C,
    "key":K,"sid":S,"value":..},"stream":ST,"time":..,"type":TY,"version":..}`` and the
    statement is ``{"actor":A,"body":B,"ctime":C,"key":K,"sid":S,"stream":ST,"type":TY}``:
    the same members, each encoded the same wherever it stands, in the same sorted order.
    Inside a string every quote is escaped, so ``,"name":`` with a bare quote is always a
    key: the entry's own ``prev`` and ``type`` are the last such keys (the body comes
    before them), and ``sig``, ``value``, ``stream`` and ``time`` the first after prev.
    """
    prev_at = raw.rfind(b',"prev":"')
    sig_at = raw.index(b',"sig":{', prev_at)
    value_at = raw.index(b',"value":"', sig_at)
    stream_at = raw.index(b',"stream":"', value_at)
    time_at = raw.index(b',"time":"', stream_at)
    type_at = raw.rfind(b',"type":"')
    version_at = raw.rfind(b',"version":')
    return b"".join((STATEMENT_PREFIX, raw[:prev_at], b",", raw[sig_at + 8:value_at],
                     raw[stream_at:time_at], raw[type_at:version_at], b"}"))


def batch_message(key: str, batch_id: str, ctime: str, count: int, digest: bytes) -> bytes:
    """What a batch signature signs (SPEC.md section 4.2): one signature for ``count``
    member statements, through the SHA-256 of their statement digests in order."""
    return BATCH_PREFIX + dumps({"count": count, "ctime": ctime, "digest": digest.hex(),
                                 "key": key, "sid": batch_id})


def make_entry(seq: int, prev: bytes, time: str, stream: str, version: int,
               state: dict[str, Any]) -> bytes:
    """Entry bytes for a stored statement ``state`` (actor, body, sig, type) at ``seq``."""
    obj = dict(state)
    obj["seq"] = seq
    obj["prev"] = prev.hex()
    obj["time"] = time
    obj["stream"] = stream
    obj["version"] = version
    return dumps(obj)


@dataclass(slots=True)
class Entry:
    """A parsed entry; ``raw`` is the exact bytes and ``hash`` their leaf hash.

    Never changed once made, yet not ``frozen``: a frozen dataclass takes eight times as
    long to build (4 us here), a fair share of what the audit spends per entry."""

    seq: int
    prev: str
    time: str
    stream: str
    version: int
    type: str
    actor: str
    body: Any
    sig: dict[str, Any]
    raw: bytes
    hash: bytes
    # ``raw`` was proven the canonical encoding of these fields (``parse_entry``), so the
    # statement's members can be cut from it rather than encoded again.
    canonical: bool = False

    def signed_bytes(self) -> bytes:
        """The statement bytes the ``sig.value`` signature must verify over."""
        if self.canonical:
            return splice_statement(self.raw)
        return statement_bytes(self.type, self.stream, self.actor, self.body, self.sig)

    def signature(self) -> bytes:
        """The 64-byte Ed25519 signature (validated by ``parse_entry``)."""
        return base64.b64decode(self.sig["value"])


def parse_entry(raw: bytes) -> Entry:
    """Parse one entry's bytes, enforcing the canonical profile and every field's type.

    Raises FormatError (or CanonicalError) naming the field at fault. This is the audit's
    hot path: the common case costs one decode, one re-encode and one regex match (with
    the fast codec, both in the one ``fast_loads_canonical``; any doubt and the reference
    path below judges and words the error).
    """
    if len(raw) > MAX_ENTRY_BYTES:
        raise FormatError(f"entry is {len(raw)} bytes, over the {MAX_ENTRY_BYTES}-byte limit")
    obj = fast_loads_canonical(raw, unicode=False)
    if obj is UNSURE or type(obj) is not dict or obj.keys() != _ENTRY_KEYS \
            or type(obj["body"]) is not dict:
        obj = _reference_entry(raw)
    elif not raw.isascii():
        try:
            # The entry's own keys and sig's are fixed ASCII names: only the body has others.
            check_unicode(raw.decode(), obj["body"])
        except CanonicalError:
            obj = _reference_entry(raw)
    body = obj["body"]
    seq, version, sig = obj["seq"], obj["version"], obj["sig"]
    if type(seq) is not int or seq < 0:
        raise FormatError("field seq: not a non-negative integer")
    if type(version) is not int or version < 1:
        raise FormatError("field version: not a positive integer")
    stream, actor, prev, time, type_ = (obj["stream"], obj["actor"], obj["prev"], obj["time"],
                                        obj["type"])
    for name, value in (("stream", stream), ("actor", actor)):
        if type(value) is not str or not value or len(value) > 256:
            raise FormatError(f"field {name}: not a non-empty string of at most 256 characters")
    try:
        shape = f"{prev}\n{time}\n{type_}\n{sig['ctime']}\n{sig['value']}"
        fast = (type(sig) is dict and sig.keys() == _SIG_KEYS and type(sig["key"]) is str
                and type(sig["sid"]) is str and bool(sig["key"]) and bool(sig["sid"])
                and _SHAPE_RE.match(shape) is not None and _ctime_date_ok(sig["ctime"]))
    except (TypeError, KeyError):
        fast = False
    if not fast:
        if type(prev) is not str or not _HEX64_RE.match(prev):
            raise FormatError("field prev: not 64 lowercase hex digits")
        if type(time) is not str or not TIME_RE.match(time):
            raise FormatError("field time: not YYYY-MM-DDThh:mm:ss.ffffff+08:00")
        if type(type_) is not str or not _TYPE_RE.match(type_):
            raise FormatError("field type: not a dotted lowercase event type")
        parse_sig(sig)
    return Entry(seq, prev, time, stream, version, type_, actor, body, sig, raw,
                 hashlib.sha256(b"\x00" + raw).digest(), True)


def _reference_entry(raw: bytes) -> dict[str, Any]:
    """The entry object by the reference codec, or the error naming what is wrong."""
    text = decode_text(raw)
    obj = decode_json(text)
    if type(obj) is not dict:
        raise FormatError("entry is not a JSON object")
    if obj.keys() != _ENTRY_KEYS:
        missing = sorted(set(ENTRY_FIELDS) - set(obj))
        extra = sorted(set(obj) - set(ENTRY_FIELDS))
        raise FormatError(f"entry fields wrong: missing {missing}, unexpected {extra}")
    if reference_encode(obj) != text:
        raise CanonicalError(NOT_CANONICAL)
    body = obj["body"]
    if type(body) is not dict:
        raise FormatError("field body: not a JSON object")
    if not text.isascii():
        # The entry's own keys and sig's are fixed ASCII names: only the body has others.
        check_unicode(text, body)
    return obj


def parse_sig(sig: Any) -> dict[str, Any]:
    """Validate the ``sig`` object of an entry or submission."""
    if type(sig) is not dict or sig.keys() != _SIG_KEYS:
        raise FormatError(f"field sig: must be an object with exactly {list(SIG_FIELDS)}")
    for name in SIG_FIELDS:
        if type(sig[name]) is not str or not sig[name]:
            raise FormatError(f"field sig.{name}: not a non-empty string")
    if not _CTIME_RE.match(sig["ctime"]) or not _ctime_date_ok(sig["ctime"]):
        raise FormatError("field sig.ctime: not a real time YYYY-MM-DDThh:mm:ss[.ffffff] "
                          "with Z or +hh:mm/-hh:mm (SPEC.md section 4)")
    if not _SIG_VALUE_RE.match(sig["value"]):
        raise FormatError("field sig.value: not the padded base64 of a 64-byte Ed25519 "
                          "signature")
    return sig


def check_state(state: Any) -> dict[str, Any]:
    """Validate a statement state (what a submission carries) before it is stored."""
    if type(state) is not dict or set(state) != set(STATEMENT_STATE_FIELDS):
        raise FormatError(f"statement must have exactly the fields {list(STATEMENT_STATE_FIELDS)}")
    try:
        check(state)
    except CanonicalError as exc:
        raise CanonicalError(f"statement {exc}") from None
    if type(state["type"]) is not str or not _TYPE_RE.match(state["type"]):
        raise FormatError("field type: not a dotted lowercase event type")
    if type(state["actor"]) is not str or not state["actor"]:
        raise FormatError("field actor: not a non-empty string")
    if type(state["body"]) is not dict:
        raise FormatError("field body: not a JSON object")
    parse_sig(state["sig"])
    return state
