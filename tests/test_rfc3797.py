"""RFC 3797: the section 6 worked example byte for byte, the number forms of the key
string, and input validation.

tests/vectors/rfc3797.json is the RFC's example (sources, key string, the ten MD5 values
and picks); the MD5 values also match the reference code's ref.results.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from verifier._errors import FormatError
from verifier._rfc3797 import MAX_POOL, digest, key_string, select

RFC = json.loads((Path(__file__).parent / "vectors" / "rfc3797.json").read_text())


def test_worked_example_key_string() -> None:
    assert key_string(RFC["sources"]) == RFC["key_string"]


def test_worked_example_hashes_and_picks() -> None:
    key = RFC["key_string"]
    rows = RFC["selections"]
    assert digest(key, 0).hex().upper() == "990DD0A5692A029A98B5E01AA28F3459"
    for row in rows:
        h = digest(key, row["i"])
        assert h.hex().upper() == row["md5"]
        assert row["remaining"] == RFC["pool_size"] - row["i"]
    assert select(key, RFC["pool_size"], len(rows)) == [r["selected"] for r in rows]


def naive_select(key: str, pool: int, k: int) -> list[int]:
    """Straight from the RFC's description, sharing no code with verifier._rfc3797."""
    left = list(range(1, pool + 1))
    out = []
    for i in range(k):
        b = bytes([i >> 8, i & 0xFF])
        n = int(hashlib.md5(b + key.encode() + b).hexdigest(), 16) % len(left)
        out.append(left[n])
        del left[n]
    return out


@pytest.mark.parametrize(("pool", "k"), [(1, 1), (2, 2), (7, 3), (300, 300), (MAX_POOL, 5)])
def test_agrees_with_a_naive_model(pool: int, k: int) -> None:
    key = f"{pool}./{k}.7.9./"
    picks = select(key, pool, k)
    assert picks == naive_select(key, pool, k)
    assert len(set(picks)) == k and all(1 <= p <= pool for p in picks)
    assert select(key, pool, k - 1) == picks[:-1]  # a pick never depends on later ones


def test_selecting_nothing_or_everything() -> None:
    assert select("1./", 10, 0) == []
    assert sorted(select("1./", 10, 10)) == list(range(1, 11))


@pytest.mark.parametrize(("sources", "key"), [
    ([[3, 1, 2]], "1.2.3./"),
    ([[9319]], "9319./"),
    ([[0, 10, 9]], "0.9.10./"),  # numeric order, not text order; zero is a number
    ([[7, 7, 1]], "1.7.7./"),  # repeats kept (digit games)
    ([[1.25], [5, 3], [8]], "1.25/3.5./8./"),  # a real has no trailing period
    ([["17.50", "17.0", "0.5", "007"]], "0.57.17.17.5/"),
    ([[0.1, 2.5e-7]], "0.000000250.1/"),  # floats at their shortest round-trip decimal
    ([[1e20]], "100000000000000000000./"),
    ([(2, 1)], "1.2./"),
])
def test_key_string_forms(sources: Any, key: str) -> None:
    assert key_string(sources) == key


@pytest.mark.parametrize("sources", [
    [],
    [[]],
    "9319",
    ["9319"],
    [[-1]],
    [[True]],
    [[float("nan")]],
    [[float("inf")]],
    [[-0.5]],
    [["1e5"]],
    [[" 12"]],
    [["1."]],
    [["١٢"]],  # non-ASCII digits
    [[None]],
])
def test_key_string_rejects(sources: Any) -> None:
    with pytest.raises(FormatError):
        key_string(sources)


@pytest.mark.parametrize(("key", "pool", "k"), [
    ("", 10, 1),
    ("１./", 10, 1),  # full-width digit: the key is ASCII
    ("1./", 0, 0),
    ("1./", MAX_POOL + 1, 1),
    ("1./", 10, 11),
    ("1./", 10, -1),
    ("1./", True, 1),
    ("1./", 10, 1.0),
])
def test_select_rejects(key: str, pool: Any, k: Any) -> None:
    with pytest.raises(FormatError):
        select(key, pool, k)


def test_digest_index_is_two_bytes() -> None:
    assert digest("1./", MAX_POOL - 1) == hashlib.md5(b"\xff\xfe1./\xff\xfe").digest()
    with pytest.raises(FormatError):
        digest("1./", MAX_POOL)
