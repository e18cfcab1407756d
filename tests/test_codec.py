"""The two codecs of verifier._canonical give the same bytes and the same verdicts.

The standard library is the reference (SPEC.md section 2). orjson, when installed, is
used first and trusted only where it is exact: these tests hold it to the reference over
every vector, over generated values of the canonical profile and over near-canonical
inputs, and show the traps where orjson alone would accept what the profile rejects.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verifier import CanonicalError, VerifierError, parse_entry, statement_bytes
from verifier import _canonical as codec
from verifier._canonical import UNSURE, dumps, fast_loads_canonical, loads_canonical
from verifier._entry import splice_statement

orjson = pytest.importorskip("orjson")

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "vectors"
MAX_INT = 2**53


@pytest.fixture
def each_codec() -> Iterator[Callable[[str], None]]:
    """Switch codecs within a test; the default is restored after it."""
    yield codec.use_codec
    codec.use_codec()


def _reference_dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                      allow_nan=False).encode()


def _verdict(data: bytes, name: str) -> tuple[str, Any]:
    """("ok", value and its bytes) or ("error", message) of loads_canonical under a codec."""
    codec.use_codec(name)
    try:
        value = loads_canonical(data)
    except CanonicalError as exc:
        return "error", str(exc)
    finally:
        codec.use_codec()
    return "ok", (value, _reference_dumps(value))


def _same_verdicts(data: bytes) -> None:
    assert _verdict(data, "orjson") == _verdict(data, "stdlib"), data
    fast = fast_loads_canonical(data) if codec.codec() == "orjson" else UNSURE
    if fast is not UNSURE:  # whatever the fast path accepts, the reference accepts alike
        assert _verdict(data, "stdlib") == ("ok", (fast, _reference_dumps(fast)))


# -- forcing each path ---------------------------------------------------------------------

def _codec_in_fresh_process(env_value: str | None, block_orjson: bool = False) -> str:
    env = {k: v for k, v in os.environ.items() if k != codec.CODEC_ENV}
    if env_value is not None:
        env[codec.CODEC_ENV] = env_value
    code = ("import sys\n"
            + ("sys.modules['orjson'] = None\n" if block_orjson else "")
            + "from verifier._canonical import codec\nprint(codec())")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=ROOT, env=env).stdout.strip()


def test_the_environment_variable_forces_each_codec() -> None:
    assert _codec_in_fresh_process(None) == "orjson"
    assert _codec_in_fresh_process("orjson") == "orjson"
    assert _codec_in_fresh_process("stdlib") == "stdlib"


def test_without_orjson_installed_the_reference_codec_runs() -> None:
    assert _codec_in_fresh_process("orjson", block_orjson=True) == "stdlib"


def test_use_codec_switches_the_path_taken(each_codec: Callable[[str], str]) -> None:
    """The same canonical bytes parse through orjson (fast path taken) or the reference
    (fast path never taken), to the same value."""
    data = b'{"a":[1,"\xe4\xb8\xad",null,true],"b":{}}'
    assert each_codec("stdlib") == "stdlib"
    assert fast_loads_canonical(data) is UNSURE
    by_stdlib = loads_canonical(data)
    assert each_codec("orjson") == "orjson"
    assert fast_loads_canonical(data) == by_stdlib == loads_canonical(data)


def test_audit_of_an_export_is_the_same_under_each_codec(tmp_path: Path) -> None:
    """A whole audit (every entry parsed, every statement signature over spliced bytes)
    gives the same JSON report through either codec, in fresh processes: of an honest
    export, and of one with a float, a space and a changed character in three entries."""
    from tests.helpers import build_export, copy_export, read_entries, write_entries

    honest, _ = build_export(tmp_path / "honest")
    tampered = copy_export(honest, tmp_path / "tampered")
    lines = read_entries(tampered)
    lines[20] = lines[20].replace(b'"version":', b'"version": ', 1)
    lines[30] = lines[30].replace(b'"seq":30', b'"seq":30.0', 1)
    lines[40] = lines[40].replace(b'"time":"', b'"time":"x', 1)
    write_entries(tampered, lines)
    for export, exit_code in ((honest, 0), (tampered, 2)):
        reports = []
        for name in ("stdlib", "orjson"):
            env = {**os.environ, codec.CODEC_ENV: name}
            proc = subprocess.run([sys.executable, "-m", "verifier", "audit", str(export),
                                   "--json"], capture_output=True, cwd=ROOT, env=env)
            assert proc.returncode == exit_code, proc.stderr
            reports.append(proc.stdout)
        assert reports[0] == reports[1]
        assert exit_code == 0 or b"floats are not allowed" in reports[0]


# -- the vectors ---------------------------------------------------------------------------

def _vector_values() -> Iterator[tuple[str, Any]]:
    """Every JSON value of every vector file, and every string in them that is JSON."""
    for path in sorted(VECTORS.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        stack: list[tuple[str, Any]] = [(path.name, doc)]
        while stack:
            where, value = stack.pop()
            yield where, value
            if isinstance(value, dict):
                stack.extend((f"{where}.{k}", v) for k, v in value.items())
            elif isinstance(value, list):
                stack.extend((f"{where}[{i}]", v) for i, v in enumerate(value))


def _json_texts() -> Iterator[tuple[str, bytes]]:
    for where, value in _vector_values():
        if isinstance(value, str) and value[:1] in ("{", "["):
            yield where, value.encode("utf-8", "surrogatepass")
    items = json.loads((VECTORS / "clarifications-v1.json").read_text(encoding="utf-8"))
    for item in items["canonical"]:
        data = (bytes.fromhex(item["hex"]) if "hex" in item
                else item["text"].encode("utf-8", "surrogatepass"))
        yield f"canonical {item['why']}", data


def test_every_vector_value_encodes_alike() -> None:
    count = 0
    for where, value in _vector_values():
        if isinstance(value, float) or (isinstance(value, int) and abs(value) > MAX_INT):
            continue
        assert orjson.dumps(value, option=orjson.OPT_SORT_KEYS) == _reference_dumps(value), \
            where
        assert dumps(value) == _reference_dumps(value), where
        count += 1
    assert count > 1000


def test_every_vector_text_gets_the_same_verdict() -> None:
    texts = list(_json_texts())
    assert len(texts) > 40
    for _, data in texts:
        _same_verdicts(data)


def test_every_vector_entry_parses_alike_and_splices_its_statement(
        each_codec: Callable[[str], str]) -> None:
    entries = [item["entry"].encode() for item in
               json.loads((VECTORS / "entry-v1.json").read_text(encoding="utf-8"))["entries"]]
    clar = json.loads((VECTORS / "clarifications-v1.json").read_text(encoding="utf-8"))
    entries += [e["entry"].encode() for e in clar["batch"]["entries"]]
    for raw in entries:
        each_codec("stdlib")
        ref = parse_entry(raw)
        each_codec("orjson")
        fast = parse_entry(raw)
        assert fast == ref
        assert fast.signed_bytes() == statement_bytes(ref.type, ref.stream, ref.actor,
                                                      ref.body, ref.sig)


# -- generated values over the canonical profile --------------------------------------------

# Every code point but the surrogates, with the characters the profile treats specially
# drawn often: escapes, control characters, DEL, U+2028/U+2029, "/", the BOM, non-BMP.
_SPECIAL = "\"\\/\x00\x01\x08\t\n\x0b\x0c\r\x1f\x7f\x80\x9f\u2028\u2029\ufeff\U0001f600é中e\u0301"
_text = st.text(st.characters(blacklist_categories=("Cs",)) | st.sampled_from(_SPECIAL),
                max_size=24).map(lambda s: unicodedata.normalize("NFC", s))
_ints = st.integers(-MAX_INT, MAX_INT) | st.sampled_from(
    [0, 1, -1, MAX_INT, -MAX_INT, MAX_INT - 1, -MAX_INT + 1, 2**31, 2**32, -(2**31)])
_keys = st.text(st.characters(max_codepoint=127), max_size=8)
profile = st.recursive(
    st.none() | st.booleans() | _ints | _text,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(_keys, inner, max_size=5),
    max_leaves=30)
_QUICK = settings(max_examples=400, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow])


@_QUICK
@given(profile)
def test_generated_values_encode_alike(value: Any) -> None:
    assert orjson.dumps(value, option=orjson.OPT_SORT_KEYS) == _reference_dumps(value)
    assert dumps(value) == _reference_dumps(value)


@_QUICK
@given(profile)
def test_generated_canonical_bytes_parse_alike(value: Any) -> None:
    data = _reference_dumps(value)
    assert _verdict(data, "orjson") == _verdict(data, "stdlib") == ("ok", (value, data))


# A value's canonical bytes spliced between these: mostly no longer canonical.
_AROUND = {
    "float": (b'{"f":', b',"x":1.0}'), "big": (b"[", b",9007199254740993]"),
    "huge": (b"[", b",18446744073709551616]"), "surrogate": (b"[", b',"\\ud800"]'),
    "nfd": (b"[", b',"e\xcc\x81"]'), "key": (b'{"\xc3\xa9":', b"}"),
    "bom": (b"\xef\xbb\xbf", b""),
}


def _near_canonical(value: Any, how: str) -> bytes:
    """Bytes close to the canonical encoding of ``value``, mostly not canonical."""
    if how == "ascii":
        return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    if how == "spaced":
        return json.dumps(value, ensure_ascii=False, sort_keys=True).encode()
    if how == "unsorted":
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    head, tail = _AROUND[how]
    return head + _reference_dumps(value) + tail


@_QUICK
@given(profile, st.sampled_from(["ascii", "spaced", "unsorted", *_AROUND]))
def test_generated_near_canonical_bytes_get_the_same_verdict(value: Any, how: str) -> None:
    _same_verdicts(_near_canonical(value, how))


# -- the traps: orjson alone would accept what the profile rejects ---------------------------

def _naive(data: bytes) -> bool:
    """A verifier that trusted orjson's parse and compared its re-encoding."""
    try:
        return bool(orjson.dumps(orjson.loads(data), option=orjson.OPT_SORT_KEYS) == data)
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        return False


@pytest.mark.parametrize("data, why", [
    (b'{"a":1.5}', "floats"),
    (b'{"a":[1,{"b":1.0}]}', "floats"),
    (b'{"a":1e+16}', "floats"),
    (b'{"a":9007199254740993}', r"2\^53"),
    (b'{"a":-9007199254740993}', r"2\^53"),
    (b'{"a":18446744073709551615}', r"2\^53"),
    (b'{"a":"e\xcc\x81"}', "NFC"),
    (b'{"\xc3\xa9":1}', "ASCII"),
])
def test_orjson_trap_is_refused_as_the_reference_refuses_it(
        data: bytes, why: str, each_codec: Callable[[str], str]) -> None:
    """Each of these re-encodes through orjson to its very bytes: orjson's parse and a
    comparison alone would take it. The fast path hands it to the reference, which names
    the rule."""
    assert _naive(data), "orjson alone accepts it"
    each_codec("orjson")
    assert fast_loads_canonical(data) is UNSURE
    with pytest.raises(CanonicalError, match=why):
        loads_canonical(data)


def test_orjson_codec_accepts_the_integer_bounds_as_the_reference_does(
        each_codec: Callable[[str], str]) -> None:
    """orjson's 53-bit check stops at 2^53-1; the profile includes +-2^53, which the
    reference path then accepts, so no honest entry is refused."""
    each_codec("orjson")
    data = b"[9007199254740992,-9007199254740992]"
    assert loads_canonical(data) == [MAX_INT, -MAX_INT]
    assert dumps([MAX_INT, -MAX_INT]) == data


@pytest.mark.parametrize("data", [
    b'"\\ud800"', b'"\\udc00"', b'"\xed\xa0\x80"', b"\xef\xbb\xbf{}", b'{"a":NaN}',
    b'{"a":Infinity}', b'{"a":1,"a":1}', b'{"a":-0}', b" {}", b"[" * 65 + b"]" * 65,
])
def test_what_orjson_parses_differently_gets_the_reference_verdict(data: bytes) -> None:
    _same_verdicts(data)
    assert _verdict(data, "orjson")[0] == "error"


# -- statement bytes spliced from the entry --------------------------------------------------

_TRICKY = ['","prev":"', ',"type":"x"', ',"sig":{"', ',"value":"', ',"stream":"',
           ',"time":"', '\\",\\"prev\\":\\"', '"}', "\\", "中"]
_bodies = st.dictionaries(
    st.sampled_from(["prev", "type", "sig", "value", "stream", "time", "version", "seq",
                     "actor", "body", "a", "z"]),
    st.recursive(st.sampled_from(_TRICKY) | _text | _ints,
                 lambda inner: st.lists(inner, max_size=3)
                 | st.dictionaries(st.sampled_from(["prev", "type", "sig", "value", "k"]),
                                   inner, max_size=3), max_leaves=10),
    max_size=6)


@_QUICK
@given(_bodies, st.sampled_from([*_TRICKY, "inspection/x"]))
def test_a_body_that_mimics_the_entry_members_cannot_move_the_splice(
        body: dict[str, Any], text: str) -> None:
    """Keys named like the entry's own members and strings holding their JSON, in the
    body, the stream and the sid: the statement cut from the entry is still exactly
    the encoded statement."""
    sig = {"ctime": "2026-01-02T03:04:05Z", "key": "k" + text, "sid": text or "s",
           "value": "A" * 86 + "=="}
    entry = {"actor": "D" + text, "body": body, "prev": "0" * 64, "seq": 7, "sig": sig,
             "stream": "s" + text, "time": "2026-01-02T11:04:05.000000+08:00",
             "type": "a.b", "version": 3}
    raw = _reference_dumps(entry)
    assert splice_statement(raw) == statement_bytes("a.b", entry["stream"], entry["actor"],
                                                    body, sig)


def test_splice_needs_a_parsed_entry() -> None:
    """Only an entry parse_entry proved canonical is spliced; others are encoded."""
    with pytest.raises(VerifierError):
        parse_entry(b'{"actor":"A"}')
