"""Canonical JSON (SPEC.md section 2): RFC 8785 over a restricted profile.

Inside the profile (no floats, ASCII object keys, NFC strings, integers within +-2^53)
RFC 8785 serialisation equals ``json.dumps`` with sorted keys, no whitespace and raw
UTF-8, so the fast C encoder produces it; ``check`` enforces the profile first.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from verifier._errors import CanonicalError

__all__ = ["MAX_INT", "MAX_INT_DIGITS", "NOT_CANONICAL", "bounded_int", "canonical", "check",
           "check_unicode", "decode_json", "decode_text", "dumps", "encode_text",
           "loads_canonical"]

MAX_INT = 2**53
_encoder = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                            allow_nan=False)


def dumps(obj: Any) -> bytes:
    """Serialise ``obj`` that is already known to be inside the profile (no checks)."""
    return _encoder.encode(obj).encode()


def check(obj: Any, path: str = "$") -> None:
    """Raise CanonicalError naming the JSON path of the first value outside the profile."""
    if obj is None or obj is True or obj is False:
        return
    if isinstance(obj, int):
        if not -MAX_INT <= obj <= MAX_INT:
            raise CanonicalError(f"{path}: integer {obj} outside +-2^53")
        return
    if isinstance(obj, str):
        if not obj.isascii() and not unicodedata.is_normalized("NFC", obj):
            raise CanonicalError(f"{path}: string is not in Unicode NFC")
        return
    if isinstance(obj, list | tuple):
        for i, item in enumerate(obj):
            check(item, f"{path}[{i}]")
        return
    if isinstance(obj, dict):
        for key, value in obj.items():
            if not isinstance(key, str) or not key.isascii():
                raise CanonicalError(f"{path}: object key {key!r} is not an ASCII string")
            check(value, f"{path}.{key}")
        return
    if isinstance(obj, float):
        raise CanonicalError(f"{path}: floats are not allowed (use integer ppm)")
    raise CanonicalError(f"{path}: {type(obj).__name__} is not a JSON value")


def canonical(obj: Any) -> bytes:
    """Check ``obj`` against the profile and return its canonical bytes."""
    check(obj)
    return dumps(obj)


def _reject_float(text: str) -> Any:
    raise CanonicalError(f"number {text} is not an integer (floats are not allowed)")


def _reject_constant(text: str) -> Any:
    raise CanonicalError(f"{text} is not JSON")


# 2^53 has 16 digits. Counting digits before int() matters: Python refuses to convert a
# literal over 4,300 digits with a ValueError, which would escape as a traceback.
MAX_INT_DIGITS = len(str(MAX_INT))


def bounded_int(text: str) -> int:
    """A JSON integer literal within +-2^53, or CanonicalError (never ValueError)."""
    digits = len(text) - text.startswith("-")
    if digits > MAX_INT_DIGITS:
        shown = text if len(text) <= 24 else f"{text[:20]}...({digits} digits)"
        raise CanonicalError(f"integer {shown} outside +-2^53")
    value = int(text)
    if not -MAX_INT <= value <= MAX_INT:
        raise CanonicalError(f"integer {text} outside +-2^53")
    return value


_decoder = json.JSONDecoder(parse_float=_reject_float, parse_int=bounded_int,
                            parse_constant=_reject_constant)


NOT_CANONICAL = ("not in canonical form (key order, whitespace, escapes or duplicate keys "
                 "differ from RFC 8785)")


def decode_text(data: bytes) -> str:
    """UTF-8 text of ``data`` or CanonicalError naming the first bad byte."""
    try:
        return data.decode()
    except UnicodeDecodeError as exc:
        raise CanonicalError(f"not UTF-8 (byte {exc.start})") from None


MAX_DEPTH = 64  # entries nest about 6 deep; the parser must never meet C-stack limits
# A JSON string literal, written as an unrolled loop (runs of plain characters between
# escapes): the same language as '"(?:[^"\\]|\\.)*"', scanned about 2.5 times faster.
_STRING_RE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET_RE = re.compile(r"[^\[\]{}]+")


def _depth(text: str) -> int:
    depth = deepest = 0
    for ch in _NOT_BRACKET_RE.sub("", _STRING_RE.sub("", text)):
        depth += 1 if ch in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def decode_json(text: str) -> Any:
    """Parse JSON text, rejecting floats, NaN/Infinity and integers beyond +-2^53.

    Nesting is bounded before parsing (most text has too few brackets to need the scan),
    not left to the interpreter's recursion limit, which other libraries may raise.
    """
    if text.count("[") + text.count("{") > MAX_DEPTH and _depth(text) > MAX_DEPTH:
        raise CanonicalError(f"JSON nested too deeply (over {MAX_DEPTH} levels)")
    try:
        return _decoder.decode(text)
    except json.JSONDecodeError as exc:
        raise CanonicalError(f"not JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise CanonicalError("JSON nested too deeply") from None


def encode_text(obj: Any) -> str:
    """The canonical text of a parsed value (no profile checks: it came from JSON)."""
    return _encoder.encode(obj)


def check_unicode(text: str, obj: Any) -> None:
    """For non-ASCII text: strings in NFC and every object key in ``obj`` ASCII.

    Checking NFC on the whole canonical text is equivalent to checking each string: the
    canonical form escapes only ASCII characters and JSON syntax characters never compose.
    """
    if not unicodedata.is_normalized("NFC", text):
        raise CanonicalError("a string is not in Unicode NFC")
    bad = _non_ascii_key(obj)
    if bad is not None:
        raise CanonicalError(f"object key {bad!r} is not ASCII")


def loads_canonical(data: bytes) -> Any:
    """Parse ``data`` and prove it is exactly the canonical encoding of what it holds.

    Re-encoding and comparing catches whitespace, key order, duplicate keys and escapes in
    one C call.
    """
    text = decode_text(data)
    obj = decode_json(text)
    if _encoder.encode(obj) != text:
        raise CanonicalError(NOT_CANONICAL)
    if not text.isascii():
        check_unicode(text, obj)
    return obj


def _non_ascii_key(obj: Any) -> str | None:
    """The first object key anywhere in ``obj`` that is not ASCII, if any."""
    if type(obj) is dict:
        if not "".join(obj).isascii():
            return str(next(k for k in obj if not k.isascii()))
        values: Any = obj.values()
    elif type(obj) is list:
        values = obj
    else:
        return None
    for value in values:
        if type(value) is dict or type(value) is list:
            found = _non_ascii_key(value)
            if found is not None:
                return found
    return None
