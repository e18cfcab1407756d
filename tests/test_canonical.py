"""The canonical JSON profile: RFC 8785 examples inside the profile, and every rejection."""

from __future__ import annotations

import json
import random
import re

import pytest

from verifier import CanonicalError, canonical, loads_canonical
from verifier._canonical import _STRING_RE


def test_rfc8785_string_example() -> None:
    # RFC 8785 section 3.2.2 input, without its floating-point "numbers" member (outside
    # the profile): the expected output is the RFC's, minus that member.
    text = ('{"string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", '
            '"literals": [null, true, false]}')
    expected = '{"literals":[null,true,false],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    assert canonical(json.loads(text)) == expected.encode()


def test_rfc8785_sorting_within_ascii_keys() -> None:
    # RFC 8785 section 3.2.3 sorts by UTF-16 code units; for ASCII keys that is byte order.
    obj = {"\r": "Carriage Return", "1": "One", "a": 1, "A": 2, "_": 3}
    assert canonical(obj) == b'{"\\r":"Carriage Return","1":"One","A":2,"_":3,"a":1}'


def test_control_characters_and_raw_unicode() -> None:
    obj = {"s": "\x00\x1f\x7f\u2028\u2029/中文"}
    assert canonical(obj) == '{"s":"\\u0000\\u001f\x7f\u2028\u2029/中文"}'.encode()


@pytest.mark.parametrize("value, why", [
    (1.5, "floats"), (float("nan"), "floats"), (2**53 + 1, r"2\^53"), (-(2**53) - 1, r"2\^53"),
    ({"é": 1}, "ASCII"), ({1: 2}, "ASCII"), ("e\u0301", "NFC"), (b"x", "bytes"),
])
def test_values_outside_the_profile(value: object, why: str) -> None:
    with pytest.raises(CanonicalError, match=why):
        canonical({"v": value})


def test_integer_bounds_inclusive() -> None:
    assert canonical([2**53, -(2**53)]) == b"[9007199254740992,-9007199254740992]"


@pytest.mark.parametrize("data, why", [
    (b'{"b":1,"a":2}', "canonical"), (b'{"a": 1}', "canonical"), (b'{"a":1,"a":1}', "canonical"),
    (b'{"a":"\\u00e9"}', "canonical"), (b'{"a":1.0}', "floats"), (b'{"a":1e3}', "floats"),
    (b'{"a":NaN}', "NaN"), (b'{"a":-0}', "canonical"), (b'{"a":9007199254740993}', r"2\^53"),
    (b'{"a":"e\xcc\x81"}', "NFC"), (b'{"\xc3\xa9":1}', "ASCII"), (b"\xff", "UTF-8"),
    (b'{"a":', "not JSON"), (b"[" * 100000, "deep"),
])
def test_loads_rejects(data: bytes, why: str) -> None:
    with pytest.raises(CanonicalError, match=why):
        loads_canonical(data)


def test_loads_roundtrip() -> None:
    obj = {"z": [1, {"y": None, "x": True}], "a": "中文\n"}
    assert loads_canonical(canonical(obj)) == obj


def test_string_scan_is_the_plain_pattern_unrolled() -> None:
    """The depth scan's string pattern strips exactly what the textbook pattern strips,
    on random text heavy in quotes, backslashes and brackets."""
    plain = re.compile(r'"(?:[^"\\]|\\.)*"')
    rng = random.Random(6962)
    for _ in range(3000):
        text = "".join(rng.choice('"\\\\a[{]}\n中"') for _ in range(rng.randrange(40)))
        assert _STRING_RE.sub("", text) == plain.sub("", text), text
