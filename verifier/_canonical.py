"""Canonical JSON (SPEC.md section 2): RFC 8785 over a restricted profile.

Inside the profile (no floats, ASCII object keys, NFC strings, integers within +-2^53)
RFC 8785 serialisation equals ``json.dumps`` with sorted keys, no whitespace and raw
UTF-8, so the fast C encoder produces it; ``check`` enforces the profile first.

Two codecs give the same bytes and the same verdicts. The standard library's is the
reference. ``orjson`` (the ``orjson`` extra), when installed, is used first because it
is several times faster; it is trusted only where it is exact: its encoding with sorted
keys equals the reference inside the profile (``tests/test_codec.py`` proves it over the
vectors and generated values), and a parse it accepts is one the reference accepts with
the same value (it rejects lone surrogates, a BOM and invalid UTF-8 itself; floats,
integers beyond 2^53-1, deep nesting and the Unicode rules are checked here). Anything
it refuses or is unsure of goes to the reference path, which gives the verdict and the
message. ``DRAWLEDGER_CODEC=stdlib`` (or ``use_codec("stdlib")``) forces the reference.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections.abc import Callable
from typing import Any

from verifier._errors import CanonicalError

__all__ = ["CODEC_ENV", "MAX_INT", "MAX_INT_DIGITS", "NOT_CANONICAL", "UNSURE",
           "bounded_int", "canonical", "check", "check_unicode", "codec", "decode_json",
           "decode_text", "dumps", "encode_text", "fast_loads_canonical", "loads",
           "loads_canonical", "reference_encode", "use_codec"]

MAX_INT = 2**53
_encoder = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                            allow_nan=False)
reference_encode = _encoder.encode
CODEC_ENV = "DRAWLEDGER_CODEC"

try:  # an optional accelerator: the verifier needs only the standard library
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the install
    _orjson = None  # type: ignore[assignment]

# The active fast codec: (loads, dumps with sorted keys and the 53-bit integer check, its
# encode error), or None for the reference path alone.
_Fast = tuple[Callable[[Any], Any], Callable[[Any], bytes], type[Exception]]
_fast: _Fast | None = None


def _orjson_codec() -> _Fast | None:
    if _orjson is None:
        return None
    option = _orjson.OPT_SORT_KEYS | _orjson.OPT_STRICT_INTEGER
    orjson_dumps = _orjson.dumps

    def encode(obj: Any) -> bytes:
        return orjson_dumps(obj, option=option)
    return _orjson.loads, encode, _orjson.JSONEncodeError


def use_codec(name: str | None = None) -> str:
    """Choose the codec: ``"stdlib"`` (the reference), ``"orjson"`` (when installed), or
    None for the default (``$DRAWLEDGER_CODEC``, else orjson when installed). Returns
    the codec now in use; asking for orjson without it installed gives the reference."""
    global _fast
    if name is None:
        name = os.environ.get(CODEC_ENV, "orjson").strip().lower() or "orjson"
    _fast = _orjson_codec() if name == "orjson" else None
    return codec()


def codec() -> str:
    """The codec in use: ``"orjson"`` or ``"stdlib"``."""
    return "stdlib" if _fast is None else "orjson"


def dumps(obj: Any) -> bytes:
    """Serialise ``obj`` that is already known to be inside the profile (no checks)."""
    fast = _fast
    if fast is not None:
        try:
            return fast[1](obj)
        except fast[2]:
            pass  # an integer at +-2^53, a key that is not a string: the reference decides
    return reference_encode(obj).encode()


def loads(data: bytes | str) -> Any:
    """Plain JSON parsing of data this program wrote itself (no profile checks)."""
    fast = _fast
    return json.loads(data) if fast is None else fast[0](data)


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
    fast = _fast
    if fast is not None:
        try:
            return fast[1](obj).decode()
        except fast[2]:
            pass
    return reference_encode(obj)


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
    if _fast is not None:
        obj = fast_loads_canonical(data)
        if obj is not UNSURE:
            return obj
    text = decode_text(data)
    obj = decode_json(text)
    if reference_encode(obj) != text:
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


UNSURE: Any = object()  # what fast_loads_canonical returns when the reference must judge
_SCALARS = frozenset({str, int, bool, type(None)})


def _no_floats(values: Any) -> bool:
    """No float anywhere in ``values`` (a list or a dict's values): the types of each
    container's values are taken in one C call, and only containers are entered."""
    kinds = set(map(type, values))
    if kinds <= _SCALARS:
        return True
    if float in kinds:
        return False
    for value in values:
        kind = type(value)
        if (kind is dict and not _no_floats(value.values())) \
                or (kind is list and not _no_floats(value)):
            return False
    return True


def fast_loads_canonical(data: bytes, *, unicode: bool = True) -> Any:
    """The value of canonical ``data`` through the fast codec, or ``UNSURE`` whenever the
    reference path must judge (not canonical, outside the profile, or a case the fast
    codec is not trusted with). Never accepts what ``loads_canonical`` rejects, and
    returns the very value it would. ``unicode=False`` leaves the NFC and ASCII-key
    checks to the caller (who knows which part of the value can hold other keys).

    What the reference rejects while parsing is checked here after: nesting (counted
    first, as the reference does), floats (by type: a canonical float re-encodes to its
    own text, so the comparison cannot see it), integers beyond 2^53-1 (the encoder's
    53-bit check; +-2^53 itself goes to the reference). orjson itself refuses lone
    surrogates, escaped or not, a byte-order mark and bytes that are not UTF-8.
    """
    fast = _fast
    if fast is None or data.count(b"[") + data.count(b"{") > MAX_DEPTH:
        return UNSURE
    try:
        obj = fast[0](data)
        if fast[1](obj) != data:
            return UNSURE
    except (ValueError, fast[2]):  # orjson's decode error is a ValueError
        return UNSURE
    kind = type(obj)
    if (kind is dict and not _no_floats(obj.values())) or (kind is list and not _no_floats(obj)) \
            or kind is float:
        return UNSURE  # the reference names it
    if unicode and not data.isascii():
        try:
            check_unicode(data.decode(), obj)
        except CanonicalError:
            return UNSURE
    return obj


use_codec()
