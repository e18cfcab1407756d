"""RFC 3797 verifiable selection (SPEC.md section 13.2): the key string and the picks.

Public lottery results are randomness that a Chinese auditor can check without any
foreign service, and RFC 3797 is the published, independently implemented recipe for
turning them into picks from a publicly numbered pool. MD5 is kept because the RFC fixes
it: outcomes must match other implementations byte for byte, and collisions do not help
anyone when nobody chooses the lottery numbers.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from decimal import Decimal

from verifier._errors import FormatError

__all__ = ["MAX_POOL", "digest", "key_string", "select"]

MAX_POOL = 0xFFFF  # the reference code counts in an unsigned short
_DECIMAL = re.compile(r"([0-9]+)(?:\.([0-9]+))?")


def _number(value: object, where: str) -> tuple[Decimal, str]:
    """A source value and its key-string form: an integer as its digits and ".", a real
    as whole part "." fraction with the fraction's trailing zeros removed (RFC 3797 section
    4 and its reference code), so an integral real is written like the integer."""
    if isinstance(value, bool):
        raise FormatError(f"{where}: a boolean is not a number")
    if isinstance(value, int):
        if value < 0:
            raise FormatError(f"{where}: {value} is negative")
        return Decimal(value), f"{value}."
    if isinstance(value, float):
        if not math.isfinite(value) or value < 0:
            raise FormatError(f"{where}: {value!r} is not a finite non-negative number")
        text = format(Decimal(repr(value)), "f")  # the shortest decimal that round-trips
    elif isinstance(value, str):
        text = value
    else:
        raise FormatError(f"{where}: {type(value).__name__} is not a number")
    m = _DECIMAL.fullmatch(text)
    if m is None:
        raise FormatError(f"{where}: {value!r} is not a decimal number like 17 or 17.25")
    whole = str(int(m.group(1)))
    fraction = (m.group(2) or "").rstrip("0")
    form = f"{whole}.{fraction}" if fraction else f"{whole}."
    return Decimal(f"{whole}.{fraction or '0'}"), form


def key_string(sources: Sequence[Sequence[int | float | str]]) -> str:
    """The RFC 3797 key string: per source, in the given order, its numbers sorted
    ascending and written one after another, then "/".

    Integers (or decimal strings, which are exact: prefer them for reals) must be
    non-negative; floats are taken at their shortest round-trip decimal. E.g.
    ``[[9319], [2, 5, 12, 8, 10]]`` gives ``"9319./2.5.8.10.12./"``.
    """
    if isinstance(sources, str | bytes) or not isinstance(sources, Sequence) or not sources:
        raise FormatError("lottery sources: not a non-empty list of lists of numbers")
    out: list[str] = []
    for i, source in enumerate(sources):
        if isinstance(source, str | bytes) or not isinstance(source, Sequence) or not source:
            raise FormatError(f"lottery source {i}: not a non-empty list of numbers")
        numbers = sorted(_number(v, f"lottery source {i}, value {j}")
                         for j, v in enumerate(source))
        out.extend(form for _, form in numbers)
        out.append("/")
    return "".join(out)


def _key_bytes(key: str) -> bytes:
    if not isinstance(key, str) or not key:
        raise FormatError("key string: not a non-empty string")
    if not key.isascii():
        raise FormatError("key string: not ASCII")
    return key.encode("ascii")


def digest(key: str, i: int) -> bytes:
    """MD5(u16be(i) || key || u16be(i)): the hash behind selection ``i`` (0-based)."""
    if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < MAX_POOL:
        raise FormatError(f"selection index {i!r}: not an integer in 0..{MAX_POOL - 1}")
    return _digest(_key_bytes(key), i)


def _digest(key: bytes, i: int) -> bytes:
    bracket = i.to_bytes(2, "big")
    return hashlib.md5(bracket + key + bracket, usedforsecurity=False).digest()


def select(key: str, pool_size: int, k: int) -> list[int]:
    """The first ``k`` picks from a pool publicly numbered 1..``pool_size``.

    Pick ``i`` takes MD5(u16be(i) || key || u16be(i)) as a 128-bit big-endian integer
    modulo the number of members not yet picked, and picks the member at that 0-based
    position among them in public order.
    """
    data = _key_bytes(key)
    if isinstance(pool_size, bool) or not isinstance(pool_size, int) \
            or not 1 <= pool_size <= MAX_POOL:
        raise FormatError(f"pool size {pool_size!r}: not an integer in 1..{MAX_POOL}")
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= pool_size:
        raise FormatError(f"selection count {k!r}: not an integer in 0..{pool_size}")
    remaining = list(range(1, pool_size + 1))
    picks = []
    for i in range(k):
        n = int.from_bytes(_digest(data, i), "big") % len(remaining)
        picks.append(remaining.pop(n))
    return picks
